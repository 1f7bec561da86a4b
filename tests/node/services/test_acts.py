"""The entries the acts on views build: one per batch and peer, each view listed in
batch order, the packet at the top level only for a batch of one view; checked on the
exact bytes an entry is appended as."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from clearinghouse.node.services import acts
from clearinghouse.protocol.audit import Act, encode_entry, parse_entry
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, Packets
from tests.support import Federation


@pytest.fixture(scope="module")
def packets(federation: Federation, example_records: dict[str, dict[str, Any]]) -> Packets:
    return Packets(federation, example_records)


def body(act: Act) -> dict[str, Any]:
    """The entry as appended, read back (so the shape is what the log holds)."""
    parsed: dict[str, Any] = json.loads(encode_entry(7, NOW, act))
    return parsed


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_view_queued_lists_each_view_with_the_field_names_it_discloses(
    packets: Packets,
) -> None:
    first, second = packets.issued(), packets.issued()
    held = sorted(first.disclosures_by_claim)
    granted = [held[0], held[1], "no-such-claim"]
    views = [
        acts.queued_view(first, granted),
        acts.queued_view(second, held[:1], authorisation="auth-1"),
    ]
    entry = body(acts.view_queued("token:ingest", "dpa", views, "policy-hash"))
    assert {k: v for k, v in entry.items() if k not in ("seq", "time")} == {
        "act": "view.queued",
        "actor": "token:ingest",
        "peer": "dpa",
        "policy": "policy-hash",
        "views": [
            {"jti": first.ref.jti, "digest": first.ref.digest, "fields": sorted(held[:2])},
            {
                "jti": second.ref.jti,
                "digest": second.ref.digest,
                "fields": held[:1],
                "authorisation": "auth-1",
            },
        ],
    }
    assert "jti" not in entry  # several views: none at the top level
    one = acts.view_queued("token:ingest", "dpa", views[:1], "p", relay="unodc")
    assert one.jti == first.ref.jti and body(one)["relay"] == "unodc"
    assert one.covers() == (first.ref.jti,)


def test_view_sent_by_push_hashes_each_distinct_receipt_once() -> None:
    batch_receipt = "eyJ.batch.receipt"
    views = [
        acts.SentView("j1", "d1", "accepted", None, batch_receipt),
        acts.SentView("j2", "d2", "rejected", "schema-invalid", batch_receipt),
    ]
    act = acts.view_sent("node:dpa", "mission", views, "push")
    assert act.jti is None and act.peer == "mission"
    entry = body(act)
    assert entry["via"] == "push"
    assert entry["receipts"] == [sha256(batch_receipt)]  # one receipt for the batch
    assert entry["views"] == [
        {"jti": "j1", "digest": "d1", "status": "accepted"},
        {"jti": "j2", "digest": "d2", "status": "rejected", "reason": "schema-invalid"},
    ]
    assert parse_entry(encode_entry(7, NOW, act)).covers() == ("j1", "j2")


def test_view_sent_with_a_receipt_per_view_names_each_view_s_receipt() -> None:
    views = [
        acts.SentView("j1", "d1", "accepted", None, "r1"),
        acts.SentView("j2", "d2", "unverified", "receipt did not verify", "forged"),
        acts.SentView("j3", "d3", "duplicate", None, "r1"),
    ]
    entry = body(acts.view_sent("node:dpa", "mission", views, "push"))
    assert entry["receipts"] == [sha256("r1"), sha256("forged")]
    assert [(v["jti"], v["status"], v["receipt"]) for v in entry["views"]] == [
        ("j1", "accepted", 0),
        ("j2", "unverified", 1),
        ("j3", "duplicate", 0),
    ]
    assert entry["views"][1]["reason"] == "receipt did not verify"


def test_a_catch_up_page_lists_its_views_without_status_or_receipts() -> None:
    page = [acts.SentView("j1", "d1"), acts.SentView("j2", "d2")]
    entry = body(acts.view_sent("node:dpa", "undp", page, "catch-up"))
    assert entry["via"] == "catch-up" and "receipts" not in entry
    assert entry["views"] == [{"jti": "j1", "digest": "d1"}, {"jti": "j2", "digest": "d2"}]
    single = acts.view_sent("node:dpa", "undp", page[:1], "catch-up")
    assert single.jti == "j1"  # one view: named at the top level too


def test_packet_received_lists_each_outcome_in_batch_order() -> None:
    views = [
        acts.ReceivedView(PacketRef("j1", "d1"), "accepted"),
        acts.ReceivedView(None, "rejected", "malformed", "x" * 900),
        acts.ReceivedView(PacketRef("j2", "d2"), "duplicate", widened=True),
        acts.ReceivedView(PacketRef("j3", "d3"), "deferred", "issued-in-future", "later"),
    ]
    act = acts.packet_received("mission", views, "catch-up")
    assert (act.actor, act.peer, act.jti) == ("peer:mission", "mission", None)
    entry = body(act)
    assert entry["via"] == "catch-up"
    assert entry["views"] == [
        {"jti": "j1", "digest": "d1", "outcome": "accepted"},
        {"outcome": "rejected", "code": "malformed", "reason": "x" * 500},
        {"jti": "j2", "digest": "d2", "outcome": "duplicate", "widened": True},
        {"jti": "j3", "digest": "d3", "outcome": "deferred", "code": "issued-in-future",
         "reason": "later"},
    ]  # fmt: skip
    assert act.covers() == ("j1", "j2", "j3")
    refused = acts.packet_received("mission", views[1:2], "push")
    assert refused.jti is None and refused.covers() == ()  # no packet named at all
