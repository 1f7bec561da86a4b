"""One participant as two processes on one PostgreSQL schema: replicas share the work safely.

``mission`` runs as two ``clearinghouse run`` processes (replica A on the port in
the manifest, replica B on another) with the same key, tokens and database; both
run every worker (delivery, catch-up, analysis, checkpoints, witnessing). unodc,
dpa and undp are ordinary nodes on SQLite. Real UCDP events are ingested, half
through A's and half through B's local API, at the same time and in small
batches, so that both replicas issue, queue, deliver and append to the audit log
concurrently. Then, counted rather than assumed:

* every peer holds every view mission queued for it exactly once: one outbox row
  per (peer, view), all delivered; the peer stored each once and logged it once, as
  ``accepted`` and never ``duplicate``; mission's ``view.sent`` entries (one per batch)
  list each view once;
  what was sent federation-wide equals what was accepted; nothing is pending;
* both replicas took part (each issued its half; each delivered some views), one
  of them analysed, and no worker of either failed;
* mission's one audit log has contiguous seqs and verifies end to end, its
  checkpoints form one chain (each consistent with the one before, every one
  cosigned by every peer);
* no node raised an alert, and the checkpoint each peer last cosigned of mission is
  one in mission's log, with the same root.

PostgreSQL only (SQLite is meant for one node process): not generated without
``CLEARINGHOUSE_TEST_POSTGRES_URL``.

Catch-up is slowed down here: a pull racing a push of the same view gives an
honest ``duplicate`` even with one process, which would hide a double push.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.localfed import LocalFederation, NodeHandle
from clearinghouse.node.transport.records_upload import post_batches
from tests.databases import throwaway_schema
from tests.integration._nodes import (
    Databases,
    alerts,
    metric,
    verify_audit_log,
    wait_witnessed,
    witnessed,
)
from tests.integration.test_federation import events, wait_settled
from tests.nodes import running_federation

pytestmark = pytest.mark.postgres

PARTICIPANTS = ("mission", "unodc", "dpa", "undp")
PEERS = PARTICIPANTS[1:]
EVENTS = 200
BATCH = 10  # small batches: many interleaved transactions from the two replicas
CONFIG = """
[delivery]
base_delay_s = 0.2
max_delay_s = 2.0
poll_interval_s = 0.2
catchup_interval_s = 300.0
lease_s = 5.0

[audit]
checkpoint_interval_s = 0.3
checkpoint_max_interval_s = 1.0
witness_interval_s = 0.5
"""


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[LocalFederation]:
    with throwaway_schema("replicas") as (_, url):
        with running_federation(
            tmp_path / "federation",
            PARTICIPANTS,
            database_urls={"mission": url},
            config_extra=CONFIG,
            replicas={"mission": 1},
        ) as federation:
            yield federation


@pytest.fixture
def db(fed: LocalFederation) -> Iterator[Databases]:
    databases = Databases(fed)
    try:
        yield databases
    finally:
        databases.close()


def ingest_through(node: NodeHandle, items: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    """Post ``items`` to this process's local API; return the packets it issued."""
    issued: list[dict[str, Any]] = []
    with node.client("submitter", timeout=120) as client:
        accepted, problems = post_batches(
            client, "conflict-event/1", iter(items), batch=BATCH, on_accepted=issued.extend
        )
    assert problems == [] and accepted == len(items)
    return issued


def refs(entries: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """How often each (peer, jti, digest) is named."""
    return Counter((e["peer"], e["jti"], e["digest"]) for e in entries)


def test_two_replicas_share_one_node_without_double_sends_or_forks(
    fed: LocalFederation, db: Databases
) -> None:
    replica_a, replica_b = fed.nodes["mission"], fed.replica_nodes["mission"][0]
    items = events(0, EVENTS)
    with ThreadPoolExecutor(2) as pool:
        halves = [
            pool.submit(ingest_through, replica_a, items[0::2]),
            pool.submit(ingest_through, replica_b, items[1::2]),
        ]
        issued = [packet for half in halves for packet in half.result()]
    events_issued = {(p["jti"], p["sha256"]) for p in issued}
    assert len(events_issued) == EVENTS

    stats = wait_settled(fed)
    wait_witnessed(db, PARTICIPANTS)

    # Both replicas took part: each issued its half, each pushed views.
    for replica in (replica_a, replica_b):
        assert metric(replica, "clearinghouse_packets_issued_total") == EVENTS / 2
    pushed = {
        name: sum(metric(r, "clearinghouse_views_delivered_total", peer=p) for p in PEERS)
        for name, r in (("A", replica_a), ("B", replica_b))
    }
    assert pushed["A"] > 0 and pushed["B"] > 0, pushed
    # ...and one analyst among them (the analyzer's state is sequential).
    analysed = sorted(metric(r, "clearinghouse_analyses_total") for r in (replica_a, replica_b))
    assert analysed == [0, stats["mission"]["analysed"]] and analysed[1] >= EVENTS

    # Mission's outbox: one row per (peer, view), every one delivered by push.
    outbox = db.rows("mission", "SELECT recipient, jti, digest, state, delivered_via FROM outbox")
    owed = Counter((r.recipient, r.jti, r.digest) for r in outbox)
    assert max(owed.values()) == 1
    assert {(r.state, r.delivered_via) for r in outbox} == {("delivered", "push")}
    assert sum(pushed.values()) == len(outbox)  # each replica counts only what it changed
    for peer in PEERS:  # every event to every peer (and any result of mission's analysis)
        assert events_issued <= {(j, d) for r, j, d in owed if r == peer}, peer

    # Mission logged each view queued once and pushed once, with an "accepted" receipt.
    # (An entry per batch and peer: each view listed in exactly one.)
    queued, sent = (
        db.logged_views("mission", "view.queued"),
        db.logged_views("mission", "view.sent"),
    )
    assert refs(queued) == owed
    assert refs(sent) == owed
    assert Counter((e["via"], e["status"]) for e in sent) == {("push", "accepted"): len(outbox)}
    assert all("views" in e for e in db.logged("mission", "view.sent"))  # batch entries

    # Each peer stored each of mission's views once and logged it once, never a duplicate.
    for peer in PEERS:
        held = db.rows(peer, "SELECT jti, digest FROM packet WHERE origin = 'mission'")
        expected = {(j, d) for r, j, d in owed if r == peer}
        assert len(held) == len(expected) and {(r.jti, r.digest) for r in held} == expected
        received = db.logged_views(peer, "packet.received", peer="mission")
        assert Counter((e["jti"], e["digest"], e["outcome"]) for e in received) == {
            (j, d, "accepted"): 1 for j, d in expected
        }, peer
        assert stats[peer]["duplicates"] == 0, peer
        assert stats[peer]["rejected"] == stats[peer]["quarantined"] == 0, peer
    assert sum(s["sent"] for s in stats.values()) == sum(s["accepted"] for s in stats.values())
    assert all(not s["pending"] and not s["analysis_queue"] for s in stats.values())
    with replica_b.client("auditor") as client:  # one node, whichever process answers
        assert client.get("/v1/local/stats").json() == stats["mission"]
    summaries = []
    for replica in (replica_a, replica_b):  # the same analysis, whichever process ran it
        with replica.client("analyst") as client:
            summaries.append(client.get("/v1/local/analyzer").json()["summary"])
    assert summaries[0] == summaries[1] and summaries[0]["hotspots"]

    # One audit log: contiguous seqs, verifying end to end, one chain of checkpoints.
    (count, low, high, head) = db.rows(
        "mission",
        "SELECT count(*), min(seq), max(seq), (SELECT size FROM audit_head) FROM audit_entry",
    )[0]
    assert (count, low, high) == (head, 0, head - 1)
    summary = verify_audit_log(fed, "mission", min_cosignatures=len(PEERS))
    checkpoints = dict(db.rows("mission", "SELECT size, root FROM audit_checkpoint"))
    assert summary.entries == head and summary.checkpoints == len(checkpoints) > 1
    assert summary.cosignatures == {p: len(checkpoints) for p in PEERS}

    # The witnesses agree: no alert anywhere; what each last cosigned is in mission's log.
    for p in PARTICIPANTS:
        assert alerts(fed.nodes[p]) == [], p
    for peer in PEERS:
        cosigned = witnessed(fed.nodes[peer])["mission"]
        assert bytes(checkpoints[cosigned.size]) == cosigned.root, peer
    # No worker of either replica failed on the way (a lost race would show here).
    for replica in (replica_a, replica_b):
        assert "Traceback" not in replica.log.read_text(errors="replace"), replica.log
