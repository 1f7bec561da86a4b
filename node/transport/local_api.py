"""Outbound calls to a node's own API with a bearer token: what an operator sends.

:mod:`node.transport.peer_client` signs node-to-node requests; this module is the
other kind of outbound HTTP, the calls of someone holding one of a node's bearer
tokens: the CLI (``ingest``, ``manifest submit``, ``authorise submit``, ``audit``),
the local federation and its demo (readiness, ``/v1/local/stats``, the analyzer's
summary, the audit log's size and latest checkpoint). :func:`open_client` makes the
``httpx.Client`` (base URL and token set on it); :class:`LocalApiClient` reads JSON
over it (:class:`~node.transport.api_client.NodeApiClient` adds the typed operations);
:func:`post_document` sends one JSON document as it is and hands back the node's
:class:`Answer` for the caller to judge; :func:`node_ready` asks ``/readyz``.

Errors, all carrying a ``message``::

    NodeApiError
    ├── NodeUnreachable   no answer: refused connection, timeout, ... or an unusable URL
    │                     (``bad_url``); ``reason``/``kind``: the cause's text and type
    ├── NodeRefused       an answer other than the operation's success (``status``,
    │                     ``detail``; ``problem``: the RFC 9457 problem, if it is one)
    └── AnswerMalformed   an answer that is not the documented JSON
"""

from __future__ import annotations

import functools
import json
import ssl
from dataclasses import dataclass
from typing import Any, Self

import httpx
from pydantic import ValidationError

from clearinghouse.node.api.models.problem import Problem
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError

__all__ = [
    "Answer",
    "AnswerMalformed",
    "LocalApiClient",
    "NodeApiError",
    "NodeRefused",
    "NodeUnreachable",
    "node_ready",
    "open_client",
    "post_document",
    "refusal",
    "tls_context",
]

#: How long the local federation waits for one ``/readyz`` answer.
READY_TIMEOUT = 2.0


class NodeApiError(Exception):
    """Base of the errors of a call to a node's API; ``message`` says what happened."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NodeUnreachable(NodeApiError):
    """No answer came. ``reason`` is the cause's own text (may be empty), ``kind`` its
    type name; ``bad_url``: the URL itself cannot be used (not a network failure)."""

    def __init__(self, message: str, *, reason: str, kind: str, bad_url: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.kind = kind
        self.bad_url = bad_url


class NodeRefused(NodeApiError):
    """The node answered with an HTTP status other than the one of success; ``detail``:
    the problem document's ``detail``, else the start of the answer's text; ``document``:
    the answer parsed as JSON (None if it is not); ``problem``: that document as the
    API's :class:`~node.api.models.Problem`, if it is one; ``text``: the answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        detail: str,
        document: Any = None,
        problem: Problem | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.document = document
        self.problem = problem
        self.text = text


class AnswerMalformed(NodeApiError):
    """The node answered with success, but not with the JSON the API documents;
    ``status``, ``text`` and ``document`` (parsed, None if not JSON) say what it was."""

    def __init__(
        self, message: str, *, status: int = 200, text: str = "", document: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.text = text
        self.document = document


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for the local federation's many short-lived clients: httpx builds
    a new one (loading the CA bundle, ~10-100 ms of CPU) per client otherwise, and the
    local nodes speak plain HTTP anyway. Polling loops made that the driver's largest
    cost."""
    return ssl.create_default_context()


def open_client(
    base_url: str,
    token: str | None = None,
    *,
    timeout: float | httpx.Timeout = 60.0,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """An ``httpx.Client`` on ``base_url``, sending ``token`` (if any) as a bearer token."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=verify)


def unreachable(where: str, exc: Exception) -> NodeUnreachable:
    """The error for an ``httpx`` failure to get any answer from ``where``."""
    return NodeUnreachable(
        f"cannot reach {where}: {exc}",
        reason=str(exc),
        kind=type(exc).__name__,
        bad_url=isinstance(exc, httpx.InvalidURL),
    )


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of a problem document, else the start of the answer's text."""
    try:
        return str(parse_json(response.content)["detail"])
    except (EncodingError, KeyError, TypeError):
        return response.text[:200]


def refusal(where: str, response: httpx.Response) -> NodeRefused:
    """The error for the node's answer ``response`` refusing a request to ``where``."""
    try:
        document = parse_json(response.content) if response.content else None
    except EncodingError:
        document = None
    try:
        problem = Problem.model_validate(document, strict=True)
    except ValidationError:
        problem = None
    status, detail = response.status_code, _detail(response)
    return NodeRefused(
        f"{where}: HTTP {status}: {detail}",
        status=status,
        detail=detail,
        document=document,
        problem=problem,
        text=response.text,
    )


class LocalApiClient:
    """GETs on a node's API over an injected ``httpx.Client`` (its base URL and token set).

    Every failure is a :class:`NodeApiError` naming the URL it concerns. Used in ``with``,
    it closes the client at the end."""

    def __init__(self, http: httpx.Client, *, base: str | None = None) -> None:
        self.http = http
        #: the URL errors name: ``base`` as the caller wrote it, else the client's own
        self.base = (base or str(http.base_url)).rstrip("/")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def get(self, path: str, **params: int) -> httpx.Response:
        """The node's 200 answer to ``GET path``. Raises :class:`NodeUnreachable` or
        :class:`NodeRefused`."""
        where = f"{self.base}{path}"
        try:
            response = self.http.get(path, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unreachable(where, exc) from exc
        if response.status_code == 200:
            return response
        raise refusal(where, response)

    def json(self, path: str, **params: int) -> dict[str, Any]:
        """The JSON object the node answers to ``GET path``; what :meth:`get` raises, or
        :class:`AnswerMalformed`."""
        try:
            document = parse_json(self.get(path, **params).content)
        except EncodingError as exc:
            raise AnswerMalformed(
                f"{self.base}{path}: the answer is not JSON: {exc.message}"
            ) from exc
        if not isinstance(document, dict):
            raise AnswerMalformed(f"{self.base}{path}: the answer is not a JSON object")
        return document

    def stats(self) -> dict[str, Any]:
        """``/v1/local/stats`` (role auditor): the node's exact counts and queues."""
        return self.json("/v1/local/stats")

    def analyzer_summary(self) -> dict[str, Any] | None:
        """The summary of the node's own analyzer (role analyst); None if it has none."""
        try:
            summary = self.json("/v1/local/analyzer").get("summary")
        except NodeRefused:
            return None
        return summary if isinstance(summary, dict) else None

    def audit_size(self) -> int:
        """How many entries the node's audit log holds (role auditor)."""
        size = self.json("/v1/audit/entries", start=0, end=0).get("size")
        if type(size) is not int or size < 0:
            raise AnswerMalformed(f"{self.base}/v1/audit/entries: no log size")
        return size

    def latest_checkpoint(self) -> str:
        """The node's latest signed checkpoint note, with its witnesses' cosignature lines
        (role auditor)."""
        return self.get("/v1/audit/checkpoint").text


def node_ready(url: str, *, timeout: float = READY_TIMEOUT) -> bool:
    """Whether the node at ``url`` answers ``/readyz`` with 200 (False if it cannot be
    reached: a node still starting)."""
    try:
        answer = httpx.get(f"{url}/readyz", timeout=timeout, verify=tls_context())
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


@dataclass(frozen=True)
class Answer:
    """The node's answer to a POST, whatever its status: for the caller to judge."""

    status: int
    text: str
    #: the answer parsed as JSON; None if it is empty or not JSON
    document: Any

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300


def post_document(
    node: str, path: str, body: bytes, *, token: str, timeout: float = 30.0
) -> Answer:
    """POST ``body`` (a JSON document, sent byte for byte) to ``path`` of ``node``.

    Raises :class:`NodeUnreachable` when no answer comes (``bad_url`` if ``node`` is not
    a usable URL)."""
    url = node.rstrip("/") + path
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise unreachable(node, exc) from exc
    try:
        document = json.loads(response.content) if response.content else None
    except ValueError:
        document = None
    return Answer(response.status_code, response.text, document)
