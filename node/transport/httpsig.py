"""HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530) for node-to-node requests.

Implements DESIGN.md "Node-to-node transport": each request between nodes carries
``Content-Digest: sha-256=:…:`` over the exact body bytes (also an empty one) and an
Ed25519 signature labelled ``ch`` covering ``@method``, ``@target-uri`` and
``content-digest``, with ``created``, ``keyid``, ``nonce`` and ``alg="ed25519"``.

The ``http-message-signatures`` library builds the signature base, the Structured
Fields and the digests; this module is glue: policy, injected clock, our error tree.
Worked around: the library's HTTPX integration is for ``httpx2``, not ``httpx`` (an
``httpx.Request`` already has the ``method``/``url``/``headers`` the signer reads); its
verifier judges ``created`` by the wall clock (step (3) uses the caller's ``now``);
selecting by label alone warns (the library only ever sees the member we selected).
Nonce replay is *not* checked here: the caller records the returned nonce.

Steps (1) to (4) need only the headers: :func:`verify_request_headers` runs them before
any body is read, so that a request nobody signed (missing or malformed headers, an
unknown or invalid ``keyid``, a stale ``created``, a signature that does not verify)
is refused without reading its body; :func:`verify_request_body` then runs step (5)
on the body. :func:`verify_request` is the two in one.

Errors, all from :mod:`node.errors`::

    NodeError                    sign_request cannot sign (unread stream, bad URL, naive time)
    └── Unauthenticated
        ├── SignatureMissing         (1) Signature / Signature-Input / Content-Digest absent
        ├── RequestSignatureInvalid  (2) coverage or parameters missing, (4) does not verify
        ├── UnknownKeyId             (4) raised by the caller's ``resolve_key``, passed through
        ├── StaleSignature           (3) ``created`` outside the window, or ``expires`` passed
        └── DigestMismatch           (5) the body does not match the signed Content-Digest
                                         (verify_request_body only)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import http_message_signatures as hms
import http_sf
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearinghouse.node.errors import (
    DigestMismatch,
    NodeError,
    RequestSignatureInvalid,
    SignatureMissing,
    StaleSignature,
)
from clearinghouse.protocol.keys import Signer

__all__ = [
    "COVERED_COMPONENTS",
    "LABEL",
    "REQUIRED_PARAMETERS",
    "SignedHeaders",
    "VerifiedRequest",
    "content_digest",
    "new_nonce",
    "sign_request",
    "verify_request",
    "verify_request_body",
    "verify_request_headers",
]

#: The signature's label, and what it must cover and carry (RFC 9421 sections 2, 2.3).
LABEL: Final = "ch"
COVERED_COMPONENTS: Final = ("@method", "@target-uri", "content-digest")
REQUIRED_PARAMETERS: Final = ("created", "keyid", "nonce")

_DIGEST_ALGORITHM: Final = "sha-256"
_DIGEST_COMPONENT: Final = '"content-digest"'  # its key in VerifyResult.covered_components
_VERIFY_ERRORS: Final = (hms.HTTPMessageSignaturesException, ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class VerifiedRequest:
    """What a verified request signature says; only :func:`verify_request_body` makes one.

    ``covered`` uses the library's component syntax: ``"@method"``, ``'"content-digest";sf'``.
    """

    key_id: str
    created: datetime
    nonce: str
    covered: tuple[str, ...]


@dataclass(frozen=True)
class _ReceivedRequest:
    """A received request in the library's message interface (method, URL, header lines)."""

    method: str
    url: str
    headers: httpx.Headers


class _Verifier(hms.HTTPMessageVerifier):
    """The library's verifier minus its wall-clock check: step (3) uses the injected ``now``."""

    def validate_created_and_expires(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class SignedHeaders:
    """A request whose signature verified over its headers, its body not yet checked;
    only :func:`verify_request_headers` makes one, :func:`verify_request_body` finishes it.
    """

    key_id: str
    created: datetime
    nonce: str
    covered: tuple[str, ...]
    _message: _ReceivedRequest = field(repr=False)
    _verifier: _Verifier = field(repr=False)
    _result: Any = field(repr=False)


def content_digest(body: bytes) -> str:
    """Return the RFC 9530 ``Content-Digest`` value of ``body``: ``sha-256=:<base64>:``."""
    return hms.ContentDigest.create(bytes(body))


def new_nonce() -> str:
    """Return a fresh nonce: 128 random bits, base64url without padding (22 characters)."""
    return secrets.token_urlsafe(16)


def sign_request(
    request: httpx.Request,
    *,
    key: Signer,
    key_id: str,
    created: datetime,
    nonce: str | None = None,
) -> httpx.Request:
    """Sign ``request`` in place for a peer and return it; sign after the last change to it.

    Sets ``Content-Digest`` (sha-256 of the body, replacing any), ``Signature-Input`` and
    ``Signature`` (label ``ch``) over ``str(request.url)``, which is what httpx sends.
    ``created`` must be timezone-aware; ``nonce`` defaults to :func:`new_nonce`. The
    library builds the signature base and the headers (``prepare``/``apply``, its way
    for a key it does not hold); ``key`` signs the base, wherever the key is kept.

    :raises NodeError: the body is an unread stream, ``created`` is naive, or the
        library refuses the request (e.g. a URL outside RFC 3986 syntax).
    """
    _require_aware(created, "created")
    try:
        body = request.content
    except httpx.RequestNotRead as exc:
        raise NodeError("cannot sign a streaming request body; read() it first") from exc
    request.headers.pop("Content-Digest", None)
    signer = hms.HTTPMessageSigner(signature_algorithm=hms.algorithms.ED25519)
    try:
        prepared = signer.prepare(
            request,
            key_id=key_id,
            created=created,
            nonce=new_nonce() if nonce is None else nonce,
            label=LABEL,
            include_alg=True,
            covered_component_ids=COVERED_COMPONENTS,
            body=body,
        )
        signer.apply(request, prepared, key.sign(prepared.signature_base))
    except hms.HTTPMessageSignaturesException as exc:
        raise NodeError(f"cannot sign the request: {exc}") from exc
    return request


def verify_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    body: bytes,
    resolve_key: Callable[[str], Ed25519PublicKey],
    now: datetime,
    window: timedelta,
) -> VerifiedRequest:
    """Verify a peer's signed request and return what the signature vouches for.

    ``url`` is the target URI as sent (``scheme://host:port/path?query``), ``body`` the exact
    bytes received. ``resolve_key(key_id)`` returns the peer's key or raises
    ``UnknownKeyId`` (propagated). The nonce is returned, not checked. The same as
    :func:`verify_request_headers` then :func:`verify_request_body`.

    :raises SignatureMissing: (1) a Signature, Signature-Input or Content-Digest header is absent.
    :raises RequestSignatureInvalid: (2) the signature lacks a required component or
        parameter, or a header is malformed; (4) the signature does not verify.
    :raises StaleSignature: (3) ``created`` is more than ``window`` away from ``now``.
    :raises DigestMismatch: (5) no sha-256 member, or the body does not match.
    """
    signed = verify_request_headers(
        method=method,
        url=url,
        headers=headers,
        resolve_key=resolve_key,
        now=now,
        window=window,
    )
    return verify_request_body(signed, body)


def verify_request_headers(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    resolve_key: Callable[[str], Ed25519PublicKey],
    now: datetime,
    window: timedelta,
) -> SignedHeaders:
    """Steps (1) to (4) of :func:`verify_request`, from the headers alone (no body read).

    The signature covers the ``Content-Digest`` header, not the body: once it verifies,
    the peer is known and only :func:`verify_request_body` remains.

    :raises SignatureMissing: (1) a Signature, Signature-Input or Content-Digest header is absent.
    :raises RequestSignatureInvalid: (2) the signature lacks a required component or
        parameter, or a header is malformed; (4) the signature does not verify.
    :raises StaleSignature: (3) ``created`` is more than ``window`` away from ``now``.
    :raises UnknownKeyId: (4) from ``resolve_key``, before any signature is checked.
    """
    # Plan:
    # (1): the Signature, Signature-Input and Content-Digest headers are present.
    # (2): select the signature labelled "ch" (or the only one); it covers @method,
    #      @target-uri and content-digest and carries created, keyid and nonce.
    # (3): created is within `window` of `now` (either direction); expires, if any, is not past.
    # (4): the library verifies the signature with the key `resolve_key(keyid)` returns.
    # (5) is verify_request_body: the signed Content-Digest has a sha-256 member and
    #     every member matches the body.
    _require_aware(now, "now")
    fields = httpx.Headers(headers)

    # (1): the three headers are present.
    for name in ("Signature", "Signature-Input", "Content-Digest"):
        if name not in fields:
            raise SignatureMissing(f"the {name} header is missing", header=name)

    # (2): one signature, with the components and parameters we require.
    label, signature_input, signature = _select_signature(fields)
    components, params = signature_input
    names = {name for name, item_params in components if not item_params}
    missing = [name for name in COVERED_COMPONENTS if name not in names]
    if missing:
        raise RequestSignatureInvalid(f"the signature does not cover {', '.join(missing)}")
    missing = [name for name in REQUIRED_PARAMETERS if name not in params]
    if missing:
        raise RequestSignatureInvalid(f"the signature lacks the parameter(s) {', '.join(missing)}")
    key_id, nonce = params["keyid"], params["nonce"]
    if not isinstance(key_id, str) or not isinstance(nonce, str) or not nonce:
        raise RequestSignatureInvalid("keyid and nonce must be non-empty strings")

    # (3): created (and expires) against the injected clock.
    created = _timestamp(params["created"], "created")
    skew = now - created
    if abs(skew) > window:
        way = "past" if skew > timedelta(0) else "future"
        off = f"{abs(skew).total_seconds():.0f} s in the {way}"
        limit = f"the window is {window.total_seconds():.0f} s"
        raise StaleSignature(f"created {off}; {limit}", skew_seconds=skew.total_seconds())
    if "expires" in params and _timestamp(params["expires"], "expires") < now:
        raise StaleSignature("the signature has expired")

    # (4): the library verifies the selected signature only, with the resolved key.
    public_key = resolve_key(key_id)
    message = _ReceivedRequest(method, url, _only(fields, label, signature_input, signature))
    verifier = _Verifier(
        signature_algorithm=hms.algorithms.ED25519,
        key_resolver=hms.MappingKeyResolver(public_keys={key_id: public_key}, private_keys={}),
    )
    try:
        (result,) = verifier.verify(message, max_age=None, require_components=COVERED_COMPONENTS)
    except _VERIFY_ERRORS as exc:
        raise RequestSignatureInvalid(f"the signature does not verify: {exc}") from exc

    # The library verified exactly the member selected in (2): report its components.
    covered = tuple(name if not p else http_sf.ser((name, p)) for name, p in components)
    return SignedHeaders(key_id, created, nonce, covered, message, verifier, result)


def verify_request_body(signed: SignedHeaders, body: bytes) -> VerifiedRequest:
    """Step (5) of :func:`verify_request`: ``body`` (the exact bytes received) matches the
    signed ``Content-Digest``, which names sha-256.

    :raises DigestMismatch: no sha-256 member, or the body does not match.
    """
    # (5): the signed digest names sha-256 and matches the body.
    try:
        signed_digest = signed._result.covered_components[_DIGEST_COMPONENT]
        digests = http_sf.parse(signed_digest.encode(), tltype="dictionary")
        if not isinstance(digests, dict) or _DIGEST_ALGORITHM not in digests:
            raise DigestMismatch(f"Content-Digest has no {_DIGEST_ALGORITHM} member")
        signed._verifier.verify_body(signed._message, [signed._result], bytes(body))
    except _VERIFY_ERRORS as exc:
        raise DigestMismatch(f"the body does not match Content-Digest: {exc}") from exc
    return VerifiedRequest(
        key_id=signed.key_id, created=signed.created, nonce=signed.nonce, covered=signed.covered
    )


def _select_signature(fields: httpx.Headers) -> tuple[str, Any, Any]:
    """Return the label, Signature-Input member and Signature member to verify (step 2)."""
    inputs = _parse_dictionary(fields["signature-input"], "Signature-Input")
    signatures = _parse_dictionary(fields["signature"], "Signature")
    if LABEL in inputs:
        label = LABEL
    elif len(inputs) == 1:
        (label,) = inputs
    else:
        raise RequestSignatureInvalid(f'no signature labelled "{LABEL}" in Signature-Input')
    if label not in signatures:
        raise RequestSignatureInvalid(f'the Signature header has no member "{label}"')
    components = inputs[label][0]
    if not isinstance(components, list) or not all(isinstance(n, str) for n, _ in components):
        raise RequestSignatureInvalid(f'Signature-Input "{label}" is not a list of components')
    return label, inputs[label], signatures[label]


def _parse_dictionary(value: str, header: str) -> dict[str, Any]:
    """Parse a Structured Field Dictionary header, refusing duplicate labels (as the library)."""

    def refuse(key: str, context: str) -> None:
        if context == "dictionary":
            raise ValueError(f'duplicate member "{key}"')

    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary", on_duplicate_key=refuse)
    except (ValueError, TypeError) as exc:
        raise RequestSignatureInvalid(f"the {header} header is malformed: {exc}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise RequestSignatureInvalid(f"the {header} header is empty")
    return parsed


def _only(fields: httpx.Headers, label: str, signature_input: Any, signature: Any) -> httpx.Headers:
    """The headers with Signature-Input and Signature reduced to the selected member."""
    kept = [(k, v) for k, v in fields.multi_items() if k not in ("signature", "signature-input")]
    kept.append(("Signature-Input", http_sf.ser({label: signature_input})))
    kept.append(("Signature", http_sf.ser({label: signature})))
    return httpx.Headers(kept)


def _timestamp(value: object, name: str) -> datetime:
    """An RFC 9421 integer timestamp parameter as an aware UTC datetime."""
    if type(value) is not int:
        raise RequestSignatureInvalid(f'the "{name}" parameter is not an integer')
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise RequestSignatureInvalid(f'the "{name}" parameter is out of range') from exc


def _require_aware(moment: datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise NodeError(f"{name} must be a timezone-aware datetime")
