"""Delivery receipts: the receiving node's signed word on each packet of a batch.

DESIGN.md, "Node-to-node transport": ``POST /v1/packets`` answers with evidence per
packet (jti, digest, status with reason), in one of two forms.

A *batch receipt* (what a sender asks for with ``"receipt": "batch"`` in the request)
is one compact JWS (EdDSA, ``typ: clearinghouse-batch-receipt+jwt``) over the whole
batch, signed by the receiver::

    {"iss": receiver, "aud": sender, "iat": ...,
     "request": SHA-256 hex of the request body the batch came in,
     "views": [{"index": 0, "jti": ..., "sha256": ..., "status": ...,
                "reason": {"code": ..., "detail": ..., "retry_after": ...}}, ...]}

with one entry per view, in batch order (``index`` is the entry's position). One
signature covers the batch, yet each entry is still evidence for its view: the
sender reads the batch as per-view :class:`Receipt` objects (:func:`verify_batch_receipt`),
and ``request`` binds them to exactly the body it sent. A list longer than the
batch could be (``max_views``) is refused before any entry is read.

A *per-view receipt* (the older form, still answered to a sender that does not ask for
a batch, and found in stored data) is a compact JWS (``typ: clearinghouse-receipt+jwt``)
per view::

    {"iss": receiver, "aud": sender, "iat": ..., "index": i,
     "jti": ..., "sha256": ..., "status": "accepted" | "duplicate" | "rejected"
     | "quarantined" | "deferred", "reason": {"code": ..., "detail": ...}}

In either form ``jti``/``sha256`` are absent when the packet was too malformed to name
itself. The sender verifies the receipts against the manifest and keeps them: proof
that the receiver had the packet, or of why it refused it. Evidence kept for one view
is a receipt's text and the view's position in it (:func:`verify_view_receipt`: 0 for
a per-view receipt).

The statuses:

* ``accepted``: the receiver stored the packet now; ``duplicate``: it held it already.
  Both are final: the packet is delivered.
* ``rejected``: refused for good (bad signature, schema, handling, ...), with the reason;
  ``quarantined``: refused for good as over-disclosure (the view shows a field the
  policy withholds from the receiver). Sending the same view again cannot help.
* ``deferred``: refused *for now* (:data:`RETRYABLE`): the view may be taken later
  unchanged. The one reason today is ``issued-in-the-future`` (its ``iat`` is ahead of
  the receiver's clock beyond the allowed skew); clocks converge, so the sender tries
  again later, no sooner than ``reason.retry_after`` seconds (when given), and gives up
  after a bound of its own. A sender that does not know ``deferred`` (an older
  release) cannot verify such a receipt and retries the view later anyway.

``reason.detail`` is at most :data:`MAX_REASON` characters (longer text is cut, ending
in an ellipsis); a receipt from an older peer with a longer detail still verifies, and
its detail is cut the same way when read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clearinghouse.protocol.errors import MalformedPacket
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import Manifest, signing_key
from clearinghouse.protocol.packet import PacketRef
from clearinghouse.protocol.sdjwt import Jws, decode_jws, numeric_date, sign_jws, verify_jws

__all__ = [
    "BATCH_RECEIPT_TYP",
    "MAX_BATCH_VIEWS",
    "MAX_REASON",
    "RECEIPT_TYP",
    "RETRYABLE",
    "STATUSES",
    "BatchReceipt",
    "Receipt",
    "ReceiptEntry",
    "bound_reason",
    "sign_batch_receipt",
    "sign_receipt",
    "verify_batch_receipt",
    "verify_receipt",
    "verify_view_receipt",
]

RECEIPT_TYP = "clearinghouse-receipt+jwt"
BATCH_RECEIPT_TYP = "clearinghouse-batch-receipt+jwt"
#: The most views a batch receipt may list unless the reader says otherwise (a node's
#: ``max_batch`` by default; a sender passes the number of views it sent).
MAX_BATCH_VIEWS = 5000
Status = Literal["accepted", "duplicate", "rejected", "quarantined", "deferred"]
STATUSES: tuple[str, ...] = ("accepted", "duplicate", "rejected", "quarantined", "deferred")
#: Statuses that refuse a view for now only: the sender may send it again later.
RETRYABLE: tuple[str, ...] = ("deferred",)
#: The most characters of a reason's detail a receipt carries (or is read with).
MAX_REASON = 500


def bound_reason(detail: str) -> str:
    """``detail`` cut to :data:`MAX_REASON` characters, ending in an ellipsis if cut."""
    if len(detail) <= MAX_REASON:
        return detail
    return detail[: MAX_REASON - 1] + "\u2026"


@dataclass(frozen=True)
class Receipt:
    receiver: str
    sender: str
    index: int
    ref: PacketRef | None
    status: str
    reason_code: str | None
    reason: str | None
    issued_at: datetime
    jws: str
    #: for a retryable status, the receiver's hint: seconds until it may take the view
    retry_after: int | None = None

    @property
    def delivered(self) -> bool:
        """The receiver holds the packet (now or from before)."""
        return self.status in ("accepted", "duplicate")

    @property
    def retryable(self) -> bool:
        """The receiver refused the view for now only (:data:`RETRYABLE`)."""
        return self.status in RETRYABLE


def sign_receipt(
    *,
    receiver: str,
    sender: str,
    index: int,
    ref: PacketRef | None,
    status: Status,
    key: Signer,
    kid: str,
    now: datetime,
    reason_code: str | None = None,
    reason: str | None = None,
    retry_after: int | None = None,
) -> str:
    """Sign the receipt for view ``index`` of a batch; ``reason`` is cut to
    :data:`MAX_REASON` characters; ``retry_after`` (seconds) only with a reason."""
    payload: dict[str, Any] = {
        "iss": receiver,
        "aud": sender,
        "iat": int(now.timestamp()),
        "index": index,
        "status": status,
    }
    payload |= _evidence(ref, reason_code, reason, retry_after)
    return sign_jws({"alg": "EdDSA", "typ": RECEIPT_TYP, "kid": kid}, payload, key)


def verify_receipt(jws: str, manifest: Manifest, *, sender: str) -> Receipt:
    """Check a per-view receipt's signature (key valid at its ``iat``) and that it is for
    ``sender``.

    Raises :class:`MalformedPacket`, :class:`SignatureInvalid` or a trust error.
    """
    decoded = decode_jws(jws)
    p = decoded.payload
    receiver, issued_at = _signed_by(decoded, manifest, RECEIPT_TYP, sender=sender)
    status, index = p.get("status"), p.get("index")
    if status not in STATUSES or not isinstance(index, int):
        raise MalformedPacket(f"receipt status {status!r} or index {index!r} is invalid")
    verify_jws(decoded, signing_key(manifest, receiver, decoded.header["kid"], issued_at))
    return _receipt(p, receiver=receiver, sender=sender, index=index, at=issued_at, jws=jws)


# -- one receipt per batch ---------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptEntry:
    """What a batch receipt says of view ``index``: what the receiver signs per view."""

    index: int
    ref: PacketRef | None
    status: Status
    reason_code: str | None = None
    reason: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class BatchReceipt:
    """A verified batch receipt: who signed it, for whom, when, over which request body
    (``request``: its SHA-256, hex), and one :class:`Receipt` per view, in batch order
    (each with ``jws`` the batch receipt's text)."""

    receiver: str
    sender: str
    issued_at: datetime
    request: str
    views: tuple[Receipt, ...]
    jws: str


def sign_batch_receipt(
    *,
    receiver: str,
    sender: str,
    request_sha256: str,
    entries: Sequence[ReceiptEntry],
    key: Signer,
    kid: str,
    now: datetime,
) -> str:
    """Sign one receipt for a whole batch: ``entries``, one per view in batch order
    (entry ``i`` has index ``i``), for the request whose body has SHA-256
    ``request_sha256`` (hex). Each reason is cut to :data:`MAX_REASON` characters."""
    views = []
    for position, entry in enumerate(entries):
        if entry.index != position:
            raise ValueError(f"entry {position} has index {entry.index}: not in batch order")
        view: dict[str, Any] = {"index": entry.index, "status": entry.status}
        view |= _evidence(entry.ref, entry.reason_code, entry.reason, entry.retry_after)
        views.append(view)
    payload = {
        "iss": receiver,
        "aud": sender,
        "iat": int(now.timestamp()),
        "request": request_sha256,
        "views": views,
    }
    return sign_jws({"alg": "EdDSA", "typ": BATCH_RECEIPT_TYP, "kid": kid}, payload, key)


def verify_batch_receipt(
    jws: str,
    manifest: Manifest,
    *,
    sender: str,
    request_sha256: str | None = None,
    max_views: int = MAX_BATCH_VIEWS,
) -> BatchReceipt:
    """Check a batch receipt: its signature (key valid at its ``iat``), that it is for
    ``sender``, over the request body with SHA-256 ``request_sha256`` (when given), and
    that it lists at most ``max_views`` well-formed views in batch order.

    Raises :class:`MalformedPacket`, :class:`SignatureInvalid` or a trust error.
    """
    decoded = decode_jws(jws)
    p = decoded.payload
    receiver, issued_at = _signed_by(decoded, manifest, BATCH_RECEIPT_TYP, sender=sender)
    request, views = p.get("request"), p.get("views")
    if not isinstance(request, str) or not isinstance(views, list):
        raise MalformedPacket("batch receipt lacks its request digest or views list")
    if request_sha256 is not None and request != request_sha256:
        raise MalformedPacket("batch receipt is for another request body")
    if len(views) > max_views:
        raise MalformedPacket(f"batch receipt lists {len(views)} views, at most {max_views}")
    for position, view in enumerate(views):
        if not isinstance(view, dict):
            raise MalformedPacket(f"batch receipt view {position} is not an object")
        status, index = view.get("status"), view.get("index")
        if status not in STATUSES or type(index) is not int or index != position:
            raise MalformedPacket(
                f"batch receipt view {position}: status {status!r} or index {index!r} is invalid"
            )
    verify_jws(decoded, signing_key(manifest, receiver, decoded.header["kid"], issued_at))
    return BatchReceipt(
        receiver=receiver,
        sender=sender,
        issued_at=issued_at,
        request=request,
        views=tuple(
            _receipt(view, receiver=receiver, sender=sender, index=i, at=issued_at, jws=jws)
            for i, view in enumerate(views)
        ),
        jws=jws,
    )


def verify_view_receipt(jws: str, manifest: Manifest, *, sender: str, position: int) -> Receipt:
    """The evidence kept for one view: the receipt for the view at ``position`` of
    receipt ``jws``, a batch receipt or (``position`` 0) a per-view receipt.

    Raises :class:`MalformedPacket`, :class:`SignatureInvalid` or a trust error.
    """
    if decode_jws(jws).header.get("typ") == BATCH_RECEIPT_TYP:
        views = verify_batch_receipt(jws, manifest, sender=sender).views
        if not 0 <= position < len(views):
            raise MalformedPacket(f"batch receipt lists no view {position}")
        return views[position]
    if position != 0:
        raise MalformedPacket(f"a per-view receipt holds one view, not view {position}")
    return verify_receipt(jws, manifest, sender=sender)


# -- what both forms share ---------------------------------------------------------------


def _evidence(
    ref: PacketRef | None, reason_code: str | None, reason: str | None, retry_after: int | None
) -> dict[str, Any]:
    """The claims naming a view and why it was refused (``reason`` cut to
    :data:`MAX_REASON`; ``retry_after`` only with a reason)."""
    claims: dict[str, Any] = {}
    if ref is not None:
        claims["jti"], claims["sha256"] = ref.jti, ref.digest
    if reason_code is not None:
        claims["reason"] = {"code": reason_code, "detail": bound_reason(reason or "")}
        if retry_after is not None:
            claims["reason"]["retry_after"] = retry_after
    return claims


def _signed_by(decoded: Jws, manifest: Manifest, typ: str, *, sender: str) -> tuple[str, datetime]:
    """The receiver that says it signed ``decoded`` (of type ``typ``, for ``sender``) and
    when; the signature itself is checked by the caller, after the payload's shape."""
    header, p = decoded.header, decoded.payload
    if header.get("typ") != typ:
        raise MalformedPacket(f"receipt typ is {header.get('typ')!r}, expected {typ!r}")
    receiver, kid, iat = p.get("iss"), header.get("kid"), p.get("iat")
    if not isinstance(receiver, str) or not isinstance(kid, str) or not isinstance(iat, int):
        raise MalformedPacket("receipt lacks iss, kid or iat")
    if p.get("aud") != sender:
        raise MalformedPacket(f"receipt is addressed to {p.get('aud')!r}, not {sender!r}")
    return receiver, numeric_date(iat, "iat")


def _receipt(
    claims: Mapping[str, Any], *, receiver: str, sender: str, index: int, at: datetime, jws: str
) -> Receipt:
    """One view's :class:`Receipt` from its (already checked) claims, read liberally: a
    longer detail (an older peer) is cut, not refused; an odd ``retry_after`` is none."""
    jti, digest = claims.get("jti"), claims.get("sha256")
    ref = PacketRef(jti, digest) if isinstance(jti, str) and isinstance(digest, str) else None
    reason_claim = claims.get("reason")
    reason: dict[str, Any] = reason_claim if isinstance(reason_claim, dict) else {}
    code, detail, retry_after = reason.get("code"), reason.get("detail"), reason.get("retry_after")
    return Receipt(
        receiver=receiver,
        sender=sender,
        index=index,
        ref=ref,
        status=claims["status"],
        reason_code=code[:MAX_REASON] if isinstance(code, str) else None,
        reason=bound_reason(detail) if isinstance(detail, str) else None,
        issued_at=at,
        jws=jws,
        retry_after=retry_after
        if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after >= 0
        else None,
    )
