"""Structured logs (``node.logs``): one parseable JSON object per line, whatever the
message; the request's context on every line, also from worker threads; no input
values from validation errors; and ``configure_logging`` taking over uvicorn,
warnings and uncaught exceptions."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.request_id import RequestIdMiddleware
from clearinghouse.node.localfed import free_port
from clearinghouse.node.logs import (
    CONTEXT_FIELDS,
    PEER,
    REQUEST_ID,
    JsonFormatter,
    configure_logging,
)
from clearinghouse.node.transport.peer_client import PeerRejectedRequest, PeerUnavailable
from tests.nodes import serve_in_thread
from tests.support import ROOT

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
AWKWARD = [
    'a "quoted" message',
    "ends with a backslash \\",
    "two\nlines\r\nand a tab\t",
    "{not: json}",
    "Unicode: Ḥalab, حلب, 中文, emoji 🛰️",
    "line separators \u2028 and \u2029 and NUL \x00",
    "a lone surrogate \udcff",
]

Lines = Callable[[], list[dict[str, Any]]]


def _format(record: logging.LogRecord) -> dict[str, Any]:
    text = JsonFormatter("mission").format(record)
    assert "\n" not in text and text.isascii()
    return json.loads(text)  # type: ignore[no-any-return]


def _record(msg: str, *args: object, **attrs: Any) -> logging.LogRecord:
    record = logging.LogRecord("clearinghouse.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(attrs)
    return record


# -- the formatter -------------------------------------------------------------------------


@pytest.mark.parametrize("message", AWKWARD)
def test_every_message_is_one_json_line(message: str) -> None:
    line = _format(_record("%s", message))
    assert line["message"] == message
    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert RFC3339_UTC.fullmatch(line["time"])
    assert (line["level"], line["logger"], line["participant"]) == (
        "WARNING",
        "clearinghouse.test",
        "mission",
    )


def test_exceptions_are_kept_as_text_on_the_same_line() -> None:
    try:
        raise RuntimeError('a "bad"\nthing: حلب')
    except RuntimeError:
        record = _record("failed on %s", "GET /x", exc_info=sys.exc_info())
    line = _format(record)
    assert line["message"] == "failed on GET /x"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert 'RuntimeError: a "bad"\nthing: حلب' in line["exception"]


def test_context_fields_come_from_extra_or_the_context_variables() -> None:
    assert set(_format(_record("plain"))) == {"time", "level", "logger", "message", "participant"}
    request, peer = REQUEST_ID.set("req-1"), PEER.set("unodc")
    try:
        line = _format(
            _record("m", method="GET", path="/v1/packets", status=200, duration_ms=1.5, body="x")
        )
    finally:
        REQUEST_ID.reset(request)
        PEER.reset(peer)
    assert [k for k in line if k in CONTEXT_FIELDS] == list(CONTEXT_FIELDS)
    assert (line["request_id"], line["peer"], line["status"], line["duration_ms"]) == (
        "req-1",
        "unodc",
        200,
        1.5,
    )
    assert "body" not in line  # only the listed fields are ever written
    assert _format(_record("m", request_id="from-extra"))["request_id"] == "from-extra"


def test_validation_errors_are_logged_without_their_input() -> None:
    class Record(BaseModel):
        deaths: int
        narrative: str

    secret = "NARRATIVE-VALUE-NEVER-LOGGED"
    try:
        Record.model_validate({"deaths": secret, "narrative": 7})
    except ValidationError as exc:
        try:
            raise KeyError("wrapped") from exc
        except KeyError:
            pydantic_line = _format(_record("x", exc_info=sys.exc_info()))
    try:
        raise RequestValidationError([{"loc": ("body", "x"), "msg": "bad", "input": secret}])
    except RequestValidationError:
        fastapi_line = _format(_record("x", exc_info=sys.exc_info()))
    for line in (pydantic_line, fastapi_line):
        assert secret not in line["exception"]
        assert "validation error(s) (input not logged)" in line["exception"]
    assert "deaths: Input should be a valid integer" in pydantic_line["exception"]
    assert "body.x: bad" in fastapi_line["exception"]


# -- context inside requests, worker threads and tasks ---------------------------------------


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware)
    log = logging.getLogger("clearinghouse.test")

    @app.get("/sync")
    def in_threadpool() -> dict[str, str]:  # FastAPI runs a def endpoint in a worker thread
        log.info("sync handler")
        return {}

    @app.get("/async")
    async def with_helpers() -> dict[str, str]:
        PEER.set("dpa")
        await run_in_threadpool(log.info, "run_in_threadpool")
        await asyncio.to_thread(log.info, "asyncio.to_thread")

        async def task() -> None:
            log.info("in a task")

        await asyncio.create_task(task())
        return {}

    return app


@contextmanager
def _served() -> Iterator[httpx.Client]:
    port = free_port()
    with serve_in_thread(_app(), port), httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        yield client


def test_context_reaches_worker_threads_and_tasks(log_lines: Lines) -> None:
    with _served() as client:
        sync = client.get("/sync", headers={"x-request-id": "sync-1"})
        asynchronous = client.get("/async")
    assert sync.headers["x-request-id"] == "sync-1"
    by_message = {line["message"]: line for line in log_lines()}
    assert by_message["sync handler"]["request_id"] == "sync-1"
    assert "peer" not in by_message["sync handler"]
    for message in ("run_in_threadpool", "asyncio.to_thread", "in a task"):
        assert by_message[message]["request_id"] == asynchronous.headers["x-request-id"]
        assert by_message[message]["peer"] == "dpa"


def test_nothing_is_carried_over_from_one_request_to_the_next(log_lines: Lines) -> None:
    with _served() as client:
        client.get("/async", headers={"x-request-id": "first"})
        client.get("/sync", headers={"x-request-id": "second"})
    sync = next(line for line in log_lines() if line["message"] == "sync handler")
    assert sync["request_id"] == "second" and "peer" not in sync


# -- what the node logs about peers ----------------------------------------------------------


def test_a_peer_refusal_is_logged_without_the_peers_text() -> None:
    refusal = PeerRejectedRequest(
        "POST http://p/v1/packets: HTTP 400 Bad request: body: echoed SECRET-VALUE",
        status=400,
        problem={"type": "urn:clearinghouse:problem:bad-request", "detail": "SECRET-VALUE"},
        request="POST http://p/v1/packets",
    )
    assert refusal.log_detail == "POST http://p/v1/packets: HTTP 400 bad-request"
    odd = PeerRejectedRequest("x", status=409, problem={"type": "SECRET-VALUE"}, request="GET u")
    assert odd.log_detail == "GET u: HTTP 409 (no code)"
    assert PeerUnavailable("GET u: HTTP 503", kind="http-503").log_detail == "GET u: HTTP 503"


# -- configure_logging, in a process of its own ------------------------------------------------

_SCRIPT = """
import logging, sys, threading, warnings
from clearinghouse.node.logs import configure_logging
logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(sys.stderr))  # as uvicorn does
configure_logging("info", "undp")
logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:1")
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "c", "GET", "/", "1.1", 200)
logging.getLogger("clearinghouse.node").debug("not at info")
logging.getLogger("httpx").info("HTTP Request: one line per call")
warnings.warn("a warning with a \\"quote\\"")
thread = threading.Thread(target=lambda: 1 / 0, name="worker")
thread.start(); thread.join()
raise SystemError("uncaught")
"""


def test_configure_logging_makes_every_line_of_the_process_json() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 1 and done.stdout == ""
    parsed = [json.loads(line) for line in done.stderr.splitlines()]
    assert all(line["participant"] == "undp" for line in parsed)
    assert [(line["logger"], line["message"][:16]) for line in parsed] == [
        ("uvicorn.error", "Uvicorn running "),
        ("uvicorn.access", 'c - "GET / HTTP/'),
        ("py.warnings", "<string>:10: Use"),
        ("clearinghouse", "uncaught excepti"),
        ("clearinghouse", "uncaught excepti"),
    ]
    assert 'a warning with a "quote"' in parsed[2]["message"]
    assert "ZeroDivisionError" in parsed[3]["exception"]
    assert "SystemError: uncaught" in parsed[4]["exception"]
    with pytest.raises(ValueError, match="log level 'loud'"):
        configure_logging("loud")
