"""Delivery receipts: the receiving node's signed word on each packet of a batch.

DESIGN.md, "Node-to-node transport": ``POST /v1/packets`` answers with one receipt
per packet. A receipt is a compact JWS (EdDSA, ``typ: clearinghouse-receipt+jwt``)
signed by the receiver over::

    {"iss": receiver, "aud": sender, "iat": ..., "index": i,
     "jti": ..., "sha256": ..., "status": "accepted" | "duplicate" | "rejected"
     | "quarantined", "reason": {"code": ..., "detail": ...}}

``jti``/``sha256`` are absent when the packet was too malformed to name itself.
The sender verifies each receipt against the manifest and keeps it: proof that
the receiver had the packet, or of why it refused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.errors import MalformedPacket
from protocol.manifest import Manifest, signing_key
from protocol.packet import PacketRef
from protocol.sdjwt import decode_jws, numeric_date, sign_jws, verify_jws

__all__ = ["RECEIPT_TYP", "STATUSES", "Receipt", "sign_receipt", "verify_receipt"]

RECEIPT_TYP = "clearinghouse-receipt+jwt"
Status = Literal["accepted", "duplicate", "rejected", "quarantined"]
STATUSES: tuple[str, ...] = ("accepted", "duplicate", "rejected", "quarantined")


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

    @property
    def delivered(self) -> bool:
        """The receiver holds the packet (now or from before)."""
        return self.status in ("accepted", "duplicate")


def sign_receipt(
    *,
    receiver: str,
    sender: str,
    index: int,
    ref: PacketRef | None,
    status: Status,
    key: Ed25519PrivateKey,
    kid: str,
    now: datetime,
    reason_code: str | None = None,
    reason: str | None = None,
) -> str:
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
        payload["reason"] = {"code": reason_code, "detail": reason or ""}
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
    return Receipt(
        receiver=receiver,
        sender=sender,
        index=index,
        ref=ref,
        status=status,
        reason_code=reason.get("code"),
        reason=reason.get("detail"),
        issued_at=issued_at,
        jws=jws,
    )
