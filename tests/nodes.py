"""Nodes for tests: a local federation, its nodes opened or served in this process, or run.

Every tier starts its nodes through these few helpers, so that a new test reuses them
rather than copying their set-up:

* :func:`built_federation`: a :class:`~clearinghouse.node.localfed.LocalFederation`'s
  folder (keys, tokens, node configs, the quorum-signed manifest), nothing running;
* :func:`running_federation`: the same, each node a ``clearinghouse run`` process,
  every one ready; stopped afterwards, also when the test fails;
* :func:`opened_node`: one node's :class:`~clearinghouse.node.context.NodeContext`
  opened in this process without workers (services called directly), from its config
  file; :func:`opened_context` from settings made by the test;
* :func:`served_node`: one node's app served for real on its loopback port by uvicorn
  in a thread, ``lifespan`` included (:func:`serve_in_thread`), for tests that speak
  HTTP to it while reaching into its context.

Each node listens on a free loopback port taken when the folder is built, and keeps
its files under the test's temporary folder, so tests on parallel workers never share
a port, a file or (with ``database_urls`` from :mod:`tests.databases`) a database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI

from clearinghouse.node.app import create_app
from clearinghouse.node.clock import Clock, SystemClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import DEFAULT_PARTICIPANTS, LocalFederation, NodeHandle
from clearinghouse.node.settings import Settings, load_settings
from clearinghouse.node.startup import open_node

__all__ = [
    "ServedNode",
    "built_federation",
    "node_app",
    "opened_context",
    "opened_node",
    "port_of",
    "running_federation",
    "serve_in_thread",
    "served_node",
]

#: Seconds a node (a process, or uvicorn in a thread) gets to become ready.
READY_TIMEOUT = 60.0


def built_federation(
    root: Path, participants: tuple[str, ...] = DEFAULT_PARTICIPANTS, **options: Any
) -> LocalFederation:
    """A federation's folder in ``root``, built (``options`` as for ``LocalFederation``)."""
    federation = LocalFederation(root, participants, **options)
    federation.build()
    return federation


@contextmanager
def running_federation(
    root: Path, participants: tuple[str, ...] = DEFAULT_PARTICIPANTS, **options: Any
) -> Iterator[LocalFederation]:
    """:func:`built_federation`, every node started as a process and ready; all stopped
    when the block ends."""
    federation = built_federation(root, participants, **options)
    try:
        federation.start()
        federation.wait_ready(timeout=READY_TIMEOUT)
        yield federation
    finally:
        federation.stop()


@contextmanager
def opened_context(settings: Settings, clock: Clock | None = None) -> Iterator[NodeContext]:
    """A node opened in this process from ``settings`` (as ``clearinghouse run`` opens it,
    with the system clock unless ``clock``); its engine is disposed when the block ends."""
    ctx = open_node(settings, clock or SystemClock())
    try:
        yield ctx
    finally:
        ctx.engine.dispose()
        ctx.key_source.close()


@contextmanager
def opened_node(
    handle: NodeHandle, clock: Clock | None = None, **settings: Any
) -> Iterator[NodeContext]:
    """``handle``'s node opened in this process without workers (``settings`` override
    its config file): :func:`opened_context`."""
    with opened_context(load_settings(handle.config, run_workers=False, **settings), clock) as ctx:
        yield ctx


def node_app(handle: NodeHandle, **settings: Any) -> FastAPI:
    """``handle``'s app without workers (``settings`` override its config file)."""
    return create_app(load_settings(handle.config, run_workers=False, **settings))


def port_of(url: str) -> int:
    """The port of a node's loopback URL."""
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"no port in {url!r}")
    return port


@dataclass(frozen=True)
class ServedNode:
    """A node served in this process: its handle (URL, tokens, config) and its app."""

    handle: NodeHandle
    app: FastAPI

    @property
    def url(self) -> str:
        return self.handle.url

    @property
    def port(self) -> int:
        return port_of(self.handle.url)

    @property
    def context(self) -> NodeContext:
        """The node's context, opened by the app's ``lifespan``."""
        ctx: NodeContext = self.app.state.node
        return ctx


@contextmanager
def served_node(
    handle: NodeHandle, app: FastAPI | None = None, **settings: Any
) -> Iterator[ServedNode]:
    """``handle``'s node served on its port until the block ends: ``app``, or the node's
    own app without workers (:func:`node_app` with ``settings``)."""
    app = app if app is not None else node_app(handle, **settings)
    with serve_in_thread(app, port_of(handle.url)):
        yield ServedNode(handle, app)


@contextmanager
def serve_in_thread(app: FastAPI, port: int) -> Iterator[uvicorn.Server]:
    """Serve ``app`` on 127.0.0.1:``port`` until the block ends (lifespan included)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,  # as `clearinghouse run`: the node reads X-Forwarded-For itself
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server thread on port {port} died during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server on port {port} did not start within {READY_TIMEOUT} s")
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
