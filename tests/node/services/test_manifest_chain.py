"""A manifest written into a node's database by someone else is never obeyed
(``node.services.manifests``): the stored chain is verified from the trusted anchor at
start-up (``open_node`` refuses to start) and before every switch while running
(``sync_from_database`` keeps the manifest in force), the break is logged, counted and
recorded as ``manifest.chain_broken``, and nothing is recorded as ``manifest.accepted``
for it. A legitimate chain, stored by accepting successors or given as a chain file,
still starts; on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.services.manifests import (
    ManifestOutcome,
    accept_manifest,
    sync_from_database,
)
from clearinghouse.node.settings import Settings
from clearinghouse.node.startup import open_node
from clearinghouse.node.storage import manifests
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.models import UTCDateTime
from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    ManifestSignature,
    manifest_json,
    parse_manifest,
    with_signatures,
)
from clearinghouse.protocol.manifest_changes import propose, revoke_key, rotate_key
from tests.databases import node_database, sqlite_template
from tests.node.conftest import LogLines
from tests.node.services._trust_support import (
    NOW,
    SIGNERS,
    FixedClock,
    TrustFederation,
    audit_entries,
    counter,
    make_trust_federation,
    signed,
    without_time,
    write_node,
)
from tests.nodes import opened_context
from tests.support import seeded_key

HOUR = timedelta(hours=1)
ATTACKER = seeded_key("someone with write access to the database")
NEW_UNODC_KEY = seeded_key("unodc, rotated in the chain")


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory)


@contextmanager
def node_folder(
    tmp_path: Path, fed: TrustFederation, backend: str, template: Path
) -> Iterator[Settings]:
    """mission's settings, on a database of its own that outlives each opened node."""
    folder = tmp_path / "mission"
    folder.mkdir()
    with node_database(backend, folder, template) as url:
        yield write_node(folder, fed, "mission", url)


def forged(fed: TrustFederation, held: Manifest, **changes: Any) -> Manifest:
    """A successor of ``held`` bearing signatures in the names and key ids of the
    quorum, made with a key none of them holds."""
    proposal = propose(held, now=NOW, **changes)
    signatures = [
        ManifestSignature(
            signer=s, kid=fed.kid(s), sig=b64url_encode(ATTACKER.sign(proposal.signing_input()))
        )
        for s in SIGNERS
    ]
    return with_signatures(proposal, signatures)


def plant(url: str, serial: int, document: bytes, *, federation: str = "") -> None:
    """Insert a row into ``manifest`` with plain SQL, as someone with database access
    would."""
    engine = make_engine(url)
    statement = text(
        "INSERT INTO manifest (serial, federation, sha256, document, source, accepted_at)"
        " VALUES (:serial, :federation, :sha256, :document, 'token:admin', :accepted_at)"
    ).bindparams(bindparam("accepted_at", type_=UTCDateTime()))
    try:
        with engine.begin() as connection:
            connection.execute(
                statement,
                {
                    "serial": serial,
                    "federation": federation or "un-integrated-analysis-demo",
                    "sha256": hashlib.sha256(document).hexdigest(),
                    "document": document.decode(),
                    "accepted_at": NOW - HOUR,
                },
            )
    finally:
        engine.dispose()


def unplant(url: str, serial: int) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM manifest WHERE serial = :s"), {"s": serial})
    finally:
        engine.dispose()


def acts_of(ctx: NodeContext, act: str) -> list[dict[str, Any]]:
    return [e for e in audit_entries(ctx) if e["act"] == act]


def broken_entry(serial: int, document: bytes, after: int, reason: str) -> dict[str, Any]:
    return {
        "act": "manifest.chain_broken",
        "actor": "node:mission",
        "serial": serial,
        "sha256": hashlib.sha256(document).hexdigest(),
        "after": after,
        "reason": reason,
    }


def stored(ctx: NodeContext) -> list[tuple[int, str]]:
    with transaction(ctx.engine) as session:
        return [(r.serial, r.source) for r in manifests.history(session)]


# --- at start-up -------------------------------------------------------------------------


def test_a_forged_manifest_planted_in_the_database_stops_the_node_from_starting(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str, log_lines: LogLines
) -> None:
    clock = FixedClock(NOW)
    with node_folder(tmp_path, fed, backend, template) as settings:
        with opened_context(settings, clock):
            pass  # the first start: serial 1 from the file
        planted = manifest_json(forged(fed, fed.manifest, remove_participants=["undp"]))
        plant(settings.database_url, 2, planted)

        reason = (
            "manifest serial 2 does not follow from serial 1: signature by 'mission' "
            f"(key {fed.kid('mission')}) does not verify over this manifest"
        )
        for _ in range(2):  # a second attempt (a restarting container) adds no entry
            with pytest.raises(ServiceUnavailable) as caught:
                open_node(settings, clock)
            assert caught.value.status == 503
            assert caught.value.detail == (
                f"manifest chain broken: stored {reason}; this node did not accept that "
                "manifest (was its database written to?): it is not obeyed. Find out how it "
                "got there, then delete it (table manifest, serial 2, document SHA-256 "
                f"{hashlib.sha256(planted).hexdigest()})"
            )
        assert any(
            line["level"] == "ERROR" and line["message"].startswith("refusing to start")
            for line in log_lines()
        )

        unplant(settings.database_url, 2)
        # the forgery gone, the node starts on serial 1
        with opened_context(settings, clock) as ctx:
            assert ctx.manifest.serial == 1
            assert without_time(acts_of(ctx, "manifest.chain_broken")) == [
                broken_entry(2, planted, 1, reason)
            ]
            accepted = acts_of(ctx, "manifest.accepted")
            assert [e["serial"] for e in accepted] == [1]


def test_a_stored_row_that_holds_no_manifest_of_its_serial_stops_the_node_from_starting(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    clock = FixedClock(NOW)
    with node_folder(tmp_path, fed, backend, template) as settings:
        with opened_context(settings, clock):
            pass
        second = signed(propose(fed.manifest, now=NOW, quorum=2), fed.manifest, fed.keys)
        plant(settings.database_url, 3, manifest_json(second))  # serial 2 filed as 3
        with pytest.raises(ServiceUnavailable) as caught:
            open_node(settings, clock)
        assert caught.value.detail.startswith(
            "manifest chain broken: stored manifest serial 3 does not follow from serial 1: "
            "the row of serial 3 holds a manifest of serial 2;"
        )
        unplant(settings.database_url, 3)
        plant(settings.database_url, 2, b'{"serial": 2}')
        with pytest.raises(ServiceUnavailable) as caught:
            open_node(settings, clock)
        assert caught.value.detail.startswith(
            "manifest chain broken: stored manifest serial 2 does not follow from serial 1: "
            "manifest is malformed:"
        )


# --- while running ---------------------------------------------------------------------


def test_a_forged_manifest_planted_while_running_is_not_switched_to(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str, log_lines: LogLines
) -> None:
    clock = FixedClock(NOW)
    with (
        node_folder(tmp_path, fed, backend, template) as settings,
        opened_context(settings, clock) as ctx,
    ):
        planted = manifest_json(forged(fed, fed.manifest, remove_participants=["undp"]))
        plant(settings.database_url, 2, planted)

        for _ in range(3):  # every sync round: not switched, reported once
            assert sync_from_database(ctx) is False
        assert ctx.manifest.serial == 1
        assert "undp" in [p.id for p in ctx.peers]
        assert counter(ctx.metrics.manifest_chain_breaks) == 1
        assert counter(ctx.metrics.manifest_serial) == 1
        reason = (
            "manifest serial 2 does not follow from serial 1: signature by 'mission' "
            f"(key {fed.kid('mission')}) does not verify over this manifest"
        )
        assert without_time(acts_of(ctx, "manifest.chain_broken")) == [
            broken_entry(2, planted, 1, reason)
        ]
        assert [e["serial"] for e in acts_of(ctx, "manifest.accepted")] == [1]
        errors = [line["message"] for line in log_lines() if line["level"] == "ERROR"]
        assert len(errors) == 1
        assert errors[0].startswith(f"not switching, keeping serial 1: stored {reason};")

        # the genuine serial 2 cannot be stored beside the planted one: refused, not faked
        genuine = signed(
            propose(fed.manifest, now=NOW, remove_participants=["undp"]),
            fed.manifest,
            fed.keys,
        )
        with pytest.raises(ServiceUnavailable, match="holds another manifest of serial 2"):
            accept_manifest(ctx, manifest_json(genuine), actor="peer:dpa")
        assert ctx.manifest.serial == 1
        assert counter(ctx.metrics.manifest_chain_breaks) == 1


def test_a_replicas_switch_is_taken_up_to_a_forged_manifest_planted_after_it(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    clock = FixedClock(NOW)
    with (
        node_folder(tmp_path, fed, backend, template) as settings,
        opened_context(settings, clock) as ctx,
    ):
        second = signed(
            propose(fed.manifest, now=NOW, remove_participants=["undp"]), fed.manifest, fed.keys
        )
        with transaction(ctx.engine) as session:  # another replica accepted serial 2
            manifests.add(session, second, manifest_json(second), source="peer:dpa", now=NOW)
        third = forged(fed, second, quorum=1)
        plant(settings.database_url, 3, manifest_json(third))

        assert sync_from_database(ctx) is True  # to serial 2, which follows from 1
        assert ctx.manifest.signing_input() == second.signing_input()
        assert counter(ctx.metrics.manifest_serial) == 2
        assert counter(ctx.metrics.manifest_chain_breaks) == 1
        (entry,) = acts_of(ctx, "manifest.chain_broken")
        assert (entry["serial"], entry["after"]) == (3, 2)
        assert sync_from_database(ctx) is False
        assert ctx.manifest.serial == 2
        assert [e["serial"] for e in acts_of(ctx, "manifest.accepted")] == [1]


# --- legitimate chains -------------------------------------------------------------------


def rotation_then_revocation(fed: TrustFederation) -> tuple[Manifest, Manifest]:
    """Serial 2 gives unodc a new key (the old one ends an hour later); serial 3, two
    hours later, revokes the old key from before serial 2 was issued (compromised since
    then), and unodc signs it with the new key."""
    old = fed.kid("unodc")
    two = signed(
        rotate_key(fed.manifest, "unodc", public_jwk(NEW_UNODC_KEY), now=NOW, overlap=HOUR),
        fed.manifest,
        fed.keys,
    )
    keys = {**fed.keys, "unodc": NEW_UNODC_KEY}
    three = signed(
        revoke_key(two, "unodc", old, at=NOW - HOUR, now=NOW + 2 * HOUR),
        two,
        {s: keys[s] for s in SIGNERS},
    )
    return two, three


def test_a_chain_stored_by_accepting_successors_starts_with_keys_rotated_and_revoked_since(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    two, three = rotation_then_revocation(fed)
    clock = FixedClock(NOW)
    with node_folder(tmp_path, fed, backend, template) as settings:
        with opened_context(settings, clock) as ctx:
            assert accept_manifest(ctx, manifest_json(two), actor="peer:unodc").status == (
                "accepted"
            )
            clock.at = NOW + 2 * HOUR
            outcome = accept_manifest(ctx, manifest_json(three), actor="peer:unodc")
            assert outcome == ManifestOutcome("accepted", 3, fed.manifest.federation)

        # unodc's key that signed serial 2 is revoked by serial 3 from before it signed:
        # serial 2 is judged with serial 1's keys as of its issue, and the chain holds
        clock.at = NOW + timedelta(days=3)
        with opened_context(settings, clock) as ctx:
            assert ctx.manifest.signing_input() == three.signing_input()
            assert ctx.manifest_since == NOW + 2 * HOUR
            assert acts_of(ctx, "manifest.chain_broken") == []

        # a node started from serial 2's file, that accepted serial 3 since: 2 -> 3
        settings.manifest_file.write_bytes(manifest_json(two))
        with opened_context(settings, clock) as ctx:
            assert ctx.manifest.serial == 3
            assert stored(ctx) == [(1, "file"), (2, "peer:unodc"), (3, "peer:unodc")]


def test_a_new_member_joins_from_a_chain_in_its_manifest_file(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    two = signed(propose(fed.manifest, now=NOW, quorum=3), fed.manifest, fed.keys)
    # serial 3 removes dpa, who signs its own removal with the key serial 2 lists: serial
    # 3 alone carries a signature by a non-participant, so only serial 2 vouches for it
    three = signed(
        propose(two, now=NOW + HOUR, remove_participants=["dpa"], quorum=2),
        two,
        {s: fed.keys[s] for s in SIGNERS},
    )
    clock = FixedClock(NOW + 2 * HOUR)
    with node_folder(tmp_path, fed, backend, template) as settings:
        settings.manifest_file.write_bytes(manifest_json(three))
        with pytest.raises(ServiceUnavailable) as caught:
            open_node(settings, clock)
        assert caught.value.detail.startswith(
            "manifest_file: signature by 'dpa' is not acceptable: 'dpa' is not a participant"
        )

        chain = [json.loads(manifest_json(m)) for m in (two, three)]
        settings.manifest_file.write_text(json.dumps(chain, indent=2))
        with opened_context(settings, clock) as ctx:
            assert ctx.manifest.signing_input() == three.signing_input()
            assert ctx.manifest_since == clock.at
            assert stored(ctx) == [(2, "file"), (3, "file")]
            with transaction(ctx.engine) as session:
                documents = [r.document for r in manifests.history(session)]
            assert [parse_manifest(d).signing_input() for d in documents] == [
                two.signing_input(),
                three.signing_input(),
            ]
            assert [e["serial"] for e in acts_of(ctx, "manifest.accepted")] == [3]

        with opened_context(settings, clock) as ctx:  # a restart on the same chain
            assert ctx.manifest.serial == 3
            assert stored(ctx) == [(2, "file"), (3, "file")]


def test_a_chain_file_whose_successor_does_not_follow_is_refused_naming_it(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    two = signed(propose(fed.manifest, now=NOW, quorum=3), fed.manifest, fed.keys)
    under = signed(
        propose(two, now=NOW, quorum=2), two, {s: fed.keys[s] for s in ("mission", "unodc")}
    )
    clock = FixedClock(NOW)
    with node_folder(tmp_path, fed, backend, template) as settings:
        chain = [json.loads(manifest_json(m)) for m in (fed.manifest, two, under)]
        settings.manifest_file.write_text(json.dumps(chain))
        with pytest.raises(ServiceUnavailable) as caught:
            open_node(settings, clock)
        assert caught.value.detail == (
            "manifest_file: manifest serial 3 does not follow from serial 2: manifest serial 3 "
            "has 2 valid signature(s) (mission, unodc) of the 3 required"
        )
        engine = make_engine(settings.database_url)
        try:
            with transaction(engine) as session:
                assert manifests.history(session) == []  # nothing half-written
        finally:
            engine.dispose()
