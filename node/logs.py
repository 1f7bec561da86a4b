"""Structured logs: one JSON object per line, with the request's context.

Implements the "Observability" section of README.md. :class:`JsonFormatter` writes
every record as a single line of ``json.dumps`` output (ASCII only, so a message
with quotes, newlines or any Unicode stays one parseable line)::

    {"time": "2026-11-25T12:00:00.123Z", "level": "INFO", "logger": "clearinghouse.access",
     "message": "POST /v1/packets 200", "participant": "dpa", "request_id": "…",
     "peer": "mission", "method": "POST", "path": "/v1/packets", "status": 200,
     "duration_ms": 41.7}

Context fields appear only when known. ``request_id`` and ``peer`` come from the
context variables below (set by :mod:`node.api.request_id` and by peer
authentication in :mod:`node.api.deps`; asyncio tasks, ``run_in_threadpool`` and
``asyncio.to_thread`` copy them) unless a call passes them in ``extra``;
``method``, ``path``, ``status`` and ``duration_ms`` only from ``extra``. Nothing
else a caller puts in ``extra`` is written: the fields are a fixed list, so no
object reaches the log by accident.

What is logged must never hold a bearer token, a key, a request or response body,
packet or view text, or a record's field values. Exception text is written, but the
messages of validation errors (pydantic's and FastAPI's, which quote the input) are
replaced by their locations and messages without the input; the database engine
hides SQL parameters (``node.storage.db``).

:func:`configure_logging` sends the root logger, and with it uvicorn's loggers and
Python warnings, through the formatter on standard error; ``clearinghouse run``
calls it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, TextIO

from fastapi.exceptions import ValidationException
from pydantic import ValidationError

__all__ = [
    "CONTEXT_FIELDS",
    "PEER",
    "REQUEST_ID",
    "JsonFormatter",
    "configure_logging",
    "new_request_id",
]

#: The id of the request being served (or of the outbound call being made).
REQUEST_ID: ContextVar[str | None] = ContextVar("clearinghouse_request_id", default=None)
#: The participant whose RFC 9421-signed request is being served, once authenticated.
PEER: ContextVar[str | None] = ContextVar("clearinghouse_peer", default=None)

#: The fields written after ``message`` when known, in this order.
CONTEXT_FIELDS: Final = (
    "participant",
    "request_id",
    "peer",
    "method",
    "path",
    "status",
    "duration_ms",
)
#: Loggers of uvicorn that must not keep handlers of their own.
_UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_TRACE: Final = 5
#: Libraries whose INFO lines are one per peer call: noise.
_QUIET_LOGGERS: Final = ("httpx", "httpcore")


def new_request_id() -> str:
    """A fresh request id: 32 lowercase hex digits (a random UUID)."""
    return uuid.uuid4().hex


def _rfc3339(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _without_input(exc: BaseException) -> str | None:
    """A validation error's message without the input values it quotes (else ``None``)."""
    if isinstance(exc, ValidationError):
        errors: Any = exc.errors(include_url=False, include_input=False, include_context=False)
    elif isinstance(exc, ValidationException):
        errors = exc.errors()
    else:
        return None
    lines = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')} [{e.get('type', '')}]"
        for e in errors
        if isinstance(e, dict)
    ]
    return f"{len(lines)} validation error(s) (input not logged):\n  " + "\n  ".join(lines)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, message, the
    context fields that are known, and ``exception`` (the traceback) if any."""

    def __init__(self, participant: str | None = None) -> None:
        super().__init__()
        self.participant = participant

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = {
            "participant": self.participant,
            "request_id": REQUEST_ID.get(),
            "peer": PEER.get(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, context.get(name))
            if value is not None:
                out[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=True, default=str)

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        text = super().formatException(ei)
        for exc in _chain(ei[1]):
            redacted = _without_input(exc)
            if redacted is not None:
                text = text.replace(str(exc), redacted)
        return text


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("clearinghouse").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    logging.getLogger("clearinghouse").critical(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure_logging(
    level: str | int, participant: str | None = None, *, stream: TextIO | None = None
) -> None:
    """Send every log record of this process through :class:`JsonFormatter` on ``stream``
    (standard error): the root logger gets the one handler, uvicorn's loggers propagate to
    it, warnings and uncaught exceptions are logged. Pass ``log_config=None`` to
    ``uvicorn.run`` so that uvicorn keeps this. Raises ``ValueError`` for an unknown
    level."""
    logging.addLevelName(_TRACE, "TRACE")  # uvicorn's level below DEBUG, as it names it
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"log level {level!r} is not one of trace, debug, info, warning, error")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(participant))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
