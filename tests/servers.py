"""Real nodes for tests: a uvicorn server in a thread (in-process) on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

__all__ = ["serve_in_thread"]


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
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server thread died during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start within 30 s")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
