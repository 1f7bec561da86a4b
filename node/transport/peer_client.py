"""Outbound calls to peers over an injected ``httpx.AsyncClient``, RFC 9421-signed.

Every failure of a peer becomes one of two errors, so that callers decide on
retries without knowing HTTP:

* :class:`PeerUnavailable`: try again later (timeout, connection reset, 429, 5xx),
  with the peer's ``Retry-After`` when it gave one;
* :class:`PeerRejectedRequest`: the peer refused the request itself (4xx with a
  problem document); retrying the same request unchanged will not help soon.

Both have a ``log_detail`` that is safe to log: the peer's own problem text is left
out of it (a peer may echo what it was sent). Every call carries an
``X-Request-Id`` (the current request's, else a fresh one), which the peer logs; it
is not covered by the signature, which covers only ``@method``, ``@target-uri`` and
``content-digest``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from clearinghouse.node.clock import Clock
from clearinghouse.node.errors import PeerFailed
from clearinghouse.node.logs import REQUEST_ID, new_request_id
from clearinghouse.node.transport.httpsig import sign_request
from clearinghouse.protocol.keys import Signer

__all__ = [
    "BatchAnswer",
    "FeedPage",
    "PeerClient",
    "PeerRejectedRequest",
    "PeerUnavailable",
    "open_peer_client",
]


class PeerUnavailable(PeerFailed):
    code = "peer-unavailable"

    def __init__(self, detail: str, *, kind: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def log_detail(self) -> str:
        """The detail, which holds no text of the peer's: safe to log."""
        return self.detail


_PROBLEM_CODE = re.compile(r"urn:clearinghouse:problem:([a-z0-9-]{1,64})")


class PeerRejectedRequest(PeerFailed):
    code = "peer-rejected-request"

    def __init__(
        self, detail: str, *, status: int, problem: dict[str, Any], request: str = ""
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = problem
        self.request = request

    @property
    def log_detail(self) -> str:
        """The request, the status and the problem's code, without the peer's title and
        detail (free text that may echo what was sent): safe to log."""
        found = _PROBLEM_CODE.fullmatch(str(self.problem.get("type", "")))
        return f"{self.request}: HTTP {self.status} {found.group(1) if found else '(no code)'}"


@dataclass(frozen=True)
class FeedPage:
    items: list[tuple[int, str]]
    next_cursor: int
    #: the oversight authorisations some of the page's views rely on
    authorisations: list[Any]


@dataclass(frozen=True)
class BatchAnswer:
    """A peer's answer to a pushed batch, unverified: one batch receipt (``batch``), or an
    older peer's receipts, one per view in order (``per_view``); and the SHA-256 (hex)
    of the request body sent, which a batch receipt must name."""

    request_sha256: str
    batch: str | None = None
    per_view: tuple[str, ...] = ()

    def texts(self, views: int) -> list[str]:
        """The receipt text the peer gave for each of ``views`` views (a batch receipt's
        for all of them)."""
        return [self.batch] * views if self.batch is not None else list(self.per_view)


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _fixed_signer(key: Signer, kid: str) -> Callable[[], tuple[Signer, str]]:
    """A signer that always answers the same key (a node that does not rotate)."""
    fixed = (key, kid)

    def signer() -> tuple[Signer, str]:
        return fixed

    return signer


class PeerClient:
    """Signs each request with ``key``/``kid``, or with what ``signer`` answers at that
    moment (a node that rotates its key signs with the new one from then on)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Clock,
        key: Signer | None = None,
        kid: str | None = None,
        signer: Callable[[], tuple[Signer, str]] | None = None,
    ) -> None:
        if signer is None:
            if key is None or kid is None:
                raise TypeError("PeerClient needs key and kid, or signer")
            signer = _fixed_signer(key, kid)
        self._http = http
        self._signer = signer
        self._clock = clock

    async def _send(self, method: str, url: str, body: bytes | None = None) -> Any:
        headers = {
            "accept": "application/json",
            "x-request-id": REQUEST_ID.get() or new_request_id(),
        }
        if body is not None:
            headers["content-type"] = "application/json"
        request = self._http.build_request(method, url, content=body or b"", headers=headers)
        key, kid = self._signer()
        sign_request(request, key=key, key_id=kid, created=self._clock.now())
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException as exc:
            raise PeerUnavailable(f"{method} {url}: timed out", kind="timeout") from exc
        except httpx.TransportError as exc:
            raise PeerUnavailable(
                f"{method} {url}: {type(exc).__name__}: {exc}", kind="connection"
            ) from exc
        status = response.status_code
        if status in (429, 503) or status >= 500:
            raise PeerUnavailable(
                f"{method} {url}: HTTP {status}",
                kind=f"http-{status}",
                retry_after=_retry_after(response, self._clock.now()),
            )
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PeerUnavailable(
                f"{method} {url}: HTTP {status} with a body that is not JSON", kind="bad-answer"
            ) from exc
        if status >= 400:
            problem = document if isinstance(document, dict) else {}
            raise PeerRejectedRequest(
                f"{method} {url}: HTTP {status} {problem.get('title', '')}: "
                f"{problem.get('detail', '')}",
                status=status,
                problem=problem,
                request=f"{method} {url}",
            )
        return document

    async def call(self, method: str, url: str, document: Any = None) -> Any:
        """A signed request with an optional JSON body; the peer's JSON answer."""
        body = None if document is None else json.dumps(document, separators=(",", ":")).encode()
        return await self._send(method, url, body)

    async def post_bytes(self, url: str, body: bytes) -> Any:
        """A signed POST of a JSON document exactly as given; the peer's JSON answer."""
        return await self._send("POST", url, body)

    async def post_views(
        self,
        base_url: str,
        views: list[str],
        authorisations: list[Any] | None = None,
        *,
        batch_receipt: bool = True,
    ) -> BatchAnswer:
        """Deliver a batch (with the oversight authorisations some views rely on), asking
        for one receipt over the whole batch (``batch_receipt``); return the peer's answer:
        that receipt, or (an older peer, or not asked) one receipt per view, in order."""
        batch: dict[str, Any] = {"views": views}
        if authorisations:
            batch["authorisations"] = authorisations
        if batch_receipt:
            batch["receipt"] = "batch"
        body = json.dumps(batch, separators=(",", ":")).encode()
        document = await self._send("POST", f"{base_url}/v1/packets", body)
        request_sha256 = hashlib.sha256(body).hexdigest()
        signed = document.get("receipt") if isinstance(document, dict) else None
        if batch_receipt and signed is not None:
            if not isinstance(signed, str):
                raise PeerUnavailable(
                    f"{base_url}: the batch receipt is not a string", kind="bad-answer"
                )
            return BatchAnswer(request_sha256, batch=signed)
        receipts = document.get("receipts") if isinstance(document, dict) else None
        if not isinstance(receipts, list) or len(receipts) != len(views):
            raise PeerUnavailable(
                f"{base_url}: answer holds no batch receipt and no receipt list of {len(views)}",
                kind="bad-answer",
            )
        if not all(isinstance(r, str) for r in receipts):
            raise PeerUnavailable(f"{base_url}: a receipt is not a string", kind="bad-answer")
        return BatchAnswer(request_sha256, per_view=tuple(receipts))

    async def get_views(self, base_url: str, *, since: int, limit: int) -> FeedPage:
        """One page of the views the peer owes us after cursor ``since``."""
        url = f"{base_url}/v1/packets?since={since}&limit={limit}"
        document = await self._send("GET", url)
        try:
            items = [(int(i["cursor"]), str(i["view"])) for i in document["items"]]
            next_cursor = int(document["next"])
            authorisations = document.get("authorisations", [])
            if not isinstance(authorisations, list):
                raise TypeError("authorisations is not a list")
        except (KeyError, TypeError, ValueError) as exc:
            raise PeerUnavailable(
                f"{base_url}: malformed catch-up page", kind="bad-answer"
            ) from exc
        return FeedPage(items, next_cursor, authorisations)


@contextlib.asynccontextmanager
async def open_peer_client(
    *,
    request_timeout_s: float,
    clock: Clock,
    signer: Callable[[], tuple[Signer, str]],
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[PeerClient]:
    """The one connection pool a node's workers share to reach its peers, closed on exit.

    ``transport`` lets tests route the calls elsewhere (an in-process app, a fault).
    """
    timeout = httpx.Timeout(request_timeout_s, connect=5.0)
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as http:
        yield PeerClient(http, clock=clock, signer=signer)
