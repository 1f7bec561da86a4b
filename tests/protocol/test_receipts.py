"""Receipts: the statuses, the retryable ``deferred``, a bounded reason, older peers' receipts."""

from __future__ import annotations

from typing import Any

import pytest

from clearinghouse.protocol.errors import MalformedPacket
from clearinghouse.protocol.packet import PacketRef
from clearinghouse.protocol.receipts import (
    MAX_REASON,
    RECEIPT_TYP,
    RETRYABLE,
    STATUSES,
    bound_reason,
    sign_receipt,
    verify_receipt,
)
from clearinghouse.protocol.sdjwt import sign_jws
from tests.support import NOW, Federation

REF = PacketRef("0190a0a0-0000-7000-8000-000000000000", "ab" * 32)


def receipt(fed: Federation, **kw: Any) -> str:
    fields: dict[str, Any] = {
        "receiver": "undp",
        "sender": "mission",
        "index": 0,
        "ref": REF,
        "status": "accepted",
        "key": fed.keys["undp"],
        "kid": fed.kid("undp"),
        "now": NOW,
    }
    return sign_receipt(**(fields | kw))


def raw_receipt(fed: Federation, payload: dict[str, Any]) -> str:
    """A receipt as any peer (an older release too) may have signed it."""
    header = {"alg": "EdDSA", "typ": RECEIPT_TYP, "kid": fed.kid("undp")}
    base = {"iss": "undp", "aud": "mission", "iat": int(NOW.timestamp()), "index": 0}
    return sign_jws(header, base | payload, fed.keys["undp"])


def test_each_status_round_trips_and_only_deferred_is_retryable(federation: Federation) -> None:
    assert STATUSES == ("accepted", "duplicate", "rejected", "quarantined", "deferred")
    assert RETRYABLE == ("deferred",)
    for status in STATUSES:
        read = verify_receipt(
            receipt(federation, status=status), federation.manifest, sender="mission"
        )
        assert read.status == status
        assert read.delivered == (status in ("accepted", "duplicate"))
        assert read.retryable == (status == "deferred")


def test_a_deferred_receipt_says_when_to_try_again(federation: Federation) -> None:
    jws = receipt(
        federation,
        status="deferred",
        reason_code="issued-in-the-future",
        reason="packet is issued at ..., in the future",
        retry_after=250,
    )
    read = verify_receipt(jws, federation.manifest, sender="mission")
    assert (read.status, read.reason_code, read.retry_after) == (
        "deferred",
        "issued-in-the-future",
        250,
    )
    assert read.retryable and not read.delivered


def test_a_long_reason_is_cut_when_signed(federation: Federation) -> None:
    jws = receipt(federation, status="rejected", reason_code="unknown-key", reason="k" * 5000)
    read = verify_receipt(jws, federation.manifest, sender="mission")
    assert read.reason is not None and len(read.reason) == MAX_REASON
    assert read.reason == "k" * (MAX_REASON - 1) + "\u2026"
    short = receipt(federation, status="rejected", reason_code="x", reason="short")
    assert verify_receipt(short, federation.manifest, sender="mission").reason == "short"
    assert bound_reason("a" * MAX_REASON) == "a" * MAX_REASON  # exactly the bound: kept


def test_an_older_peers_receipts_still_verify(federation: Federation) -> None:
    """Liberal in what is read: a longer detail is cut, not refused; a receipt without
    ``retry_after`` or with a bad one reads as giving none."""
    long = raw_receipt(
        federation,
        {"status": "rejected", "jti": REF.jti, "sha256": REF.digest,
         "reason": {"code": "malformed-packet", "detail": "d" * 3000}},
    )  # fmt: skip
    read = verify_receipt(long, federation.manifest, sender="mission")
    assert (read.status, read.ref, read.reason_code) == ("rejected", REF, "malformed-packet")
    assert read.reason == "d" * (MAX_REASON - 1) + "\u2026" and read.retry_after is None
    assert read.jws == long  # kept as signed
    for hint in (True, -5, "600", 1.5):
        odd = raw_receipt(
            federation,
            {"status": "deferred", "reason": {"code": "c", "detail": "", "retry_after": hint}},
        )
        assert verify_receipt(odd, federation.manifest, sender="mission").retry_after is None
    plain = raw_receipt(federation, {"status": "accepted", "jti": REF.jti, "sha256": REF.digest})
    assert verify_receipt(plain, federation.manifest, sender="mission").reason is None


def test_an_unknown_status_is_still_refused(federation: Federation) -> None:
    with pytest.raises(MalformedPacket, match="status 'later'"):
        verify_receipt(
            raw_receipt(federation, {"status": "later"}), federation.manifest, sender="mission"
        )
