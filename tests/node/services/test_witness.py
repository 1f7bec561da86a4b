"""Witnessing a peer's log: checkpoint checks, growth checks, alerts, a round against a
stand-in peer; and the trust-state entries written only when the state changes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.clock import SystemClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.trust_events import record_trust_state
from clearinghouse.node.services.witness import (
    Inconsistent,
    _Seen,
    check_checkpoint,
    check_extends,
    compare_with_witnesses,
    raise_alert,
    witness_round,
)
from clearinghouse.node.settings import TokenSetting
from clearinghouse.node.startup import open_node
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import audit_origin, parse_entry, witness_keys, witness_name
from clearinghouse.protocol.manifest import manifest_json, parse_manifest
from clearinghouse.protocol.merkle import MemoryTree, consistency_proof_from, leaf_hash
from clearinghouse.protocol.notes import checkpoint_text, parse_checkpoint, parse_note, sign_note
from clearinghouse.protocol.notes import verify_cosignature as verify_cosignature_line
from tests.nodes import built_federation, opened_node

PARTICIPANTS = ("mission", "unodc", "dpa")


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("witness"), PARTICIPANTS)


@pytest.fixture
def dpa(fed: LocalFederation, tmp_path: Path) -> Iterator[NodeContext]:
    """The dpa node on a database of its own for each test."""
    with opened_node(fed.nodes["dpa"], database_url=f"sqlite:///{tmp_path / 'dpa.db'}") as ctx:
        yield ctx


def key_of(fed: LocalFederation, participant: str) -> Ed25519PrivateKey:
    key = read_private_key(fed.root / "keys" / f"{participant}.key.pem")
    assert isinstance(key, Ed25519PrivateKey)
    return key


class PeerLog:
    """A peer's audit log as the witness sees it: leaves, and notes signed by its key."""

    def __init__(self, ctx: NodeContext, fed: LocalFederation, peer: str, salt: str = "") -> None:
        self.origin = audit_origin(ctx.manifest.federation, peer)
        self.key = key_of(fed, peer)
        self.tree = MemoryTree(leaf_hash(f"{peer}{salt} entry {i}".encode()) for i in range(64))

    def note(self, size: int, *, root: bytes | None = None, key: Any = None) -> str:
        text = checkpoint_text(self.origin, size, self.tree.root(size) if root is None else root)
        return sign_note(text, self.origin, key or self.key)

    def seen(self, size: int) -> _Seen:
        return _Seen(size, self.tree.root(size), self.note(size))

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof_from(self.tree, old, new)


def checkpoint_of(note: str) -> Any:
    return parse_checkpoint(parse_note(note).text)


# --- check_extends ------------------------------------------------------------------------


def test_check_extends(dpa: NodeContext, fed: LocalFederation) -> None:
    log = PeerLog(dpa, fed, "mission")
    old = log.seen(13)
    same = log.note(13)
    check_extends("mission", old, checkpoint_of(same), same, [])  # same tree: fine
    for new in (14, 16, 40, 64):
        note = log.note(new)
        check_extends("mission", old, checkpoint_of(note), note, log.proof(13, new))

    forked = PeerLog(dpa, fed, "mission", salt="fork")
    other = forked.note(13)
    with pytest.raises(Inconsistent) as caught:
        check_extends("mission", old, checkpoint_of(other), other, [])
    assert caught.value.kind == "fork"
    assert old.note in caught.value.evidence and other in caught.value.evidence

    smaller = log.note(12)
    with pytest.raises(Inconsistent) as caught:
        check_extends("mission", old, checkpoint_of(smaller), smaller, log.proof(12, 13))
    assert caught.value.kind == "rollback" and "12" in caught.value.detail

    bigger = log.note(40)
    good = log.proof(13, 40)
    flipped = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
    for bad in (flipped, good[:-1], [], forked.proof(13, 40)):
        with pytest.raises(Inconsistent) as caught:
            check_extends("mission", old, checkpoint_of(bigger), bigger, bad)
        assert caught.value.kind == "inconsistent", bad
    diverged = forked.note(40)  # a bigger tree that does not contain the cosigned one
    with pytest.raises(Inconsistent) as caught:
        check_extends("mission", old, checkpoint_of(diverged), diverged, forked.proof(13, 40))
    assert caught.value.kind == "inconsistent"


# --- check_checkpoint ---------------------------------------------------------------------


def test_check_checkpoint(dpa: NodeContext, fed: LocalFederation) -> None:
    log = PeerLog(dpa, fed, "mission")
    good = log.note(9)
    checkpoint = check_checkpoint(dpa, "mission", good)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (
        log.origin,
        9,
        log.tree.root(9),
    )

    text, signature = good.split("\n\n")
    changed = text.replace("\n9\n", "\n10\n") + "\n\n" + signature  # same signature, other text
    unodc = PeerLog(dpa, fed, "unodc")
    bad_signatures = {
        "another key": log.note(9, key=key_of(fed, "unodc")),
        "changed text": changed,
        "not a note": "garbage",
        "another peer's checkpoint": unodc.note(9),
    }
    for what, note in bad_signatures.items():
        with pytest.raises(Inconsistent) as caught:
            check_checkpoint(dpa, "mission", note)
        assert caught.value.kind == "bad-signature", what
        assert caught.value.evidence == note

    # Signed by mission's log key, but for another origin.
    text = checkpoint_text(audit_origin(dpa.manifest.federation, "unodc"), 9, log.tree.root(9))
    wrong_origin = sign_note(text, log.origin, log.key)
    with pytest.raises(Inconsistent) as caught:
        check_checkpoint(dpa, "mission", wrong_origin)
    assert caught.value.kind == "bad-origin"


# --- alerts -------------------------------------------------------------------------------


def alert_entries(ctx: NodeContext) -> list[dict[str, Any]]:
    with transaction(ctx.engine) as session:
        rows = auditlog.search(session, act="witness.alert", limit=100)
        return [parse_entry(r.body.encode()).body for r in reversed(rows)]


def test_raise_alert_records_once_per_detail_with_an_audit_entry(dpa: NodeContext) -> None:
    with transaction(dpa.engine) as session:
        before = auditlog.head(session).size
    fork = Inconsistent("fork", "mission signed two trees of size 13", "evidence 1")
    assert raise_alert(dpa, "mission", fork) is True
    again = Inconsistent("fork", "mission signed two trees of size 13", "other evidence")
    assert raise_alert(dpa, "mission", again) is False
    assert raise_alert(dpa, "unodc", fork) is True  # the same words about another peer
    rollback = Inconsistent("rollback", "mission shows size 3 after 13", "evidence 2")
    assert raise_alert(dpa, "mission", rollback) is True

    with transaction(dpa.engine) as session:
        rows = auditlog.alerts(session)
        assert auditlog.head(session).size == before + 3
    assert [(a.peer, a.kind, a.evidence) for a in rows] == [
        ("mission", "rollback", "evidence 2"),
        ("unodc", "fork", "evidence 1"),
        ("mission", "fork", "evidence 1"),
    ]
    entries = alert_entries(dpa)
    assert [(e["peer"], e["kind"], e["detail"], e["actor"]) for e in entries] == [
        ("mission", "fork", fork.detail, "node:dpa"),
        ("unodc", "fork", fork.detail, "node:dpa"),
        ("mission", "rollback", rollback.detail, "node:dpa"),
    ]
    counted = dpa.metrics.audit_alerts.labels(peer="mission", kind="fork")._value.get()
    assert counted == 1


# --- trust state --------------------------------------------------------------------------


def trust_entries(ctx: NodeContext) -> list[dict[str, Any]]:
    with transaction(ctx.engine) as session:
        rows = list(auditlog.iter_entries(session))
    acts = {"manifest.accepted", "key.loaded", "tokens.configured"}
    return [json.loads(r.body) for r in rows if r.act in acts]


def test_trust_state_is_recorded_only_when_it_changes(
    dpa: NodeContext, fed: LocalFederation
) -> None:
    # open_node recorded the state once; nothing changed since.
    first = trust_entries(dpa)
    assert [e["act"] for e in first] == ["manifest.accepted", "key.loaded", "tokens.configured"]
    assert first[1]["kid"] == dpa.kid
    assert {t["role"] for t in first[2]["tokens"]} == {"submitter", "analyst", "auditor", "admin"}
    assert all("sha256" not in t for t in first[2]["tokens"])  # never the secrets
    assert record_trust_state(dpa) == 0
    assert record_trust_state(dpa) == 0

    # A restart on the same database writes nothing either.
    restarted = open_node(dpa.settings, SystemClock())
    try:
        assert len(trust_entries(restarted)) == 3
    finally:
        restarted.engine.dispose()

    original = dpa.signing
    original_kid = dpa.kid
    dpa.signing = SigningKey(original.key, "another-key-id")
    assert record_trust_state(dpa) == 1
    assert record_trust_state(dpa) == 0
    dpa.signing = original  # back to the first key: a change again
    assert record_trust_state(dpa) == 1
    assert [e["kid"] for e in trust_entries(dpa) if e["act"] == "key.loaded"] == [
        original_kid,
        "another-key-id",
        original_kid,
    ]

    tokens = [*dpa.settings.tokens, TokenSetting(name="oversight", role="auditor", sha256="0" * 64)]
    dpa.settings = dpa.settings.model_copy(update={"tokens": tokens})
    assert record_trust_state(dpa) == 1
    assert record_trust_state(dpa) == 0
    latest = [e for e in trust_entries(dpa) if e["act"] == "tokens.configured"][-1]
    assert {"name": "oversight", "role": "auditor"} in latest["tokens"]

    dpa.manifest = dpa.manifest.model_copy(update={"signatures": dpa.manifest.signatures[:-1]})
    assert record_trust_state(dpa) == 1
    assert record_trust_state(dpa) == 0
    manifests = [e for e in trust_entries(dpa) if e["act"] == "manifest.accepted"]
    assert len(manifests) == 2 and manifests[0]["sha256"] != manifests[1]["sha256"]


# --- a witness round against a stand-in peer ----------------------------------------------


class StandIn:
    """Answers a witness's calls as a peer would; remembers what was posted."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.posted: list[tuple[str, Any]] = []

    async def call(self, method: str, url: str, document: Any = None) -> Any:
        if method == "POST":
            self.posted.append((url, document))
            return {"stored": len(document["cosignatures"])}
        for prefix, answer in self.answers.items():
            if prefix in url:
                return answer
        raise AssertionError(f"unexpected call {method} {url}")


def b64(proof: list[bytes]) -> list[str]:
    return [base64.b64encode(p).decode() for p in proof]


def test_a_witness_round_cosigns_good_checkpoints_and_alerts_on_a_fork(
    dpa: NodeContext, fed: LocalFederation
) -> None:
    mission = dpa.manifest.participant("mission")
    log = PeerLog(dpa, fed, "mission")
    items = [
        {"size": 5, "note": log.note(5), "consistency": []},
        {"size": 12, "note": log.note(12), "consistency": b64(log.proof(5, 12))},
        {"size": 20, "note": log.note(20), "consistency": b64(log.proof(12, 20))},
    ]
    stand_in = StandIn({"/v1/audit/checkpoints?after=0&": {"checkpoints": items}})
    assert asyncio.run(witness_round(dpa, stand_in, mission)) == 3  # type: ignore[arg-type]
    ((url, document),) = stand_in.posted
    assert url == f"{mission.base_url}/v1/audit/cosign"
    (key,) = [
        k
        for k in witness_keys(dpa.manifest)
        if k.name == witness_name(dpa.manifest.federation, "dpa")
    ]
    for item, line in zip(items, document["cosignatures"], strict=True):
        assert line["size"] == item["size"]
        verify_cosignature_line(parse_note(item["note"]).text, line["line"], key)
    with transaction(dpa.engine) as session:
        seen = auditlog.witnessed(session, "mission")
        assert seen is not None and (seen.size, bytes(seen.root)) == (20, log.tree.root(20))

    # The next round asks after 20, and mission now shows another tree of size 20.
    forked = PeerLog(dpa, fed, "mission", salt="fork")
    fork_items = [{"size": 20, "note": forked.note(20), "consistency": []}]
    stand_in = StandIn({"/v1/audit/checkpoints?after=20&": {"checkpoints": fork_items}})
    assert asyncio.run(witness_round(dpa, stand_in, mission)) == 0  # type: ignore[arg-type]
    assert stand_in.posted == []
    with transaction(dpa.engine) as session:
        (alert,) = auditlog.alerts(session)
        seen = auditlog.witnessed(session, "mission")
    assert (alert.peer, alert.kind) == ("mission", "fork")
    assert seen is not None and seen.size == 20 and bytes(seen.root) == log.tree.root(20)


def test_comparing_with_another_witness_catches_a_split_view(
    dpa: NodeContext, fed: LocalFederation
) -> None:
    unodc = dpa.manifest.participant("unodc")
    log = PeerLog(dpa, fed, "mission")
    with transaction(dpa.engine) as session:
        auditlog.set_witnessed(
            session, peer="mission", size=20, root=log.tree.root(20), note=log.note(20),
            now=dpa.clock.now(),
        )  # fmt: skip

    # unodc cosigned a bigger, consistent tree of mission's: no alert.
    consistent = StandIn(
        {
            "/v1/audit/witnessed": {"logs": [{"peer": "mission", "note": log.note(30)}]},
            "/v1/audit/proof/consistency?old=20&new=30": {"proof": b64(log.proof(20, 30))},
        }
    )
    asyncio.run(compare_with_witnesses(dpa, consistent, unodc))  # type: ignore[arg-type]
    with transaction(dpa.engine) as session:
        assert auditlog.alerts(session) == []

    # unodc cosigned another tree of the same size: mission shows two histories.
    forked = PeerLog(dpa, fed, "mission", salt="fork")
    split = StandIn(
        {"/v1/audit/witnessed": {"logs": [{"peer": "mission", "note": forked.note(20)}]}}
    )
    asyncio.run(compare_with_witnesses(dpa, split, unodc))  # type: ignore[arg-type]
    with transaction(dpa.engine) as session:
        (alert,) = auditlog.alerts(session)
    assert (alert.peer, alert.kind) == ("mission", "fork")


def test_a_witness_does_not_cosign_what_a_revoked_key_signed(
    dpa: NodeContext, fed: LocalFederation
) -> None:
    """mission's key revoked (a manifest dpa switched to): its checkpoints still prove the
    log consistent, but none is cosigned, and nothing is raised as an alert."""
    held = dpa.manifest
    doc = json.loads(manifest_json(held))
    doc.pop("signatures")
    doc["serial"] = held.serial + 1
    mine = next(p for p in doc["participants"] if p["id"] == "mission")
    mine["keys"][0].update(revoked=True, revoked_at=held.issued_at.isoformat())
    dpa.manifest = parse_manifest(doc)  # as after accepting it (signatures are not at issue)
    mission = dpa.manifest.participant("mission")
    log = PeerLog(dpa, fed, "mission")
    items = [
        {"size": 5, "note": log.note(5), "consistency": []},
        {"size": 12, "note": log.note(12), "consistency": b64(log.proof(5, 12))},
    ]
    stand_in = StandIn({"/v1/audit/checkpoints?after=0&": {"checkpoints": items}})

    assert asyncio.run(witness_round(dpa, stand_in, mission)) == 0  # type: ignore[arg-type]

    assert stand_in.posted == []
    with transaction(dpa.engine) as session:
        assert auditlog.alerts(session) == []
    # the same checkpoints under the manifest before the revocation are cosigned
    dpa.manifest = held
    stand_in = StandIn({"/v1/audit/checkpoints?after=0&": {"checkpoints": items}})
    assert asyncio.run(witness_round(dpa, stand_in, held.participant("mission"))) == 2  # type: ignore[arg-type]
