"""Batch receipts: one signature over a batch's list, still read as evidence per view.

A round trip keeps every view's status, reference and reason; anything changed after
signing, addressed to another sender, over another request body, of another type or
signed by another key is refused; the list is bounded; and the evidence kept for one
view (a receipt's text and the view's position) is read from either form.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from clearinghouse.protocol.errors import MalformedPacket, ProtocolError, SignatureInvalid
from clearinghouse.protocol.packet import PacketRef
from clearinghouse.protocol.receipts import (
    BATCH_RECEIPT_TYP,
    MAX_REASON,
    RECEIPT_TYP,
    ReceiptEntry,
    sign_batch_receipt,
    sign_receipt,
    verify_batch_receipt,
    verify_receipt,
    verify_view_receipt,
)
from clearinghouse.protocol.sdjwt import b64url_encode, compact_json, decode_jws, sign_jws
from tests.support import NOW, Federation

BODY = b'{"views":["a","b","c"],"receipt":"batch"}'
REQUEST = hashlib.sha256(BODY).hexdigest()
REFS = [PacketRef(f"0190a0a0-0000-7000-8000-00000000000{i}", f"{i:02x}" * 32) for i in range(3)]
ENTRIES = [
    ReceiptEntry(0, REFS[0], "accepted"),
    ReceiptEntry(1, REFS[1], "rejected", "unknown-key", "no key 'k' for mission"),
    ReceiptEntry(2, None, "deferred", "issued-in-the-future", "ahead", retry_after=90),
]


def batch(fed: Federation, entries: list[ReceiptEntry] = ENTRIES, **kw: Any) -> str:
    fields: dict[str, Any] = {
        "receiver": "undp",
        "sender": "mission",
        "request_sha256": REQUEST,
        "entries": entries,
        "key": fed.keys["undp"],
        "kid": fed.kid("undp"),
        "now": NOW,
    }
    return sign_batch_receipt(**(fields | kw))


def resigned(fed: Federation, jws: str, edit: Any, *, header: Any = None) -> str:
    """``jws`` with its payload (and header) changed by ``edit``, signed again by undp."""
    decoded = decode_jws(jws)
    payload, head = dict(decoded.payload), dict(decoded.header)
    edit(payload)
    if header is not None:
        header(head)
    return sign_jws(head, payload, fed.keys["undp"])


def test_a_batch_receipt_round_trips_view_by_view(federation: Federation) -> None:
    jws = batch(federation)
    read = verify_batch_receipt(jws, federation.manifest, sender="mission", request_sha256=REQUEST)
    assert (read.receiver, read.sender, read.request, read.jws) == ("undp", "mission", REQUEST, jws)
    assert read.issued_at == NOW.replace(microsecond=0)
    assert [(v.index, v.ref, v.status) for v in read.views] == [
        (0, REFS[0], "accepted"),
        (1, REFS[1], "rejected"),
        (2, None, "deferred"),
    ]
    accepted, rejected, deferred = read.views
    assert accepted.delivered and accepted.reason_code is None and accepted.jws == jws
    assert (rejected.reason_code, rejected.reason) == ("unknown-key", "no key 'k' for mission")
    assert not rejected.delivered and not rejected.retryable
    assert deferred.retryable and deferred.retry_after == 90
    assert all(v.receiver == "undp" and v.sender == "mission" for v in read.views)
    header = {"alg": "EdDSA", "typ": BATCH_RECEIPT_TYP, "kid": federation.kid("undp")}
    assert decode_jws(jws).header == header


def test_without_a_request_digest_to_compare_the_receipt_still_verifies(
    federation: Federation,
) -> None:
    read = verify_batch_receipt(batch(federation), federation.manifest, sender="mission")
    assert read.request == REQUEST and len(read.views) == 3


def test_an_empty_batch_and_a_long_reason(federation: Federation) -> None:
    assert (
        verify_batch_receipt(batch(federation, []), federation.manifest, sender="mission").views
        == ()
    )
    long = [ReceiptEntry(0, None, "rejected", "malformed-packet", "d" * 5000)]
    (view,) = verify_batch_receipt(
        batch(federation, long), federation.manifest, sender="mission"
    ).views
    assert view.reason == "d" * (MAX_REASON - 1) + "\u2026"


def test_entries_out_of_batch_order_are_not_signed(federation: Federation) -> None:
    with pytest.raises(ValueError, match="not in batch order"):
        batch(federation, [ENTRIES[1], ENTRIES[0]])


def _flip_status(p: dict[str, Any]) -> None:
    p["views"] = [dict(v) for v in p["views"]]
    p["views"][1]["status"] = "accepted"


def _drop_view(p: dict[str, Any]) -> None:
    p["views"] = p["views"][:1] + p["views"][2:]


def _reorder(p: dict[str, Any]) -> None:
    p["views"] = [p["views"][1], p["views"][0], p["views"][2]]


def _swap_refs(p: dict[str, Any]) -> None:
    p["views"] = [dict(v) for v in p["views"]]
    p["views"][0]["jti"], p["views"][1]["jti"] = p["views"][1]["jti"], p["views"][0]["jti"]


def _tampered(jws: str, edit: Any) -> str:
    """``jws`` with its payload changed by ``edit`` and its signature kept."""
    head, _, signature = jws.split(".")
    payload = dict(decode_jws(jws).payload)
    edit(payload)
    return f"{head}.{b64url_encode(compact_json(payload))}.{signature}"


@pytest.mark.parametrize("edit", [_flip_status, _drop_view, _reorder, _swap_refs])
def test_a_list_changed_after_signing_is_refused(federation: Federation, edit: Any) -> None:
    # refused either for its shape (a view left out or moved) or for its signature
    with pytest.raises((SignatureInvalid, MalformedPacket)):
        verify_batch_receipt(
            _tampered(batch(federation), edit), federation.manifest, sender="mission"
        )


@pytest.mark.parametrize("edit", [_drop_view, _reorder])
def test_a_list_out_of_order_is_refused_even_when_signed(federation: Federation, edit: Any) -> None:
    """A receiver's list must be the batch in order: a view left out or moved shows."""
    with pytest.raises(MalformedPacket, match="index"):
        verify_batch_receipt(
            resigned(federation, batch(federation), edit), federation.manifest, sender="mission"
        )


def test_a_receipt_for_another_sender_or_request_is_refused(federation: Federation) -> None:
    jws = batch(federation)
    with pytest.raises(MalformedPacket, match="addressed to 'mission', not 'dpa'"):
        verify_batch_receipt(jws, federation.manifest, sender="dpa")
    other = hashlib.sha256(BODY + b" ").hexdigest()
    with pytest.raises(MalformedPacket, match="another request body"):
        verify_batch_receipt(jws, federation.manifest, sender="mission", request_sha256=other)


def test_the_wrong_type_either_way_is_refused(federation: Federation) -> None:
    jws = batch(federation)
    with pytest.raises(MalformedPacket, match="typ"):
        verify_receipt(jws, federation.manifest, sender="mission")
    as_view = resigned(federation, jws, lambda p: None, header=lambda h: h.update(typ=RECEIPT_TYP))
    with pytest.raises(MalformedPacket, match="typ"):
        verify_batch_receipt(as_view, federation.manifest, sender="mission")
    per_view = sign_receipt(
        receiver="undp", sender="mission", index=0, ref=REFS[0], status="accepted",
        key=federation.keys["undp"], kid=federation.kid("undp"), now=NOW,
    )  # fmt: skip
    with pytest.raises(MalformedPacket, match="typ"):
        verify_batch_receipt(per_view, federation.manifest, sender="mission")


def test_another_key_is_refused(federation: Federation) -> None:
    by_dpa = batch(federation, key=federation.keys["dpa"])  # undp's kid, dpa's key
    with pytest.raises(SignatureInvalid):
        verify_batch_receipt(by_dpa, federation.manifest, sender="mission")
    as_dpa = batch(federation, receiver="dpa", kid=federation.kid("undp"))
    with pytest.raises(ProtocolError):  # undp's kid is no key of dpa's
        verify_batch_receipt(as_dpa, federation.manifest, sender="mission")


def test_a_list_beyond_the_bound_is_refused(federation: Federation) -> None:
    jws = batch(federation)
    assert (
        len(verify_batch_receipt(jws, federation.manifest, sender="mission", max_views=3).views)
        == 3
    )
    with pytest.raises(MalformedPacket, match="lists 3 views, at most 2"):
        verify_batch_receipt(jws, federation.manifest, sender="mission", max_views=2)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.pop("request"),
        lambda p: p.update(request=7),
        lambda p: p.update(views={"0": {}}),
        lambda p: p.update(views=["accepted"]),
        lambda p: p.update(views=[{"index": 0, "status": "later"}]),
        lambda p: p.update(views=[{"index": True, "status": "accepted"}]),
        lambda p: p.update(views=[{"index": 0.0, "status": "accepted"}]),
        lambda p: p.update(views=[{"status": "accepted"}]),
    ],
)
def test_a_malformed_list_is_refused(federation: Federation, edit: Any) -> None:
    with pytest.raises(MalformedPacket):
        verify_batch_receipt(
            resigned(federation, batch(federation), edit), federation.manifest, sender="mission"
        )


def test_the_evidence_kept_for_a_view_reads_from_either_form(federation: Federation) -> None:
    jws = batch(federation)
    for position in range(3):
        view = verify_view_receipt(jws, federation.manifest, sender="mission", position=position)
        assert (view.index, view.status) == (position, ENTRIES[position].status)
    with pytest.raises(MalformedPacket, match="no view 3"):
        verify_view_receipt(jws, federation.manifest, sender="mission", position=3)
    per_view = sign_receipt(
        receiver="undp", sender="mission", index=4, ref=REFS[0], status="duplicate",
        key=federation.keys["undp"], kid=federation.kid("undp"), now=NOW,
    )  # fmt: skip
    read = verify_view_receipt(per_view, federation.manifest, sender="mission", position=0)
    assert (read.index, read.status, read.ref) == (4, "duplicate", REFS[0])
    with pytest.raises(MalformedPacket, match="one view"):
        verify_view_receipt(per_view, federation.manifest, sender="mission", position=1)
    forged = _tampered(jws, _flip_status)
    with pytest.raises(SignatureInvalid):
        verify_view_receipt(forged, federation.manifest, sender="mission", position=1)
