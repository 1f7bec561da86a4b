"""A real federation: four ``clearinghouse run`` processes talking HTTP over loopback.

Delivery to every recipient, exact policy views at each, signed receipts kept by
the sender, catch-up of a node that was down, and delivery resuming after the
sender is killed in the middle of its work.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.importers.records_file import read_records
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.transport.records_upload import post_batches
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.receipts import BATCH_RECEIPT_TYP, verify_view_receipt
from clearinghouse.protocol.schemas import get_schema
from clearinghouse.protocol.sdjwt import decode_jws
from tests.nodes import running_federation
from tests.support import EXAMPLES

EVENTS = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
FAST = """
[delivery]
base_delay_s = 0.2
max_delay_s = 2.0
poll_interval_s = 0.2
catchup_interval_s = 1.0
lease_s = 5.0
"""


def events(start: int, count: int) -> list[tuple[int, Any]]:
    rows = read_records(EVENTS, "ucdp-ged", "conflict-event/1")
    return list(itertools.islice(rows, start, start + count))


def ingest(fed: LocalFederation, items: list[tuple[int, Any]]) -> int:
    with fed.nodes["mission"].client("submitter", timeout=300) as client:
        accepted, problems = post_batches(client, "conflict-event/1", iter(items), batch=500)
    assert problems == []
    return accepted


def wait_settled(fed: LocalFederation, timeout: float = 120) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    calm = 0
    while True:
        stats = fed.all_stats()
        calm = calm + 1 if fed.settled(stats) else 0
        if calm >= 2:  # twice in a row: the nodes are read one after the other
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"federation did not settle: {stats}")
        time.sleep(0.3)


def packets_at(
    fed: LocalFederation, participant: str, schema: str = "conflict-event/1"
) -> list[dict[str, Any]]:
    """The packets ``participant`` received from mission, of ``schema``."""
    items, after = [], 0
    with fed.nodes[participant].client("analyst") as client:
        while True:
            page = client.get(
                "/v1/local/packets",
                params={"origin": "mission", "schema": schema, "after": after, "limit": 1000},
            ).json()
            items += page["items"]
            if not page["items"]:
                return items
            after = page["next"]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    with running_federation(tmp_path_factory.mktemp("federation"), config_extra=FAST) as federation:
        yield federation


def test_every_recipient_gets_exactly_its_view(fed: LocalFederation) -> None:
    accepted = ingest(fed, events(0, 60))
    assert accepted == 60
    stats = wait_settled(fed)
    manifest = parse_manifest((fed.root / "manifest.json").read_bytes())
    spec = get_schema("conflict-event/1")
    assert packets_at(fed, "mission") == []  # a node sends nothing to itself
    for recipient in ("unodc", "dpa", "undp", "sanctions"):
        granted = manifest.sharing.granted_claims(spec, recipient)
        got = packets_at(fed, recipient)
        assert len(got) == 60
        for packet in got:
            assert set(packet["claims"]) <= granted
            assert packet["iss"] == "mission" and packet["sch"] == "conflict-event/1"
    assert stats["mission"]["issued"] >= 60
    assert_exact(stats)


def assert_exact(stats: dict[str, dict[str, Any]]) -> None:
    """What was sent is what was accepted, and nothing was refused."""
    assert sum(s["sent"] for s in stats.values()) == sum(s["accepted"] for s in stats.values())
    assert all(s["rejected"] == 0 and s["quarantined"] == 0 for s in stats.values())
    assert all(s["analysis_errors"] == 0 for s in stats.values())


def test_sender_keeps_a_verified_receipt_for_every_view(fed: LocalFederation) -> None:
    """Every view pushed names its evidence: the peer's batch receipt, kept once per batch
    (``delivery_receipt``), and the view's position in it, naming the view sent."""
    wait_settled(fed)
    manifest = parse_manifest((fed.root / "manifest.json").read_bytes())
    database = Path(fed.nodes["mission"].database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT o.recipient, o.jti, o.digest, r.jws, o.receipt_index, r.recipient,"
            " o.delivered_via FROM outbox o LEFT JOIN delivery_receipt r ON r.id = o.receipt_id"
            " WHERE o.state = ?",
            ("delivered",),
        ).fetchall()
        receipts_kept, distinct = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT jws) FROM delivery_receipt"
        ).fetchone()
    assert rows
    pushed = 0
    for recipient, jti, digest, receipt, position, kept_for, via in rows:
        if via == "pull":
            assert receipt is None  # acknowledged by the peer's own catch-up request
            continue
        pushed += 1
        assert decode_jws(receipt).header["typ"] == BATCH_RECEIPT_TYP and kept_for == recipient
        checked = verify_view_receipt(receipt, manifest, sender="mission", position=position)
        assert checked.receiver == recipient and checked.delivered
        assert checked.ref is not None and (checked.ref.jti, checked.ref.digest) == (jti, digest)
    assert receipts_kept == distinct  # each kept once
    assert pushed and receipts_kept < pushed  # a receipt per batch, not per view


def test_a_node_that_was_down_catches_up(fed: LocalFederation) -> None:
    wait_settled(fed)
    before_undp = packets_at(fed, "undp")
    issued_before = fed.stats("mission")["issued"]
    fed.stop("undp")
    accepted = ingest(fed, events(100, 40))
    assert accepted == 40
    time.sleep(1.0)  # mission tries, fails and backs off
    stats = fed.stats("mission")
    # Owed to undp: the 40 events and every result mission's analyzer issued about them.
    results = stats["issued"] - issued_before - 40
    assert stats["pending"].get("undp", 0) == 40 + results
    fed.start("undp")
    fed.wait_ready(participant="undp")
    after = wait_settled(fed)
    assert len(packets_at(fed, "undp")) == len(before_undp) + 40
    assert_exact(after)


def test_delivery_resumes_after_the_sender_is_killed(fed: LocalFederation) -> None:
    wait_settled(fed)
    before = {p: len(packets_at(fed, p)) for p in ("unodc", "dpa", "undp", "sanctions")}
    accepted = ingest(fed, events(200, 1500))
    assert accepted == 1500
    fed.stop("mission", kill=True)  # SIGKILL, mid-delivery
    fed.start("mission")
    fed.wait_ready(participant="mission")
    after = wait_settled(fed, timeout=300)
    for p in ("unodc", "dpa", "undp", "sanctions"):
        assert len(packets_at(fed, p)) == before[p] + 1500
    assert_exact(after)
