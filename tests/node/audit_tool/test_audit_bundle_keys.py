"""Key use in the audit tools: a log signed across a key rotation verifies with nothing to
report; checkpoints, cosignatures and issued packets signed by a key after its revocation
(or outside its validity) are named, from the database and from a bundle, on SQLite and
(with ``CLEARINGHOUSE_TEST_POSTGRES_URL``) PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.audit_tool import (
    Summary,
    open_bundle,
    open_database,
    verify_log,
    write_bundle,
)
from clearinghouse.protocol.key_use import KeyStatus
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest, sign_manifest
from tests.node.services._audit_support import (
    HOUR,
    KEY_B,
    NOW,
    REVOKED_AT,
    SWITCH,
    AuditDatabase,
    audit_database,
    rotated,
    rotation_log,
)
from tests.support import Federation


@pytest.fixture
def log(
    backend: str, tmp_path: Path, federation: Federation, migrated_sqlite: Path
) -> Iterator[AuditDatabase]:
    with audit_database(backend, tmp_path, rotated(federation), migrated_sqlite) as database:
        rotation_log(database)
        yield database


@pytest.fixture
def revoked(federation: Federation) -> Manifest:
    """A later manifest: mission's key A revoked at REVOKED_AT, after checkpoint 5 (and
    entries 5-9) but before checkpoint 10, which A signed."""
    return rotated(federation, revoke_a_at=REVOKED_AT).manifest


def from_db(log: AuditDatabase, manifest: Manifest | None = None) -> Summary:
    with open_database(
        log.url, manifest=manifest or log.federation.manifest, manifest_source="test"
    ) as src:
        return verify_log(src)


def export(log: AuditDatabase, path: Path) -> Path:
    with open_database(log.url, manifest=log.federation.manifest, manifest_source="test") as src:
        write_bundle(src, path, now=NOW)
    return path


def from_bundle(path: Path, manifest: Manifest | None = None) -> Summary:
    with open_bundle(path, manifest=manifest, manifest_source="trusted test") as src:
        return verify_log(src)


def reported(summary: Summary) -> list[tuple[str, int, str, str]]:
    return [(u.what, u.position, u.signer, u.kid) for u in summary.keys.violations]


def test_a_log_across_a_rotation_verifies_with_nothing_to_report(
    log: AuditDatabase, tmp_path: Path
) -> None:
    direct = from_db(log)
    assert direct.keys.ok and direct.keys.violations == () and direct.keys.undated == 0
    assert dict(direct.keys.checked) == {"checkpoint": 3, "cosignature": 6, "packet.issued": 17}
    offline = from_bundle(export(log, tmp_path / "log.jsonl"))  # the manifest it carries
    assert offline.header.manifest.serial == 2
    assert offline.keys == direct.keys


def test_the_bundle_carries_when_each_checkpoint_was_signed(
    log: AuditDatabase, tmp_path: Path
) -> None:
    docs = [
        json.loads(line) for line in export(log, tmp_path / "log.jsonl").read_text().splitlines()
    ]
    signed = {d["checkpoint"]: d["signed_at"] for d in docs if "checkpoint" in d}
    assert signed == {
        5: "2026-11-25T09:00:00.000000Z",
        10: "2026-11-25T11:00:00.000000Z",
        15: "2026-11-25T14:00:00.000000Z",
    }


def test_a_checkpoint_signed_after_its_key_was_revoked_is_reported(
    log: AuditDatabase, tmp_path: Path, revoked: Manifest
) -> None:
    kid_a = log.federation.kid("mission")
    summary = from_db(log, revoked)  # the log still verifies: its history is intact
    assert (summary.entries, summary.checkpoints) == (17, 3)
    assert reported(summary) == [("checkpoint", 10, "mission", kid_a)]
    (use,) = summary.keys.violations
    assert (use.status, use.signed_at, use.revoked_at) == (
        KeyStatus.REVOKED,
        SWITCH - HOUR,
        REVOKED_AT,
    )
    assert use.describe() == (
        f"checkpoint 10: signed by mission with key {kid_a} at 2026-11-25T11:00:00.000Z,"
        " after its revocation at 2026-11-25T10:30:00.000Z"
    )
    bundle = export(log, tmp_path / "log.jsonl.gz")  # carries the rotation manifest
    assert from_bundle(bundle).keys.ok
    assert from_bundle(bundle, revoked).keys == summary.keys  # the auditor's manifest rules


def test_a_packet_issued_with_a_key_after_its_revocation_is_reported(
    log: AuditDatabase, revoked: Manifest
) -> None:
    kid_a = log.federation.kid("mission")
    log.append(1, at=SWITCH + 3 * HOUR, kid=kid_a)  # entry 17: A, after the rotation
    log.sign(key=KEY_B, at=SWITCH + 4 * HOUR)
    assert reported(from_db(log, revoked)) == [
        ("checkpoint", 10, "mission", kid_a),
        ("packet.issued", 17, "mission", kid_a),
    ]
    rotation_only = from_db(log)  # not revoked, but past its not_after
    assert [(u.what, u.position, u.status) for u in rotation_only.keys.violations] == [
        ("packet.issued", 17, KeyStatus.OUTSIDE_VALIDITY)
    ]


def test_a_bundle_without_signing_times_dates_checkpoints_by_their_cosignatures(
    log: AuditDatabase, tmp_path: Path, revoked: Manifest
) -> None:
    kid_b = public_jwk(KEY_B)["kid"]
    log.append(1, at=SWITCH + 3 * HOUR, kid=kid_b)
    log.sign(witnesses=(), key=KEY_B, at=SWITCH + 3 * HOUR)  # checkpoint 18: no witness yet
    path = export(log, tmp_path / "log.jsonl")
    docs: list[dict[str, Any]] = [json.loads(line) for line in path.read_text().splitlines()]
    for doc in docs:
        doc.pop("signed_at", None)  # as a bundle written before bundles carried it
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    summary = from_bundle(path, revoked)
    assert reported(summary) == [("checkpoint", 10, "mission", log.federation.kid("mission"))]
    assert summary.keys.violations[0].signed_at == SWITCH - HOUR + timedelta(seconds=10)
    assert summary.keys.undated == 1  # checkpoint 18: neither a time nor a cosignature


def test_a_cosignature_by_a_revoked_witness_key_is_reported(
    tmp_path: Path, federation: Federation
) -> None:
    """unodc's witness key revoked between checkpoint 10 and its cosignature."""
    revoked_at = SWITCH - HOUR + timedelta(seconds=5)  # checkpoint 10 is cosigned 10 s after -1 h
    base = rotated(federation)
    doc = json.loads(manifest_json(base.manifest))
    doc.pop("signatures")
    unodc = next(p for p in doc["participants"] if p["id"] == "unodc")
    unodc["keys"][0].update(revoked=True, revoked_at=revoked_at.isoformat())
    manifest = parse_manifest(doc)
    for signer, key in (("mission", KEY_B), ("unodc", federation.keys["unodc"])):
        manifest = sign_manifest(manifest, signer, key)
    manifest = sign_manifest(manifest, "dpa", federation.keys["dpa"])
    with audit_database("sqlite", tmp_path, base) as log:
        rotation_log(log)
        summary = from_db(log, manifest)
    kid = federation.kid("unodc")
    assert reported(summary) == [
        ("cosignature", 10, "unodc", kid),
        ("cosignature", 15, "unodc", kid),
    ]
