"""A typed client of a node's local API: one method per operation the tools call.

Each method is one operation of the node's OpenAPI document (:data:`OPERATIONS`: its
``operationId``, method, path and answer model, which a test checks against the
document the node serves) and answers the same pydantic model the node declares
(:mod:`node.api.models`), validated strictly: an answer of another shape is an
:class:`~node.transport.local_api.AnswerMalformed` naming the first difference.
``clearinghouse ingest`` (:mod:`node.transport.records_upload`), ``clearinghouse
audit`` (:mod:`node.audit_tool.node_source`) and ``clearinghouse manifest submit``
use it.

Errors are :mod:`node.transport.local_api`'s, each naming the URL: no answer
(:class:`~node.transport.local_api.NodeUnreachable`), a refusal
(:class:`~node.transport.local_api.NodeRefused`, with the RFC 9457 ``problem`` when it
is one: a records submission that accepted none carries each record's refusal in
``problem.rejected``), or an answer not as documented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from clearinghouse.node.api.models import (
    AnalyzerReport,
    AuditCheckpointList,
    AuditEntryPage,
    AuditSearchPage,
    AuthorisationAnswer,
    ConsistencyProofAnswer,
    InclusionProofAnswer,
    ManifestAnswer,
    NodeStats,
    Readiness,
    RecordsAnswer,
)
from clearinghouse.node.transport.local_api import (
    AnswerMalformed,
    LocalApiClient,
    open_client,
    refusal,
    unreachable,
)
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError

__all__ = [
    "OPERATIONS",
    "NodeApiClient",
    "Operation",
    "open_api_client",
]

_Answer = TypeVar("_Answer", bound=BaseModel)


@dataclass(frozen=True)
class Operation(Generic[_Answer]):
    """One operation of the node's API: its ``operationId``, method and path, the status
    of success and the model of that answer."""

    operation_id: str
    method: str
    path: str
    answer: type[_Answer]
    success: int = 200


SUBMIT_RECORDS: Final = Operation("submitRecords", "POST", "/v1/local/records", RecordsAnswer)
SUBMIT_MANIFEST: Final = Operation("submitManifest", "POST", "/v1/manifest", ManifestAnswer)
SUBMIT_AUTHORISATION: Final = Operation(
    "submitAuthorisation", "POST", "/v1/authorisations", AuthorisationAnswer
)
READINESS: Final = Operation("getReadiness", "GET", "/readyz", Readiness)
STATS: Final = Operation("getStats", "GET", "/v1/local/stats", NodeStats)
ANALYZER: Final = Operation("getAnalyzer", "GET", "/v1/local/analyzer", AnalyzerReport)
AUDIT_ENTRIES: Final = Operation("getAuditEntries", "GET", "/v1/audit/entries", AuditEntryPage)
AUDIT_CHECKPOINTS: Final = Operation(
    "listAuditCheckpoints", "GET", "/v1/audit/checkpoints", AuditCheckpointList
)
AUDIT_SEARCH: Final = Operation("searchAuditLog", "GET", "/v1/audit/search", AuditSearchPage)
INCLUSION_PROOF: Final = Operation(
    "getInclusionProof", "GET", "/v1/audit/proof/inclusion", InclusionProofAnswer
)
CONSISTENCY_PROOF: Final = Operation(
    "getConsistencyProof", "GET", "/v1/audit/proof/consistency", ConsistencyProofAnswer
)
#: The operations answered in JSON that :class:`NodeApiClient` calls.
OPERATIONS: Final[tuple[Operation[Any], ...]] = (
    SUBMIT_RECORDS,
    SUBMIT_MANIFEST,
    SUBMIT_AUTHORISATION,
    READINESS,
    STATS,
    ANALYZER,
    AUDIT_ENTRIES,
    AUDIT_CHECKPOINTS,
    AUDIT_SEARCH,
    INCLUSION_PROOF,
    CONSISTENCY_PROOF,
)
#: The operations answered otherwise: the manifest's exact bytes, a checkpoint's text.
RAW_OPERATIONS: Final = {
    "getManifest": ("GET", "/v1/manifest"),
    "getAuditCheckpoint": ("GET", "/v1/audit/checkpoint"),
}


def open_api_client(
    base: str, token: str | None, *, timeout: float | httpx.Timeout = 60.0
) -> NodeApiClient:
    """A :class:`NodeApiClient` on the node at ``base`` sending ``token`` (close it, or
    use it in ``with``). Raises :class:`NodeUnreachable` (``bad_url``) for a URL that
    cannot be used."""
    try:
        http = open_client(base.rstrip("/"), token, timeout=timeout)
    except httpx.InvalidURL as exc:
        raise unreachable(base, exc) from exc
    return NodeApiClient(http, base=base)


class NodeApiClient(LocalApiClient):
    """The node's operations over an injected ``httpx.Client`` (base URL and token set)."""

    def call(
        self,
        operation: Operation[_Answer],
        *,
        params: Mapping[str, int | str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        """``operation``'s answer, as its model. Raises what the module says."""
        response = self._send(
            operation.method, operation.path, operation.success, params, content, json, headers
        )
        where = f"{self.base}{operation.path}"
        try:
            document = parse_json(response.content)
        except EncodingError as exc:
            raise AnswerMalformed(
                f"{where}: the answer is not JSON: {exc.message}",
                status=response.status_code,
                text=response.text,
            ) from exc
        try:
            return operation.answer.model_validate(document, strict=True)
        except ValidationError as exc:
            raise AnswerMalformed(
                f"{where}: the answer is not the documented {operation.answer.__name__}: "
                + _first_error(exc),
                status=response.status_code,
                text=response.text,
                document=document,
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        success: int,
        params: Mapping[str, int | str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        where = f"{self.base}{path}"
        try:
            response = self.http.request(
                method, path, params=params, content=content, json=json, headers=headers
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unreachable(where, exc) from exc
        if response.status_code != success:
            raise refusal(where, response)
        return response

    # -- local systems -------------------------------------------------------------------

    def submit_records(
        self,
        schema: str,
        records: Sequence[Any],
        *,
        idempotency_key: str | None = None,
        hc: str | None = None,
        hc_restriction: str | None = None,
    ) -> RecordsAnswer:
        """``submitRecords``: the records of one schema, each answered. A submission that
        accepted none is a :class:`NodeRefused` (422, or 409 when each was a revision)
        whose ``problem.rejected`` lists why."""
        body: dict[str, Any] = {"schema": schema, "records": list(records)}
        if hc is not None:
            body["hc"] = hc
        if hc_restriction is not None:
            body["hc_restriction"] = hc_restriction
        headers = {} if idempotency_key is None else {"idempotency-key": idempotency_key}
        return self.call(SUBMIT_RECORDS, json=body, headers=headers)

    def submit_manifest(self, document: bytes) -> ManifestAnswer:
        """``submitManifest``: a signed manifest, sent byte for byte."""
        return self.call(SUBMIT_MANIFEST, content=document, headers=_JSON)

    def submit_authorisation(self, document: bytes) -> AuthorisationAnswer:
        """``submitAuthorisation``: a signed oversight authorisation, sent byte for byte."""
        return self.call(SUBMIT_AUTHORISATION, content=document, headers=_JSON)

    def readiness(self) -> Readiness:
        """``getReadiness``: whether the node is ready, and whose node it is."""
        return self.call(READINESS)

    def node_stats(self) -> NodeStats:
        """``getStats`` (role analyst or auditor): the node's exact counts."""
        return self.call(STATS)

    def analyzer(self) -> AnalyzerReport:
        """``getAnalyzer`` (role analyst or auditor): its analyzer and summary."""
        return self.call(ANALYZER)

    # -- the audit log (role auditor) ----------------------------------------------------

    def manifest(self) -> bytes:
        """``getManifest``: the manifest the node serves, exactly as it serves it."""
        return self._send(*RAW_OPERATIONS["getManifest"], 200).content

    def latest_checkpoint(self) -> str:
        """``getAuditCheckpoint``: the latest signed checkpoint note with its witnesses'
        cosignature lines."""
        return self._send(*RAW_OPERATIONS["getAuditCheckpoint"], 200).text

    def entries(self, *, start: int, end: int) -> AuditEntryPage:
        """``getAuditEntries``: entries ``[start, end)`` and the log's size."""
        return self.call(AUDIT_ENTRIES, params={"start": start, "end": end})

    def audit_size(self) -> int:
        """How many entries the node's audit log holds."""
        return self.entries(start=0, end=0).size

    def checkpoints(self, *, after: int, limit: int) -> AuditCheckpointList:
        """``listAuditCheckpoints``: up to ``limit`` checkpoints of sizes above ``after``,
        each with its note, root, consistency proof from the one before and signing time."""
        return self.call(AUDIT_CHECKPOINTS, params={"after": after, "limit": limit})

    def search(self, **filters: int | str) -> AuditSearchPage:
        """``searchAuditLog``: the newest entries matching ``filters`` (``act``, ``peer``,
        ``jti``, ``since``, ``until``, ``before``, ``limit``)."""
        return self.call(AUDIT_SEARCH, params=filters)

    def inclusion(self, *, index: int, size: int) -> InclusionProofAnswer:
        """``getInclusionProof``: entry ``index`` in the tree of ``size`` entries."""
        return self.call(INCLUSION_PROOF, params={"index": index, "size": size})

    def consistency(self, *, old: int, new: int) -> ConsistencyProofAnswer:
        """``getConsistencyProof``: between the trees of ``old`` and ``new`` entries."""
        return self.call(CONSISTENCY_PROOF, params={"old": old, "new": new})


_JSON: Final = {"content-type": "application/json"}


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "the answer"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
