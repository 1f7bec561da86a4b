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
    │   └── HandlingForbidden  403  the packet's handling code forbids it (H2: no relay)
    ├── NotFound               404
    ├── PayloadTooLarge        413
    ├── UnsupportedMediaType   415  a body that is not declared as JSON
    ├── Unprocessable          422  well-formed but refused (schema, policy, ...)
    ├── RateLimited            429  a peer over its request rate (with Retry-After)
    ├── ServiceUnavailable     503  not ready (database, manifest, key)
    └── PeerFailed             502  a peer answered badly or not at all
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "DigestMismatch",
    "Forbidden",
    "HandlingForbidden",
    "NodeError",
    "NotFound",
    "PayloadTooLarge",
    "PeerFailed",
    "RateLimited",
    "ReplayedNonce",
    "RequestSignatureInvalid",
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


class NotFound(NodeError):
    status, code, title = 404, "not-found", "Not found"


class PayloadTooLarge(NodeError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(NodeError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(NodeError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class RateLimited(NodeError):
    """A peer sent more requests than its rate allows; ``retry_after`` is in whole seconds."""

    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers["retry-after"] = str(retry_after)


class ServiceUnavailable(NodeError):
    status, code, title = 503, "not-ready", "Service unavailable"


class PeerFailed(NodeError):
    status, code, title = 502, "peer-failed", "A peer failed"
