"""The manifest lifecycle at a node (``node.services.manifests``): the manifest in force at
start-up, accepting a successor (or refusing it), a replica's switch, and the signing key
following rotations, revocations and validity windows."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import write_private_key
from clearinghouse.node.services import acts
from clearinghouse.node.services.manifests import (
    ManifestOutcome,
    accept_manifest,
    refresh_signing_key,
    startup_manifest,
    sync_from_database,
)
from clearinghouse.node.storage import manifests
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.protocol.errors import ManifestRejected
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest, sign_manifest
from clearinghouse.protocol.manifest_changes import propose, revoke_key, rotate_key
from tests.databases import node_database, sqlite_template
from tests.node.conftest import LogLines
from tests.node.services._trust_support import (
    NOW,
    SIGNERS,
    T0,
    FixedClock,
    TrustFederation,
    audit_entries,
    audit_size,
    counter,
    make_trust_federation,
    opened_trust_node,
    signed,
    without_time,
)
from tests.support import seeded_key

T = TypeVar("T")
HOUR = timedelta(hours=1)
FEDERATION = "un-integrated-analysis-demo"
NEW_KEY = seeded_key("mission, rotated")
NEWER_KEY = seeded_key("mission, rotated again")


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def mission(
    fed: TrustFederation, tmp_path: Path, clock: FixedClock, template: Path
) -> Iterator[NodeContext]:
    with opened_trust_node(tmp_path / "mission", fed, "mission", clock, template=template) as ctx:
        # no peer runs here to learn a new key: switch at once (pre-publish is tested below)
        ctx.settings = ctx.settings.model_copy(update={"key_prepublish_max_s": 0})
        yield ctx


@pytest.fixture
def prepublishing(
    fed: TrustFederation, tmp_path: Path, clock: FixedClock, template: Path
) -> Iterator[NodeContext]:
    """mission with the default pre-publish wait."""
    with opened_trust_node(tmp_path / "mission", fed, "mission", clock, template=template) as ctx:
        yield ctx


def quorum_signed(fed: TrustFederation, proposal: Manifest, held: Manifest) -> Manifest:
    return signed(proposal, held, {s: fed.keys[s] for s in SIGNERS})


def without_undp(fed: TrustFederation, held: Manifest | None = None) -> Manifest:
    held = held or fed.manifest
    return quorum_signed(fed, propose(held, now=NOW, remove_participants=["undp"]), held)


def rotated_to_new_key(fed: TrustFederation, mission: NodeContext) -> Manifest:
    """NEW_KEY placed beside mission's key, and the quorum-signed manifest listing it."""
    place_key(mission, NEW_KEY)
    return quorum_signed(
        fed,
        rotate_key(fed.manifest, "mission", public_jwk(NEW_KEY), now=NOW, overlap=HOUR),
        fed.manifest,
    )


def kid(key: Ed25519PrivateKey) -> str:
    return public_jwk(key)["kid"]


def place_key(ctx: NodeContext, key: Ed25519PrivateKey) -> None:
    """A rotated key beside ``key_file``, named as ``clearinghouse key rotate`` names it."""
    write_private_key(ctx.settings.key_file.parent / f"mission.{kid(key)[:8]}.key.pem", key, None)


def accepted_entry(actor: str, manifest: Manifest) -> dict[str, object]:
    return {
        "act": "manifest.accepted",
        "actor": actor,
        "federation": FEDERATION,
        "serial": manifest.serial,
        "sha256": hashlib.sha256(manifest_json(manifest)).hexdigest(),
        "policy": acts.policy_digest(manifest),
    }


def within_seconds(limit: float, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, failing the test if it has not returned after ``limit``
    seconds (run in a daemon thread, so that a deadlock fails the test instead of
    hanging the run)."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(call(*args, **kwargs))
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(
            f"{getattr(call, '__name__', call)} did not return within {limit} s (deadlock?)"
        )
    if failed:
        raise failed[0]
    return done[0]


def stored_serials(ctx: NodeContext) -> list[tuple[int, str]]:
    with transaction(ctx.engine) as session:
        return [(r.serial, r.source) for r in manifests.history(session)]


# --- start-up --------------------------------------------------------------------------------


@pytest.fixture
def engine_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with node_database(backend, tmp_path) as url:
        upgrade(url)
        yield url


def start(url: str, manifest: Manifest, at: object) -> tuple[Manifest, object]:
    engine = make_engine(url)
    try:
        return startup_manifest(  # type: ignore[arg-type]
            engine, manifest_json(manifest), at, participant="mission"
        )
    finally:
        engine.dispose()


def rows(url: str) -> list[tuple[int, str, object, str]]:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            return [
                (r.serial, r.source, r.accepted_at, r.document) for r in manifests.history(session)
            ]
    finally:
        engine.dispose()


def test_the_first_start_stores_the_files_manifest_and_a_restart_keeps_it(
    fed: TrustFederation, engine_url: str
) -> None:
    two_signatures = fed.manifest.model_copy(update={"signatures": fed.manifest.signatures[:2]})
    with pytest.raises(ServiceUnavailable) as caught:
        start(engine_url, two_signatures, NOW)
    assert caught.value.detail == (
        "manifest_file: manifest serial 1 has 2 valid signature(s) (mission, unodc) "
        "of the 3 required"
    )
    assert rows(engine_url) == []

    manifest, since = start(engine_url, fed.manifest, NOW)
    assert (manifest.serial, manifest.signing_input(), since) == (
        1,
        fed.manifest.signing_input(),
        NOW,
    )
    assert rows(engine_url) == [(1, "file", NOW, manifest_json(fed.manifest).decode())]

    # A restart: the same file, or the same content with another set of signatures.
    four = sign_manifest(fed.manifest, "undp", fed.keys["undp"])
    for document in (fed.manifest, four):
        manifest, since = start(engine_url, document, NOW + HOUR)
        assert (manifest.serial, since) == (1, NOW)  # in force since the first start
    assert len(rows(engine_url)) == 1


def test_a_successor_in_the_file_is_verified_against_the_stored_manifest(
    fed: TrustFederation, engine_url: str
) -> None:
    start(engine_url, fed.manifest, NOW)
    proposal = propose(fed.manifest, now=NOW, remove_participants=["undp"])
    too_few = signed(proposal, fed.manifest, {"mission": fed.keys["mission"]})
    with pytest.raises(ServiceUnavailable) as caught:
        start(engine_url, too_few, NOW)
    assert caught.value.detail == (
        "manifest_file: manifest serial 2 has 1 valid signature(s) (mission) of the 3 required"
    )
    doc = json.loads(manifest_json(proposal))
    doc["federation"] = "another-federation"
    elsewhere = parse_manifest(doc)
    for signer in SIGNERS:
        elsewhere = sign_manifest(elsewhere, signer, fed.keys[signer])
    with pytest.raises(ServiceUnavailable) as caught:
        start(engine_url, elsewhere, NOW)
    assert caught.value.detail == (
        f"manifest_file: manifest is for federation 'another-federation', not {FEDERATION!r}"
    )
    assert [r[0] for r in rows(engine_url)] == [1]

    second = without_undp(fed)
    manifest, since = start(engine_url, second, NOW + HOUR)
    assert (manifest.serial, since) == (2, NOW + HOUR)
    assert [(r[0], r[1], r[2]) for r in rows(engine_url)] == [
        (1, "file", NOW),
        (2, "file", NOW + HOUR),
    ]


def test_a_changed_file_of_the_same_serial_is_refused_and_an_older_one_ignored(
    fed: TrustFederation, engine_url: str, log_lines: LogLines
) -> None:
    start(engine_url, fed.manifest, NOW)
    second = without_undp(fed)
    start(engine_url, second, NOW + HOUR)

    other_second = quorum_signed(fed, propose(fed.manifest, now=NOW, quorum=2), fed.manifest)
    with pytest.raises(ServiceUnavailable) as caught:
        start(engine_url, other_second, NOW + 2 * HOUR)
    assert caught.value.detail == (
        "manifest_file: it holds serial 2, but the manifest of that serial this node accepted "
        "has other content; a changed manifest needs a higher serial"
    )

    manifest, since = start(engine_url, fed.manifest, NOW + 3 * HOUR)  # serial 1 in the file
    assert (manifest.serial, manifest.signing_input(), since) == (
        2,
        second.signing_input(),
        NOW + HOUR,
    )
    assert [r[0] for r in rows(engine_url)] == [1, 2]
    messages = [line["message"] for line in log_lines()]
    assert (
        f"manifest_file holds serial 1; serial 2 (accepted {(NOW + HOUR).isoformat()}) is in force"
        in messages
    )


# --- accepting a successor -------------------------------------------------------------------


def test_the_manifest_in_force_is_already_held(fed: TrustFederation, mission: NodeContext) -> None:
    before = audit_size(mission)
    four = sign_manifest(fed.manifest, "undp", fed.keys["undp"])  # same content
    for document in (manifest_json(fed.manifest), manifest_json(four)):
        outcome = accept_manifest(mission, document, actor="token:admin")
        assert outcome == ManifestOutcome("already-held", 1, FEDERATION)
    assert audit_size(mission) == before
    assert stored_serials(mission) == [(1, "file")]
    assert mission.manifest.signatures == fed.manifest.signatures


def test_a_successor_is_stored_recorded_and_switched_to(
    fed: TrustFederation, mission: NodeContext
) -> None:
    before = audit_size(mission)
    kid_before = mission.kid
    second = without_undp(fed)
    document = manifest_json(second)

    async def accept_and_wait() -> ManifestOutcome:
        wake = mission.manifest_signal.subscribe()
        outcome = await asyncio.to_thread(accept_manifest, mission, document, actor="token:admin")
        await asyncio.wait_for(wake.wait(), timeout=5)  # the per-peer workers are woken
        return outcome

    outcome = asyncio.run(accept_and_wait())
    assert outcome == ManifestOutcome("accepted", 2, FEDERATION)
    assert mission.manifest.serial == 2
    assert mission.manifest.signing_input() == second.signing_input()
    assert mission.manifest_since == NOW
    assert [p.id for p in mission.peers] == ["unodc", "dpa", "sanctions"]
    assert mission.kid == kid_before  # the key did not change: no key.loaded entry
    assert stored_serials(mission) == [(1, "file"), (2, "token:admin")]
    assert without_time(audit_entries(mission, after=before)) == [
        accepted_entry("token:admin", second)
    ]
    assert counter(mission.metrics.manifest_serial) == 2

    again = accept_manifest(mission, document, actor="peer:dpa")
    assert again == ManifestOutcome("already-held", 2, FEDERATION)
    assert audit_size(mission) == before + 1


def test_a_refused_manifest_is_recorded_with_its_reason(
    fed: TrustFederation, mission: NodeContext
) -> None:
    before = audit_size(mission)
    proposal = propose(fed.manifest, now=NOW, remove_participants=["undp"])
    too_few = signed(proposal, fed.manifest, {"unodc": fed.keys["unodc"]})
    same_serial = quorum_signed(fed, propose(fed.manifest, now=NOW, quorum=2), fed.manifest)
    same_serial_doc = json.loads(manifest_json(same_serial))
    same_serial_doc["serial"] = 1  # the held serial, with other content
    refused = {
        "too few": (
            manifest_json(too_few),
            "manifest serial 2 has 1 valid signature(s) (unodc) of the 3 required",
            2,
        ),
        "not json": (b"{not json", None, None),
        "same serial": (json.dumps(same_serial_doc).encode(), None, 1),
    }
    for what, (document, reason, serial) in refused.items():
        with pytest.raises(ManifestRejected) as caught:
            accept_manifest(mission, document, actor="token:admin")
        if reason is not None:
            assert caught.value.message == reason, what
        (entry,) = without_time(audit_entries(mission, after=audit_size(mission) - 1))
        expected: dict[str, object] = {
            "act": "manifest.refused",
            "actor": "token:admin",
            "sha256": hashlib.sha256(document).hexdigest(),
            "reason": caught.value.message,
        }
        if serial is not None:
            expected["serial"] = serial
        assert entry == expected, what
    assert "not higher than the held serial 1" in entry["reason"]  # type: ignore[operator]
    assert audit_size(mission) == before + 3
    assert counter(mission.metrics.manifests_refused) == 3
    assert mission.manifest.serial == 1
    assert stored_serials(mission) == [(1, "file")]


def test_a_serial_another_replica_stored_is_switched_to_without_a_second_entry(
    fed: TrustFederation, tmp_path: Path, template: Path, backend: str
) -> None:
    clock = FixedClock(NOW)
    with opened_trust_node(
        tmp_path / "mission", fed, "mission", clock, backend=backend, template=template
    ) as ctx:
        second = without_undp(fed)
        document = manifest_json(second)
        with transaction(ctx.engine) as session:  # the other replica, a minute ago
            manifests.add(session, second, document, source="token:admin", now=NOW - HOUR / 60)
        before = audit_size(ctx)
        outcome = within_seconds(5, accept_manifest, ctx, document, actor="peer:dpa")
        assert outcome == ManifestOutcome("already-held", 2, FEDERATION)
        assert ctx.manifest.serial == 2
        assert ctx.manifest_since == NOW - HOUR / 60
        assert [p.id for p in ctx.peers] == ["unodc", "dpa", "sanctions"]
        assert stored_serials(ctx) == [(1, "file"), (2, "token:admin")]
        assert audit_size(ctx) == before
        assert counter(ctx.metrics.manifest_serial) == 2


def test_sync_from_database_picks_up_a_replicas_switch_once(
    fed: TrustFederation, mission: NodeContext
) -> None:
    assert sync_from_database(mission) is False
    second = without_undp(fed)
    with transaction(mission.engine) as session:
        manifests.add(session, second, manifest_json(second), source="token:admin", now=T0)
    before = audit_size(mission)
    assert sync_from_database(mission) is True
    assert (mission.manifest.serial, mission.manifest_since) == (2, T0)
    assert [p.id for p in mission.peers] == ["unodc", "dpa", "sanctions"]
    assert counter(mission.metrics.manifest_serial) == 2
    assert sync_from_database(mission) is False
    assert audit_size(mission) == before  # the replica recorded the switch


# --- the signing key -----------------------------------------------------------------------


def test_a_rotation_switches_the_signing_key_and_records_it(
    fed: TrustFederation, mission: NodeContext, clock: FixedClock
) -> None:
    old = mission.kid
    rotation = rotated_to_new_key(fed, mission)
    before = audit_size(mission)
    assert accept_manifest(mission, manifest_json(rotation), actor="token:admin").status == (
        "accepted"
    )
    assert mission.signing.kid == kid(NEW_KEY)
    assert public_jwk(mission.signing.key) == public_jwk(NEW_KEY)
    assert sorted(mission.private_keys) == sorted([old, kid(NEW_KEY)])
    assert without_time(audit_entries(mission, after=before)) == [
        accepted_entry("token:admin", rotation),
        {"act": "key.loaded", "actor": "node:mission", "kid": kid(NEW_KEY)},
    ]
    mission.check_ready()

    after = audit_size(mission)
    assert refresh_signing_key(mission) is False  # nothing changed
    assert refresh_signing_key(mission, reload=True) is False
    clock.at = NOW + 2 * HOUR  # the old key's overlap is over
    assert refresh_signing_key(mission) is False
    assert mission.kid == kid(NEW_KEY)
    assert audit_size(mission) == after


def test_a_key_valid_from_later_takes_over_when_its_time_comes(
    fed: TrustFederation, mission: NodeContext, clock: FixedClock
) -> None:
    old = mission.kid
    place_key(mission, NEW_KEY)
    later = {**public_jwk(NEW_KEY), "not_before": NOW + HOUR}
    rotation = quorum_signed(
        fed,
        rotate_key(fed.manifest, "mission", later, now=NOW, overlap=2 * HOUR),
        fed.manifest,
    )
    accept_manifest(mission, manifest_json(rotation), actor="token:admin")
    assert mission.kid == old
    before = audit_size(mission)
    assert refresh_signing_key(mission) is False

    clock.at = NOW + HOUR
    assert refresh_signing_key(mission) is True
    assert mission.kid == kid(NEW_KEY)
    entries = audit_entries(mission, after=before)
    assert without_time(entries) == [
        {"act": "key.loaded", "actor": "node:mission", "kid": kid(NEW_KEY)}
    ]
    assert entries[0]["time"] == "2026-11-25T13:00:00.000Z"


def test_a_new_key_signs_only_once_every_peer_holds_the_manifest_listing_it(
    fed: TrustFederation, prepublishing: NodeContext, clock: FixedClock
) -> None:
    mission = prepublishing
    old = mission.kid
    rotation = rotated_to_new_key(fed, mission)
    accept_manifest(mission, manifest_json(rotation), actor="token:admin")
    assert mission.kid == old  # nobody else holds serial 2 yet
    assert mission.key_held_back == (kid(NEW_KEY), NOW)
    peers = [p.id for p in mission.peers]
    for peer in peers[:-1]:
        mission.peer_serials[peer] = rotation.serial
    assert refresh_signing_key(mission) is False  # one peer still on serial 1
    assert mission.kid == old
    mission.peer_serials[peers[-1]] = rotation.serial
    assert refresh_signing_key(mission) is True
    assert mission.kid == kid(NEW_KEY) and mission.key_held_back is None


def test_a_new_key_signs_after_the_longest_wait_even_if_a_peer_never_answers(
    fed: TrustFederation, prepublishing: NodeContext, clock: FixedClock
) -> None:
    mission = prepublishing
    old = mission.kid
    rotation = rotated_to_new_key(fed, mission)
    accept_manifest(mission, manifest_json(rotation), actor="token:admin")
    wait = timedelta(seconds=mission.settings.key_prepublish_max_s)
    clock.at = NOW + wait - timedelta(seconds=1)
    assert refresh_signing_key(mission) is False
    assert mission.kid == old
    clock.at = NOW + wait
    assert refresh_signing_key(mission) is True
    assert mission.kid == kid(NEW_KEY)


def test_a_revoked_current_key_gives_way_at_once_without_waiting_for_peers(
    fed: TrustFederation, prepublishing: NodeContext
) -> None:
    mission = prepublishing
    old = mission.kid
    rotation = rotated_to_new_key(fed, mission)
    revocation = signed(
        revoke_key(rotation, "mission", old, at=NOW, now=NOW),
        rotation,
        {"unodc": fed.keys["unodc"], "dpa": fed.keys["dpa"], "undp": fed.keys["undp"]},
    )
    accept_manifest(mission, manifest_json(rotation), actor="token:admin")
    assert mission.kid == old
    accept_manifest(mission, manifest_json(revocation), actor="token:admin")
    assert mission.kid == kid(NEW_KEY)


def test_when_the_newest_key_is_revoked_the_older_one_signs_again(
    fed: TrustFederation, mission: NodeContext
) -> None:
    old = mission.kid
    rotation = rotated_to_new_key(fed, mission)
    accept_manifest(mission, manifest_json(rotation), actor="token:admin")
    assert mission.kid == kid(NEW_KEY)
    revocation = signed(
        revoke_key(rotation, "mission", kid(NEW_KEY), at=NOW, now=NOW),
        rotation,
        {"unodc": fed.keys["unodc"], "dpa": fed.keys["dpa"], "undp": fed.keys["undp"]},
    )
    before = audit_size(mission)
    accept_manifest(mission, manifest_json(revocation), actor="token:admin")
    assert mission.kid == old
    assert without_time(audit_entries(mission, after=before))[1:] == [
        {"act": "key.loaded", "actor": "node:mission", "kid": old}
    ]


def test_a_revoked_only_key_is_kept_and_the_node_reports_not_ready(
    fed: TrustFederation, mission: NodeContext
) -> None:
    old = mission.kid
    revocation = signed(
        revoke_key(fed.manifest, "mission", old, at=NOW, now=NOW),
        fed.manifest,
        {"unodc": fed.keys["unodc"], "dpa": fed.keys["dpa"], "undp": fed.keys["undp"]},
    )
    before = audit_size(mission)
    outcome = accept_manifest(mission, manifest_json(revocation), actor="token:admin")
    assert outcome == ManifestOutcome("accepted", 2, FEDERATION)
    assert mission.kid == old
    assert [e["act"] for e in audit_entries(mission, after=before)] == ["manifest.accepted"]
    assert refresh_signing_key(mission) is False
    assert refresh_signing_key(mission, reload=True) is False
    assert mission.kid == old
    with pytest.raises(ServiceUnavailable, match=r"this node may not sign now: key .* is revoked"):
        mission.check_ready()

    # A new key placed beside it and listed by the next manifest: the node signs again.
    place_key(mission, NEWER_KEY)
    addition = signed(
        rotate_key(revocation, "mission", public_jwk(NEWER_KEY), now=NOW, overlap=HOUR),
        revocation,
        {"unodc": fed.keys["unodc"], "dpa": fed.keys["dpa"], "undp": fed.keys["undp"]},
    )
    accept_manifest(mission, manifest_json(addition), actor="token:admin")
    assert mission.kid == kid(NEWER_KEY)
    mission.check_ready()


def test_an_expired_key_is_kept_when_no_other_may_sign(
    mission: NodeContext, clock: FixedClock
) -> None:
    old = mission.kid
    before = audit_size(mission)
    clock.at = T0 + timedelta(days=730, seconds=1)  # after every key's not_after
    assert refresh_signing_key(mission) is False
    assert refresh_signing_key(mission, reload=True) is False
    assert mission.kid == old
    assert audit_size(mission) == before
    with pytest.raises(ServiceUnavailable, match="this node may not sign now"):
        mission.check_ready()


def test_unreadable_key_files_or_leaving_the_federation_keep_the_key(
    fed: TrustFederation, mission: NodeContext
) -> None:
    old, held = mission.kid, dict(mission.private_keys)
    mission.settings.key_file.unlink()
    assert refresh_signing_key(mission, reload=True) is False
    assert (mission.kid, mission.private_keys) == (old, held)

    removal = signed(
        propose(fed.manifest, now=NOW, remove_participants=["mission"], quorum=3),
        fed.manifest,
        {"unodc": fed.keys["unodc"], "dpa": fed.keys["dpa"], "undp": fed.keys["undp"]},
    )
    accept_manifest(mission, manifest_json(removal), actor="peer:dpa")
    assert mission.manifest.serial == 2
    assert refresh_signing_key(mission) is False
    assert mission.kid == old
    with pytest.raises(ServiceUnavailable, match="'mission' is not a participant"):
        mission.check_ready()
