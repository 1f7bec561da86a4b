"""Key use in an audit log: each signature dated and judged against its key's validity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.protocol.audit import (
    Act,
    LogVerifier,
    audit_origin,
    encode_entry,
    log_keys,
    parse_entry,
    witness_keys,
    witness_name,
)
from clearinghouse.protocol.errors import AuditError, KeyNotValid, KeyRevoked
from clearinghouse.protocol.key_use import (
    KeyStatus,
    KeyUseCheck,
    checkpoint_signed_at,
    cosignature_time,
    judge,
)
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    ManifestKey,
    manifest_json,
    parse_manifest,
    signing_key,
)
from clearinghouse.protocol.merkle import CompactRange, leaf_hash
from clearinghouse.protocol.notes import add_signatures, checkpoint_text, cosign, sign_note
from tests.support import NOW, Federation, seeded_key

KEY_A, KEY_B = seeded_key("mission"), seeded_key("mission, rotated")
START = datetime(2026, 1, 1, tzinfo=UTC)
SWITCH = NOW  # A's not_after, B's not_before
HOUR = timedelta(hours=1)


def key(
    private: Ed25519PrivateKey = KEY_A,
    not_before: datetime = START,
    not_after: datetime | None = None,
    revoked_at: datetime | None = None,
    revoked: bool | None = None,
) -> ManifestKey:
    return ManifestKey(
        **public_jwk(private),
        not_before=not_before,
        not_after=not_after,
        revoked=revoked_at is not None if revoked is None else revoked,
        revoked_at=revoked_at,
    )


def _manifest_with(federation: Federation, keys: list[ManifestKey]) -> Manifest:
    """The test federation's manifest with mission holding ``keys`` (not re-signed:
    key use does not depend on the manifest's signatures)."""
    doc = json.loads(manifest_json(federation.manifest))
    for participant in doc["participants"]:
        if participant["id"] == "mission":
            participant["keys"] = [json.loads(k.model_dump_json(exclude_none=True)) for k in keys]
    return parse_manifest(doc)


# --- judge: one key, one instant ------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "at", "expected"),
    [
        ({}, NOW, KeyStatus.VALID),
        ({}, START, KeyStatus.VALID),  # not_before is inclusive
        ({}, START - timedelta(microseconds=1), KeyStatus.OUTSIDE_VALIDITY),
        ({"not_after": SWITCH}, SWITCH, KeyStatus.VALID),  # not_after is inclusive
        ({"not_after": SWITCH}, SWITCH + timedelta(microseconds=1), KeyStatus.OUTSIDE_VALIDITY),
        ({"revoked_at": NOW}, NOW - timedelta(microseconds=1), KeyStatus.VALID),
        ({"revoked_at": NOW}, NOW, KeyStatus.REVOKED),  # from revoked_at on
        ({"revoked_at": NOW}, NOW + HOUR, KeyStatus.REVOKED),
        ({"revoked_at": NOW, "not_after": NOW - HOUR}, NOW, KeyStatus.REVOKED),  # revoked first
        ({"revoked": True}, START, KeyStatus.REVOKED),  # revoked without a time: always
        ({"revoked": True}, None, KeyStatus.REVOKED),
        ({"revoked_at": NOW}, None, KeyStatus.UNDATED),
        ({}, None, KeyStatus.UNDATED),
    ],
)
def test_judge_one_key_at_one_instant(
    window: dict[str, Any], at: datetime | None, expected: KeyStatus
) -> None:
    assert judge(key(**window), at) is expected


def test_judge_an_unknown_key_and_a_naive_time() -> None:
    assert judge(None, NOW) is KeyStatus.UNKNOWN_KEY
    assert judge(None, None) is KeyStatus.UNKNOWN_KEY
    with pytest.raises(AuditError, match="timezone-aware"):
        judge(key(), datetime(2026, 6, 1))  # naive on purpose


def test_only_bad_uses_are_violations() -> None:
    assert {s for s in KeyStatus if s.violation} == {
        KeyStatus.OUTSIDE_VALIDITY,
        KeyStatus.REVOKED,
        KeyStatus.UNKNOWN_KEY,
    }


_OFFSETS = st.integers(-3, 3).map(lambda h: NOW + h * HOUR)


@given(
    not_after=st.none() | _OFFSETS,
    revoked_at=st.none() | _OFFSETS,
    revoked=st.booleans(),
    at=_OFFSETS,
)
def test_judge_agrees_with_signing_key(
    federation: Federation,
    not_after: datetime | None,
    revoked_at: datetime | None,
    revoked: bool,
    at: datetime,
) -> None:
    """What the audit tools report is exactly what a node would refuse at that instant."""
    k = key(
        not_before=NOW - 2 * HOUR,
        not_after=not_after if not_after is None or not_after > NOW - 2 * HOUR else None,
        revoked=revoked or revoked_at is not None,
        revoked_at=revoked_at,
    )
    manifest = _manifest_with(federation, [k])
    try:
        signing_key(manifest, "mission", k.kid, at)
        accepted = KeyStatus.VALID
    except KeyRevoked:
        accepted = KeyStatus.REVOKED
    except KeyNotValid:
        accepted = KeyStatus.OUTSIDE_VALIDITY
    assert judge(k, at) is accepted


# --- dating -------------------------------------------------------------------------------


def test_a_checkpoint_is_dated_by_its_record_bounded_by_its_first_cosignature() -> None:
    first = int((NOW - HOUR).timestamp())
    assert checkpoint_signed_at(NOW, []) == NOW
    assert checkpoint_signed_at(NOW, [first + 7200, first]) == NOW - HOUR  # cosigned earlier
    assert checkpoint_signed_at(NOW - 2 * HOUR, [first]) == NOW - 2 * HOUR  # recorded earlier
    assert checkpoint_signed_at(None, [first + 60, first]) == NOW - HOUR
    assert checkpoint_signed_at(None, []) is None


def test_cosignature_timestamps_are_utc_seconds() -> None:
    assert cosignature_time(int(NOW.timestamp())) == NOW
    assert cosignature_time(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert cosignature_time(2**63 - 1) == datetime.max.replace(tzinfo=UTC)  # beyond year 9999


# --- a whole log: checkpoints, cosignatures, entries ------------------------------------


ROTATED = [key(KEY_A, not_after=SWITCH), key(KEY_B, not_before=SWITCH)]


def _entry(seq: int, at: datetime, kid: str, act: str = "packet.issued") -> bytes:
    fields = {"digest": f"d{seq}", "kid": kid}
    return encode_entry(seq, at, Act(act, "node:mission", jti=f"j{seq}", fields=fields))


def _run(
    manifest: Manifest,
    federation: Federation,
    plan: list[tuple[int, Ed25519PrivateKey, datetime]],
    entries: list[bytes],
    *,
    recorded: bool = True,
) -> KeyUseCheck:
    """Entries in order; after entry ``size`` a checkpoint signed with the plan's key at
    the plan's time, cosigned by unodc a minute later. Every signature must verify."""
    origin = audit_origin(manifest.federation, "mission")
    verifier = LogVerifier(
        origin, log_keys(manifest, "mission"), witness_keys(manifest, besides="mission")
    )
    check = KeyUseCheck(manifest, "mission")
    tree = CompactRange()
    signing = {size: (k, at) for size, k, at in plan}
    for seq, body in enumerate(entries):
        check.entry(verifier.entry(seq, body))
        tree.append(leaf_hash(body))
        if tree.size in signing:
            private, at = signing[tree.size]
            text = checkpoint_text(origin, tree.size, tree.root())
            witness = witness_name(manifest.federation, "unodc")
            line = cosign(text, witness, federation.keys["unodc"], int(at.timestamp()) + 60)
            note = add_signatures(sign_note(text, origin, private), [line])
            check.checkpoint(verifier.checkpoint(note), at if recorded else None)
    return check


def _rotation_log() -> tuple[list[tuple[int, Any, datetime]], list[bytes]]:
    """Entries 0-4 by A (3 h before the switch), checkpoint 5 by A (-2 h), entries 5-9 by A
    (-100 min), checkpoint 10 by A (-1 h), entries 10-14 by B (+1 h), checkpoint 15 by B."""
    kid_a, kid_b = public_jwk(KEY_A)["kid"], public_jwk(KEY_B)["kid"]
    entries = [_entry(i, SWITCH - 3 * HOUR, kid_a) for i in range(5)]
    entries += [_entry(i, SWITCH - timedelta(minutes=100), kid_a) for i in range(5, 10)]
    entries += [_entry(i, SWITCH + HOUR, kid_b, "result.issued") for i in range(10, 15)]
    plan = [(5, KEY_A, SWITCH - 2 * HOUR), (10, KEY_A, SWITCH - HOUR), (15, KEY_B, SWITCH + HOUR)]
    return plan, entries


def test_a_log_across_a_rotation_has_every_key_valid(federation: Federation) -> None:
    plan, entries = _rotation_log()
    report = _run(_manifest_with(federation, ROTATED), federation, plan, entries).report()
    assert report.ok and report.violations == () and report.undated == 0
    assert dict(report.checked) == {
        "checkpoint": 3,
        "cosignature": 3,
        "packet.issued": 10,
        "result.issued": 5,
    }


def test_a_checkpoint_signed_after_its_key_was_revoked_is_named(federation: Federation) -> None:
    plan, entries = _rotation_log()
    revoked_at = SWITCH - 90 * timedelta(minutes=1)  # after entries 5-9, before checkpoint 10
    keys = [key(KEY_A, not_after=SWITCH, revoked_at=revoked_at), ROTATED[1]]
    report = _run(_manifest_with(federation, keys), federation, plan, entries).report()
    assert [(u.what, u.position, u.status) for u in report.violations] == [
        ("checkpoint", 10, KeyStatus.REVOKED)
    ]
    assert report.violation_count == 1
    use = report.violations[0]
    assert (use.signer, use.kid, use.signed_at, use.revoked_at) == (
        "mission",
        public_jwk(KEY_A)["kid"],
        SWITCH - HOUR,
        revoked_at,
    )
    assert use.describe() == (
        f"checkpoint 10: signed by mission with key {use.kid} at 2026-11-25T11:00:00.000Z,"
        " after its revocation at 2026-11-25T10:30:00.000Z"
    )


def test_entries_are_judged_at_their_time_by_their_kid(federation: Federation) -> None:
    kid_a = public_jwk(KEY_A)["kid"]
    revoked_at = SWITCH - 2 * HOUR
    keys = [key(KEY_A, not_after=SWITCH, revoked_at=revoked_at), ROTATED[1]]
    entries = [
        _entry(0, revoked_at - timedelta(milliseconds=1), kid_a),  # just before: valid
        _entry(1, revoked_at, kid_a),  # revoked
        _entry(2, SWITCH + HOUR, public_jwk(KEY_B)["kid"]),  # B: valid
        _entry(3, SWITCH + HOUR, "no-such-kid"),  # unknown
        _entry(4, SWITCH + HOUR, public_jwk(federation.keys["unodc"])["kid"]),  # not mission's
        encode_entry(5, SWITCH, Act("packet.issued", "node:mission", fields={"digest": "d"})),
        encode_entry(6, SWITCH, Act("key.loaded", "node:mission", fields={"kid": kid_a})),
    ]
    check = KeyUseCheck(_manifest_with(federation, keys), "mission")
    judged = [check.entry(parse_entry(body)) for body in entries]
    assert [u.status if u else None for u in judged] == [
        KeyStatus.VALID,
        KeyStatus.REVOKED,
        KeyStatus.VALID,
        KeyStatus.UNKNOWN_KEY,
        KeyStatus.UNKNOWN_KEY,
        None,  # written before entries carried kid
        None,  # not a packet signed
    ]
    report = check.report()
    assert [(u.position, u.kid) for u in report.violations] == [
        (1, kid_a),
        (3, "no-such-kid"),
        (4, public_jwk(federation.keys["unodc"])["kid"]),
    ]
    assert report.violations[1].describe().endswith("a key the manifest does not list for mission")


def test_a_cosignature_is_judged_with_the_witness_key_at_its_timestamp(
    federation: Federation,
) -> None:
    plan, entries = _rotation_log()
    manifest = _manifest_with(federation, ROTATED)
    doc = json.loads(manifest_json(manifest))
    unodc = next(p for p in doc["participants"] if p["id"] == "unodc")
    revoked_at = SWITCH - HOUR + timedelta(seconds=30)  # between checkpoint 10 and its cosig
    unodc["keys"][0].update(revoked=True, revoked_at=revoked_at.isoformat())
    report = _run(parse_manifest(doc), federation, plan, entries).report()
    assert [(u.what, u.position, u.signer) for u in report.violations] == [
        ("cosignature", 10, "unodc"),
        ("cosignature", 15, "unodc"),
    ]
    assert report.violations[0].signed_at == SWITCH - HOUR + timedelta(seconds=60)


def test_a_checkpoint_without_a_recorded_time_is_dated_by_its_cosignature(
    federation: Federation,
) -> None:
    plan, entries = _rotation_log()
    revoked_at = SWITCH - 90 * timedelta(minutes=1)
    keys = [key(KEY_A, not_after=SWITCH, revoked_at=revoked_at), ROTATED[1]]
    manifest = _manifest_with(federation, keys)
    report = _run(manifest, federation, plan, entries, recorded=False).report()
    assert [(u.what, u.position) for u in report.violations] == [("checkpoint", 10)]
    assert report.violations[0].signed_at == SWITCH - HOUR + timedelta(seconds=60)


def test_an_undated_checkpoint_is_counted_not_judged(federation: Federation) -> None:
    manifest = _manifest_with(federation, ROTATED)
    origin = audit_origin(manifest.federation, "mission")
    verifier = LogVerifier(origin, log_keys(manifest, "mission"))
    body = _entry(0, SWITCH, public_jwk(KEY_B)["kid"])
    check = KeyUseCheck(manifest, "mission", keep=0)
    check.entry(verifier.entry(0, body))
    tree = CompactRange()
    tree.append(leaf_hash(body))
    note = sign_note(checkpoint_text(origin, 1, tree.root()), origin, KEY_A)
    (use,) = check.checkpoint(verifier.checkpoint(note), None)
    assert use.status is KeyStatus.UNDATED and use.describe().endswith("without a time")
    report = check.report()
    assert (report.undated, dict(report.checked), report.ok) == (1, {"packet.issued": 1}, True)


def test_violations_kept_are_capped_but_all_counted(federation: Federation) -> None:
    keys = [key(KEY_A, revoked=True)]
    check = KeyUseCheck(_manifest_with(federation, keys), "mission", keep=2)
    for seq in range(5):
        check.entry(parse_entry(_entry(seq, NOW, public_jwk(KEY_A)["kid"])))
    report = check.report()
    assert (len(report.violations), report.violation_count, report.ok) == (2, 5, False)
