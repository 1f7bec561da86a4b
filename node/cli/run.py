"""``clearinghouse run``: serve one node with uvicorn, logging JSON lines (:mod:`node.logs`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError

from clearinghouse.node.app import create_app
from clearinghouse.node.cli._common import fail, validation_problems
from clearinghouse.node.clock import Clock, OffsetClock, SystemClock
from clearinghouse.node.errors import NodeError
from clearinghouse.node.logs import configure_logging
from clearinghouse.node.malloc_arenas import limit_malloc_arenas
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.startup import open_node

__all__ = ["load_or_fail", "run"]

log = logging.getLogger("clearinghouse.node")


def load_or_fail(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except FileNotFoundError as exc:
        fail(str(exc))
    except SettingsError as exc:  # a _FILE variable or a JSON value that cannot be used
        fail(f"settings: {exc}")
    except ValidationError as exc:
        fail(f"settings: {validation_problems(exc)}")


def run(
    config: Annotated[
        Path | None, typer.Option(help="TOML config file (else CLEARINGHOUSE_* variables).")
    ] = None,
) -> None:
    """Serve one node: check manifest, key and database, then listen. Logs are JSON lines
    on stderr (uvicorn's too); see README.md, "Observability"."""
    limit_malloc_arenas()  # before any thread starts (node/malloc_arenas.py)
    settings = load_or_fail(config)
    try:
        configure_logging(settings.log_level, settings.participant)
    except ValueError as exc:
        fail(f"settings: log_level: {exc}")
    clock: Clock = SystemClock()
    if settings.clock_offset_s:
        clock = OffsetClock(timedelta(seconds=settings.clock_offset_s))
        log.warning("clock shifted by %+.3f s (clock_offset_s)", settings.clock_offset_s)
    try:  # fail fast, with the setting named, before uvicorn starts
        context = open_node(settings, clock)
    except NodeError as exc:
        log.critical("cannot start: %s", exc.detail)
        raise typer.Exit(2) from None
    uvicorn.run(
        create_app(settings, context=context),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep configure_logging's handler: uvicorn's lines are JSON too
        log_level=settings.log_level.lower(),
        access_log=False,  # RequestIdMiddleware writes the access log (settings.access_log)
        # X-Forwarded-For is read by the node from settings.trusted_proxies only, not by
        # uvicorn (which by default believes it from 127.0.0.1)
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
