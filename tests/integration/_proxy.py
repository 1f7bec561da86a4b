"""A fault-injecting HTTP/1.1 proxy on loopback, put between a node and its peers.

The manifest gives peers the proxy's URL as the node's ``base_url`` (and so the
node verifies request signatures against that URL too); the proxy forwards each
request to the node's real port, or, depending on its current :attr:`FaultProxy.mode`,
does something else with it:

==================  ===========================================================
``pass``            forward, answer what the node answered
``slow``            forward after ``delay_s``, answer what the node answered
``stall``           read the request, never forward it, never answer (the
                    caller times out); the connection closes after ``stall_s``
``stall-after``     forward (the node stores what it was sent), then hold the
                    answer for ``stall_s``: the caller times out without receipts
``http-500``        answer 500 (problem+json), never forward
``http-503``        answer 503 with ``Retry-After: retry_after`` seconds, never forward
``reset``           read the request, then reset the connection (RST), never forward
``reset-after``     forward, then reset the connection instead of answering
==================  ===========================================================

The mode is read when a request has been read in full, so every request meets the
mode in force when it arrived. Each request is recorded as a :class:`Hit` (when,
which mode, method, path, the calling participant from the RFC 9421 ``keyid``, and a
digest of each view a delivery carried).
Runs its own event loop in a daemon thread; stdlib only.

:class:`TcpRelay` relays raw TCP (a node's database connections) and can drop every
connection and refuse new ones for a while: a database server restart as the node
sees it, without restarting a server others may be using.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = ["MODES", "FaultProxy", "Hit", "TcpRelay"]

MODES = (
    "pass",
    "slow",
    "stall",
    "stall-after",
    "http-500",
    "http-503",
    "reset",
    "reset-after",
)
_KEYID = re.compile(rb'keyid="([^"]+)"')
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic()
    mode: str
    method: str
    path: str
    sender: str | None  # participant, from the request signature's keyid
    #: SHA-256 (hex, first 16) of each view a ``POST /v1/packets`` carried
    views: frozenset[str] = frozenset()


def _views(body: bytes) -> frozenset[str]:
    try:
        views = json.loads(body).get("views", [])
    except (ValueError, AttributeError):
        return frozenset()
    return frozenset(hashlib.sha256(str(v).encode()).hexdigest()[:16] for v in views)


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def _read_message_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The body after ``head``: by Content-Length, or chunked (raw chunks kept)."""
    if (_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
        raw = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    line = await reader.readuntil(b"\r\n")
                    raw += line
                    if line == b"\r\n":
                        return raw
            raw += await reader.readexactly(size + 2)
    length = int(_header(head, b"content-length") or b"0")
    return await reader.readexactly(length) if length else b""


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0) instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _problem(status: int, reason: str, extra: str = "") -> bytes:
    body = (
        b'{"type":"urn:clearinghouse:problem:injected","title":"'
        + reason.encode()
        + b'","status":'
        + str(status).encode()
        + b"}"
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


class _Server:
    """A listener on 127.0.0.1 with its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lock = threading.Lock()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def start(self) -> int:
        async def listen() -> int:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            return int(self._server.sockets[0].getsockname()[1])

        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)
        return self.port

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._thread.is_alive() and not self._loop.is_closed():
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))  # let the cancelled tasks end
            self._loop.close()


class FaultProxy(_Server):
    """Forward ``127.0.0.1:port`` to ``127.0.0.1:upstream_port``, injecting faults."""

    def __init__(self, upstream_port: int, *, senders: dict[str, str] | None = None) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        #: keyid -> participant, to name who sent each request
        self.senders = dict(senders or {})
        self.mode = "pass"
        self.delay_s = 1.0
        self.stall_s = 10.0
        self.retry_after = 2
        self.hits: list[Hit] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str, **params: float) -> None:
        """Switch to ``mode`` (one of :data:`MODES`), with e.g. ``delay_s``, ``stall_s``,
        ``retry_after``."""
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        for name, value in params.items():
            if not hasattr(self, name):
                raise ValueError(f"unknown proxy parameter {name!r}")
            setattr(self, name, value)
        self.mode = mode

    def hits_since(self, since: float, **match: str | None) -> list[Hit]:
        with self._lock:
            hits = [h for h in self.hits if h.at >= since]
        return [h for h in hits if all(getattr(h, k) == v for k, v in match.items())]

    def _record(self, mode: str, head: bytes, body: bytes) -> None:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        found = _KEYID.search(_header(head, b"signature-input") or b"")
        sender = self.senders.get(found.group(1).decode()) if found else None
        method, path = [*request_line, "", ""][:2]
        path = path.split("?")[0]
        views = _views(body) if (method, path) == ("POST", "/v1/packets") else frozenset()
        with self._lock:
            self.hits.append(Hit(time.monotonic(), mode, method, path, sender, views))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after the other on this connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                body = await _read_message_body(reader, head)
                mode = self.mode
                self._record(mode, head, body)
                if mode == "reset":
                    _reset(writer)
                    return
                if mode == "stall":
                    await asyncio.sleep(self.stall_s)
                    writer.close()
                    return
                if mode == "http-500":
                    writer.write(_problem(500, "Internal Server Error"))
                    await writer.drain()
                    continue
                if mode == "http-503":
                    writer.write(
                        _problem(503, "Service Unavailable", f"retry-after: {self.retry_after}\r\n")
                    )
                    await writer.drain()
                    continue
                if mode == "slow":
                    await asyncio.sleep(self.delay_s)
                answer = await self._forward(head + body)
                if mode == "reset-after":
                    _reset(writer)
                    return
                if mode == "stall-after":
                    await asyncio.sleep(self.stall_s)
                    writer.close()
                    return
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            with contextlib.suppress(Exception):
                writer.close()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(self, request: bytes) -> bytes:
        """One request to the node on a connection of its own; its whole answer, raw.
        The node down: a 502, as a gateway would answer."""
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            return _problem(502, "Bad Gateway")
        try:
            up_writer.write(request)
            await up_writer.drain()
            head = await up_reader.readuntil(b"\r\n\r\n")
            return head + await _read_message_body(up_reader, head)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return _problem(502, "Bad Gateway")
        finally:
            up_writer.close()


class TcpRelay(_Server):
    """Relay TCP byte for byte to ``upstream`` (e.g. a database server); :meth:`outage`
    resets every open connection and refuses new ones for a while, as a server that
    restarts does, without touching the server itself."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.upstream = (host, port)
        self.down_until = 0.0
        self.resets = 0
        self._open: set[asyncio.StreamWriter] = set()

    def outage(self, seconds: float) -> None:
        """Reset every connection now and refuse new ones for ``seconds``."""

        def cut() -> None:
            self.down_until = time.monotonic() + seconds
            for writer in list(self._open):
                self.resets += 1
                _reset(writer)
            self._open.clear()

        self._loop.call_soon_threadsafe(cut)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self.down_until:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self._open.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        finally:
            self._open.discard(writer)
            self._open.discard(up_writer)
