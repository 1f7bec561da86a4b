"""Delivery receipts: the receiving node's signed word on each packet of a batch.

DESIGN.md, "Node-to-node transport": ``POST /v1/packets`` answers with one receipt
per packet. A receipt is a compact JWS (EdDSA, ``typ: clearinghouse-receipt+jwt``)
signed by the receiver over::

    {"iss": receiver, "aud": sender, "iat": ..., "index": i,
     "jti": ..., "sha256": ..., "status": "accepted" | "duplicate" | "rejected"
     | "quarantined" | "deferred", "reason": {"code": ..., "detail": ...}}

``jti``/``sha256`` are absent when the packet was too malformed to name itself.
The sender verifies each receipt against the manifest and keeps it: proof that
the receiver had the packet, or of why it refused it.

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

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clearinghouse.protocol.errors import MalformedPacket
from clearinghouse.protocol.keys import Signer
from clearinghouse.protocol.manifest import Manifest, signing_key
from clearinghouse.protocol.packet import PacketRef
from clearinghouse.protocol.sdjwt import decode_jws, numeric_date, sign_jws, verify_jws

__all__ = [
    "MAX_REASON",
    "RECEIPT_TYP",
    "RETRYABLE",
    "STATUSES",
    "Receipt",
    "bound_reason",
    "sign_receipt",
    "verify_receipt",
]

RECEIPT_TYP = "clearinghouse-receipt+jwt"
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
    if ref is not None:
        payload["jti"], payload["sha256"] = ref.jti, ref.digest
    if reason_code is not None:
        payload["reason"] = {"code": reason_code, "detail": bound_reason(reason or "")}
        if retry_after is not None:
            payload["reason"]["retry_after"] = retry_after
    return sign_jws({"alg": "EdDSA", "typ": RECEIPT_TYP, "kid": kid}, payload, key)


def verify_receipt(jws: str, manifest: Manifest, *, sender: str) -> Receipt:
    """Check a receipt's signature (key valid at its ``iat``) and that it is for ``sender``.

    Raises :class:`MalformedPacket`, :class:`SignatureInvalid` or a trust error.
    """
    decoded = decode_jws(jws)
    header, p = decoded.header, decoded.payload
    if header.get("typ") != RECEIPT_TYP:
        raise MalformedPacket(f"receipt typ is {header.get('typ')!r}, expected {RECEIPT_TYP!r}")
    receiver, kid, iat = p.get("iss"), header.get("kid"), p.get("iat")
    if not isinstance(receiver, str) or not isinstance(kid, str) or not isinstance(iat, int):
        raise MalformedPacket("receipt lacks iss, kid or iat")
    if p.get("aud") != sender:
        raise MalformedPacket(f"receipt is addressed to {p.get('aud')!r}, not {sender!r}")
    status, index = p.get("status"), p.get("index")
    if status not in STATUSES or not isinstance(index, int):
        raise MalformedPacket(f"receipt status {status!r} or index {index!r} is invalid")
    issued_at = numeric_date(iat, "iat")
    verify_jws(decoded, signing_key(manifest, receiver, kid, issued_at))
    jti, digest = p.get("jti"), p.get("sha256")
    ref = PacketRef(jti, digest) if isinstance(jti, str) and isinstance(digest, str) else None
    reason_claim = p.get("reason")
    reason: dict[str, Any] = reason_claim if isinstance(reason_claim, dict) else {}
    code, detail, retry_after = reason.get("code"), reason.get("detail"), reason.get("retry_after")
    return Receipt(
        receiver=receiver,
        sender=sender,
        index=index,
        ref=ref,
        status=status,
        reason_code=code[:MAX_REASON] if isinstance(code, str) else None,
        # liberal in what is read: a longer detail (an older peer) is cut, not refused
        reason=bound_reason(detail) if isinstance(detail, str) else None,
        issued_at=issued_at,
        jws=jws,
        retry_after=retry_after
        if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after >= 0
        else None,
    )
