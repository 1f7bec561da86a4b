"""The node's exception tree; each error knows its HTTP status and problem type.

One handler (``node.api.problems``) turns any of these into an RFC 9457
``application/problem+json`` answer; protocol errors are mapped there too. A
peer's failure never becomes our 500: it is a :class:`PeerFailed` (502).

    NodeError (status, code)
    ├── BadRequest             400  malformed input that is not a protocol object
    ├── Unauthenticated        401  no or bad bearer token / HTTP message signature
    │   ├── SignatureMissing        no Signature / Signature-Input / Content-Digest
    │   ├── RequestSignatureInvalid the RFC 9421 signature does not verify
    │   ├── UnknownKeyId            keyid is not a key of any participant
    │   ├── StaleSignature          created outside the allowed window
    │   ├── ReplayedNonce           a nonce seen before
    │   └── DigestMismatch          the body does not match Content-Digest
    ├── Forbidden              403  authenticated, but the role does not allow this
    │   ├── HandlingForbidden  403  the packet's handling code forbids it (H2: no relay)
    │   └── SchemaForbidden    403  local ingest of a schema the node derives itself, or
    │                               one the manifest's ``originates`` does not list
    ├── NotFound               404
    ├── PayloadTooLarge        413
    ├── UnsupportedMediaType   415  a body that is not declared as JSON
    ├── Conflict               409
    │   ├── IdempotencyKeyInUse     a request with this Idempotency-Key is still running
    │   └── RecordConflict          a record's natural key is held with other content
    ├── Unprocessable          422  well-formed but refused (schema, policy, ...)
    │   └── IdempotencyKeyReused    an Idempotency-Key used before with another body
    ├── RateLimited            429  a peer over its request rate (with Retry-After)
    │   └── QuotaExceeded           a peer over its quota of views or bytes per period
    ├── ServiceUnavailable     503  not ready (database, manifest, key)
    └── PeerFailed             502  a peer answered badly or not at all
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "DigestMismatch",
    "Forbidden",
    "HandlingForbidden",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "NodeError",
    "NotFound",
    "PayloadTooLarge",
    "PeerFailed",
    "QuotaExceeded",
    "RateLimited",
    "RecordConflict",
    "ReplayedNonce",
    "RequestSignatureInvalid",
    "SchemaForbidden",
    "ServiceUnavailable",
    "SignatureMissing",
    "StaleSignature",
    "Unauthenticated",
    "UnknownKeyId",
    "Unprocessable",
    "UnsupportedMediaType",
]


class NodeError(Exception):
    status = 500
    code = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        #: HTTP headers the answer carries besides the problem body (e.g. Retry-After)
        self.headers: dict[str, str] = {}


class BadRequest(NodeError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthenticated(NodeError):
    status, code, title = 401, "unauthenticated", "Not authenticated"


class SignatureMissing(Unauthenticated):
    code, title = "signature-missing", "HTTP message signature missing"


class RequestSignatureInvalid(Unauthenticated):
    code, title = "request-signature-invalid", "HTTP message signature invalid"


class UnknownKeyId(Unauthenticated):
    code, title = "unknown-keyid", "Unknown signing key"


class StaleSignature(Unauthenticated):
    code, title = "stale-signature", "Signature created outside the allowed window"


class ReplayedNonce(Unauthenticated):
    code, title = "replayed-nonce", "Nonce already used"


class DigestMismatch(Unauthenticated):
    code, title = "digest-mismatch", "Body does not match Content-Digest"


class Forbidden(NodeError):
    status, code, title = 403, "forbidden", "Forbidden"


class HandlingForbidden(Forbidden):
    code = "handling-violation"


class SchemaForbidden(Forbidden):
    """Local ingest of a schema the node only derives itself (``analysis-result/1``), or
    of one the manifest does not let this node originate."""

    code, title = "schema-forbidden", "Schema not accepted from local systems"


class NotFound(NodeError):
    status, code, title = 404, "not-found", "Not found"


class PayloadTooLarge(NodeError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(NodeError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class Conflict(NodeError):
    status, code, title = 409, "conflict", "Conflict"


class IdempotencyKeyInUse(Conflict):
    """A request with the same Idempotency-Key (same caller) has not been answered yet."""

    code, title = "idempotency-key-in-use", "Idempotency-Key in use"


class RecordConflict(Conflict):
    """Every record refused was a revision: its natural key is held with other content."""

    code, title = "record-conflict", "Record held with other content"


class Unprocessable(NodeError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class IdempotencyKeyReused(Unprocessable):
    """The Idempotency-Key was used by this caller for a request with another body."""

    code, title = "idempotency-key-reused", "Idempotency-Key reused with another body"


class RateLimited(NodeError):
    """A peer sent more requests than its rate allows; ``retry_after`` is in whole seconds."""

    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers["retry-after"] = str(retry_after)


class QuotaExceeded(RateLimited):
    """A peer pushed more views or bytes than its quota per period allows."""

    code, title = "quota-exceeded", "Quota exceeded"


class ServiceUnavailable(NodeError):
    status, code, title = 503, "not-ready", "Service unavailable"


class PeerFailed(NodeError):
    status, code, title = 502, "peer-failed", "A peer failed"
