"""``clearinghouse run``: serve one node with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from node.app import create_app
from node.cli._common import fail, stderr
from node.clock import SystemClock
from node.context import open_node
from node.errors import NodeError
from node.settings import Settings, load_settings

__all__ = ["load_or_fail", "run"]


def load_or_fail(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except FileNotFoundError as exc:
        fail(str(exc))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        fail(f"settings: {problems}")


def run(
    config: Annotated[
        Path | None, typer.Option(help="TOML config file (else CLEARINGHOUSE_* variables).")
    ] = None,
) -> None:
    """Serve one node: check manifest, key and database, then listen."""
    settings = load_or_fail(config)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format='{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s",'
        '"message":"%(message)s"}',
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per peer call is noise
    try:  # fail fast, with the setting named, before uvicorn starts
        context = open_node(settings, SystemClock())
    except NodeError as exc:
        fail(exc.detail)
    stderr.print(f"{settings.participant}: listening on http://{settings.host}:{settings.port}")
    uvicorn.run(
        create_app(settings, context=context),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
