"""The audit log across a real four-node federation (``clearinghouse run`` processes).

After real UCDP events and the analysis results went through: every node's log
verifies against its signed checkpoints, every checkpoint carries a cosignature
from every peer, and what each node logged as sent to a peer is exactly what that
peer logged as received from it. Then a node rewrites its history (and re-signs
it with its own key): its witnesses catch it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.protocol.audit import LogVerifier, audit_origin, log_keys, witness_keys
from clearinghouse.protocol.encoding import canonical_json
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.merkle import CompactRange, leaf_hash
from clearinghouse.protocol.notes import checkpoint_text, parse_note, sign_note
from tests.integration._nodes import per_view
from tests.integration.test_federation import FAST as FEDERATION_FAST
from tests.integration.test_federation import events, ingest, wait_settled
from tests.nodes import running_federation

PARTICIPANTS = ("mission", "unodc", "dpa", "undp")
FAST = (
    FEDERATION_FAST
    + """
[audit]
checkpoint_interval_s = 0.3
checkpoint_max_interval_s = 1.0
witness_interval_s = 0.5
unwitnessed_alert_s = 3
"""
)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    root = tmp_path_factory.mktemp("audit-federation")
    with running_federation(root, PARTICIPANTS, config_extra=FAST) as federation:
        yield federation


def _db(fed: LocalFederation, participant: str) -> sqlite3.Connection:
    path = Path(fed.nodes[participant].database_url.removeprefix("sqlite:///"))
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _manifest(fed: LocalFederation) -> Manifest:
    return parse_manifest(fed.manifest_path.read_bytes())


def verify_log(fed: LocalFederation, participant: str) -> dict[str, Any]:
    """Recompute ``participant``'s whole tree from its database and check every checkpoint."""
    manifest = _manifest(fed)
    verifier = LogVerifier(
        audit_origin(manifest.federation, participant),
        log_keys(manifest, participant),
        witness_keys(manifest, besides=participant),
    )
    with _db(fed, participant) as db:
        notes = dict(db.execute("SELECT size, note FROM audit_checkpoint"))
        cosigs: dict[int, list[str]] = defaultdict(list)
        for size, line in db.execute("SELECT size, line FROM audit_cosignature"):
            cosigs[size].append(line)
        cosigners: dict[int, set[str]] = {}
        rows = db.execute("SELECT seq, body, leaf_hash FROM audit_entry ORDER BY seq")
        for seq, body, stored in rows:
            verifier.entry(seq, body.encode(), stored)
            size = verifier.size
            if size in notes:
                note = notes[size] + "".join(cosigs[size])
                cosigners[size] = set(verifier.checkpoint(note).cosigners)
        (claimed,) = db.execute("SELECT size FROM audit_head").fetchone()
    verifier.finish(claimed)
    return {"size": verifier.size, "checkpoints": notes, "cosigners": cosigners}


def entries(fed: LocalFederation, participant: str, act: str) -> list[dict[str, Any]]:
    with _db(fed, participant) as db:
        rows = db.execute("SELECT body FROM audit_entry WHERE act = ? ORDER BY seq", (act,))
        return [json.loads(body) for (body,) in rows]


def wait_witnessed(fed: LocalFederation, timeout: float = 60) -> None:
    """Until every node's latest checkpoint covers its log and every peer cosigned it."""
    deadline = time.monotonic() + timeout
    while True:
        done = True
        for p in PARTICIPANTS:
            with _db(fed, p) as db:
                (size,) = db.execute("SELECT size FROM audit_head").fetchone()
                latest = db.execute("SELECT max(size) FROM audit_checkpoint").fetchone()[0]
                witnesses = db.execute(
                    "SELECT count(*) FROM audit_cosignature WHERE size = ?", (latest,)
                ).fetchone()[0]
            done = done and latest == size and witnesses == len(PARTICIPANTS) - 1
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError("checkpoints were not all cosigned in time")
        time.sleep(0.3)


def wait_for_alert(
    fed: LocalFederation, participant: str, kind: str, mentioning: str
) -> dict[str, Any]:
    """An alert of ``kind`` whose detail has ``mentioning`` that ``participant`` raises
    within 30 s."""
    deadline = time.monotonic() + 30
    while True:
        with fed.nodes[participant].client("auditor") as client:
            alerts = client.get("/v1/audit/alerts").json()["alerts"]
        found = [a for a in alerts if a["kind"] == kind and mentioning in a["detail"]]
        if found:
            return dict(found[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"{participant} raised no {kind} alert: {alerts}")
        time.sleep(0.5)


def test_logs_verify_are_witnessed_and_agree_pairwise(fed: LocalFederation) -> None:
    assert ingest(fed, events(0, 300)) == 300
    wait_settled(fed)
    wait_witnessed(fed)

    for p in PARTICIPANTS:
        checked = verify_log(fed, p)
        assert checked["size"] > 0 and checked["checkpoints"]
        peers = {audit_origin(_manifest(fed).federation, q) for q in PARTICIPANTS if q != p}
        expected = {name.replace("/audit", "/witness") for name in peers}
        for size in checked["checkpoints"]:
            assert checked["cosigners"][size] == expected, (p, size)

    issued = entries(fed, "mission", "packet.issued")
    assert len(issued) == 300
    # Every view queued at a sender was sent, and the recipient logged it as received
    # (each act an entry per batch and peer, listing its views).
    for sender in PARTICIPANTS:
        queued: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for e in per_view(entries(fed, sender, "view.queued")):
            queued[e["peer"]].add((e["jti"], e["digest"]))
            assert e["fields"] and "policy" in e  # field names, never values
        sent: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for e in per_view(entries(fed, sender, "view.sent")):
            sent[e["peer"]].add((e["jti"], e["digest"]))
        assert set(sent) == set(queued)
        for recipient, refs in sent.items():
            assert refs == queued[recipient], (sender, recipient)
            got = {
                (e["jti"], e["digest"])
                for e in per_view(entries(fed, recipient, "packet.received"))
                if e["peer"] == sender and e["outcome"] in ("accepted", "duplicate")
            }
            assert got == refs, (sender, recipient)
    # 300 records in batches: fewer entries than views, and the search by jti finds a
    # view's batch entries at both ends.
    sent_entries = entries(fed, "mission", "view.sent")
    assert len(sent_entries) < len(per_view(sent_entries))
    records = {e["jti"] for e in issued}  # not mission's results: dpa does not analyse those
    to_dpa = next(
        e
        for e in sent_entries
        if e["peer"] == "dpa"
        and len(e["views"]) > 1
        and all(v["jti"] in records for v in e["views"])
    )
    jti = to_dpa["views"][-1]["jti"]
    ends = (("mission", {"view.queued", "view.sent"}), ("dpa", {"packet.received", "analysis.run"}))
    for p, acts in ends:
        found = httpx.get(
            f"{fed.nodes[p].url}/v1/audit/search",
            params={"jti": jti},
            headers={"authorization": f"Bearer {fed.nodes[p].tokens['auditor']}"},
        ).json()["entries"]
        bodies = [json.loads(e["body"]) for e in found]
        assert acts <= {b["act"] for b in bodies}, (p, bodies)
        assert all(jti in [v.get("jti") for v in b.get("views", [b])] for b in bodies), p
    # Results were analysed, issued and logged by each analysing node.
    for p in ("unodc", "dpa", "undp"):
        runs = entries(fed, p, "analysis.run")
        assert len({r["jti"] for r in per_view(runs)}) == 300
        assert len(runs) < 300  # one entry per analysis batch
        assert all(r["analyzer"] and "findings" in r for r in per_view(runs))
        assert entries(fed, p, "manifest.accepted") and entries(fed, p, "key.loaded")


def test_a_node_rewriting_its_history_is_caught_by_its_witnesses(fed: LocalFederation) -> None:
    wait_settled(fed)
    wait_witnessed(fed)
    fed.stop("undp")
    manifest = _manifest(fed)
    origin = audit_origin(manifest.federation, "undp")
    key = read_private_key(fed.root / "keys" / "undp.key.pem")
    path = Path(fed.nodes["undp"].database_url.removeprefix("sqlite:///"))
    # The operator of undp edits entry 3 and re-signs every checkpoint over the new history.
    with sqlite3.connect(path) as db:
        bodies = [b for (b,) in db.execute("SELECT body FROM audit_entry ORDER BY seq")]
        edited = json.loads(bodies[3])
        edited["actor"] = "node:someone-else"
        bodies[3] = canonical_json(edited).decode()
        tree = CompactRange()
        db.execute("DELETE FROM audit_block")
        db.execute("DELETE FROM audit_cosignature")
        sizes = {s for (s,) in db.execute("SELECT size FROM audit_checkpoint")}
        for seq, body in enumerate(bodies):
            leaf = leaf_hash(body.encode())
            for block in tree.append(leaf)[1:]:
                db.execute(
                    "INSERT INTO audit_block (level, idx, hash) VALUES (?, ?, ?)",
                    (block.level, block.index, block.hash),
                )
            db.execute(
                "UPDATE audit_entry SET body = ?, leaf_hash = ? WHERE seq = ?", (body, leaf, seq)
            )
            if tree.size in sizes:
                note = sign_note(checkpoint_text(origin, tree.size, tree.root()), origin, key)
                db.execute(
                    "UPDATE audit_checkpoint SET note = ?, root = ? WHERE size = ?",
                    (note, tree.root(), tree.size),
                )
        db.execute("UPDATE audit_head SET root = ?, frontier = ?", (tree.root(), tree.to_bytes()))
    # Its own log is self-consistent again...
    assert verify_log(fed, "undp")["size"] == len(bodies)
    fed.start("undp")
    fed.wait_ready(participant="undp")
    assert ingest(fed, events(400, 5)) == 5  # the log grows: a new checkpoint to witness

    # ...but every witness holds a cosigned checkpoint the new history does not extend.
    deadline = time.monotonic() + 60
    flagged: set[str] = set()
    while flagged != {"mission", "unodc", "dpa"}:
        for p in ("mission", "unodc", "dpa"):
            with fed.nodes[p].client("auditor") as client:
                alerts = client.get("/v1/audit/alerts").json()["alerts"]
            if any(a["peer"] == "undp" and a["kind"] in ("inconsistent", "fork") for a in alerts):
                flagged.add(p)
        if time.monotonic() > deadline:
            raise AssertionError(f"only {flagged} caught the rewritten history")
        time.sleep(0.5)
    for p in flagged:
        assert any(e["peer"] == "undp" for e in entries(fed, p, "witness.alert"))
        metrics = httpx.get(f"{fed.nodes[p].url}/metrics").text
        assert re.search(
            r'^clearinghouse_audit_alerts_total\{kind="(inconsistent|fork)",peer="undp"\} [1-9]',
            metrics,
            re.MULTILINE,
        ), [line for line in metrics.splitlines() if "alerts" in line]
    # The new checkpoint of the rewritten log is never cosigned by anyone.
    with _db(fed, "undp") as db:
        latest = db.execute("SELECT max(size) FROM audit_checkpoint").fetchone()[0]
        cosigned = db.execute(
            "SELECT count(*) FROM audit_cosignature WHERE size = ?", (latest,)
        ).fetchone()[0]
    assert cosigned == 0
    # undp's own watch sees its log unwitnessed: the re-signed checkpoints lost their
    # cosignatures, and no witness cosigns them again.
    with _db(fed, "undp") as db:
        first, note = db.execute(
            "SELECT size, note FROM audit_checkpoint ORDER BY size LIMIT 1"
        ).fetchone()
    unwitnessed = wait_for_alert(fed, "undp", "unwitnessed", "entries from index 0 on")
    assert unwitnessed["peer"] == "undp" and unwitnessed["evidence"] == note
    assert f"its checkpoint of size {first}," in unwitnessed["detail"]
    metrics = httpx.get(f"{fed.nodes['undp'].url}/metrics").text
    for witness in ("mission", "unodc", "dpa"):
        lag = re.search(
            rf'^clearinghouse_audit_witness_lag_seconds\{{witness="{witness}"\}} (\S+)$',
            metrics,
            re.MULTILINE,
        )
        assert lag is not None and float(lag.group(1)) >= 3, witness
    assert parse_note(
        httpx.get(
            f"{fed.nodes['undp'].url}/v1/audit/checkpoint",
            headers={"authorization": f"Bearer {fed.nodes['undp'].tokens['auditor']}"},
        ).text
    ).signatures
