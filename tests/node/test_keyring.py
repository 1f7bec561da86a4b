"""The node's keyring: every private key beside ``key_file``, and which one signs now."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.keyfiles import write_private_key, write_secret
from clearinghouse.node.keyring import SigningKey, candidate_files, load_keys, select_signing_key
from clearinghouse.protocol.errors import KeyUnusable, ProtocolError
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest
from tests.support import NOW, Federation, seeded_key

KEY_A = seeded_key("keyring A")
KEY_B = seeded_key("keyring B")
KEY_C = seeded_key("keyring C")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def kid(key: Ed25519PrivateKey) -> str:
    return public_jwk(key)["kid"]


def same_key(a: Ed25519PrivateKey, b: Ed25519PrivateKey) -> bool:
    return public_jwk(a) == public_jwk(b)


def mission_keys(
    federation: Federation, keys: list[tuple[Ed25519PrivateKey, dict[str, Any]]]
) -> Manifest:
    """The federation's manifest (unsigned: selection does not verify it) in which mission
    holds ``keys``, each with its validity (datetimes) and revocation."""
    doc = json.loads(manifest_json(federation.manifest))
    doc.pop("signatures")
    for participant in doc["participants"]:
        if participant["id"] == "mission":
            participant["keys"] = [
                {
                    **public_jwk(key),
                    **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in w.items()},
                }
                for key, w in keys
            ]
    return parse_manifest(doc)


def valid(since: datetime, until: datetime | None = None, **extra: Any) -> dict[str, Any]:
    window: dict[str, Any] = {"not_before": since, **extra}
    if until is not None:
        window["not_after"] = until
    return window


# --- finding and reading the key files --------------------------------------------------


def test_candidate_files_are_key_file_then_the_participants_siblings(tmp_path: Path) -> None:
    key_file = tmp_path / "mission.key.pem"
    for name in (
        "mission.key.pem",
        "mission.bbbb.key.pem",
        "mission.aaaa.key.pem",
        "unodc.cccc.key.pem",  # another participant's
        "missionary.dddd.key.pem",  # another participant whose id starts alike
        "mission.eeee.key.pem.bak",
        "mission.jwk.json",
    ):
        (tmp_path / name).write_bytes(b"")
    assert candidate_files(key_file, "mission") == [
        key_file,
        tmp_path / "mission.aaaa.key.pem",
        tmp_path / "mission.bbbb.key.pem",
    ]
    # key_file may itself be a rotated file: it comes first, and only once.
    rotated = tmp_path / "mission.bbbb.key.pem"
    assert candidate_files(rotated, "mission") == [rotated, tmp_path / "mission.aaaa.key.pem"]


def test_load_keys_reads_key_file_and_every_sibling_by_kid(tmp_path: Path) -> None:
    write_private_key(tmp_path / "mission.key.pem", KEY_A, None)
    write_private_key(tmp_path / f"mission.{kid(KEY_B)[:8]}.key.pem", KEY_B, None)
    write_private_key(tmp_path / "unodc.key.pem", KEY_C, None)
    write_private_key(tmp_path / f"unodc.{kid(KEY_C)[:8]}.key.pem", KEY_C, None)
    keys, problems = load_keys(tmp_path / "mission.key.pem", "mission", None)
    assert problems == []
    assert sorted(keys) == sorted([kid(KEY_A), kid(KEY_B)])
    assert same_key(keys[kid(KEY_A)], KEY_A) and same_key(keys[kid(KEY_B)], KEY_B)


def test_load_keys_skips_an_unreadable_sibling_and_names_it(tmp_path: Path) -> None:
    write_private_key(tmp_path / "mission.key.pem", KEY_A, None)
    write_secret(tmp_path / "mission.broken.key.pem", b"-----BEGIN PRIVATE KEY-----\npartial")
    write_private_key(tmp_path / "mission.locked.key.pem", KEY_B, b"another passphrase")
    keys, problems = load_keys(tmp_path / "mission.key.pem", "mission", None)
    assert list(keys) == [kid(KEY_A)]
    assert len(problems) == 2
    broken, locked = problems
    assert broken.startswith("mission.broken.key.pem: ")
    assert locked.startswith("mission.locked.key.pem: ")
    assert "CLEARINGHOUSE_KEY_PASSPHRASE" in locked  # the hint for an encrypted file


def test_load_keys_refuses_an_unreadable_key_file(tmp_path: Path) -> None:
    write_private_key(tmp_path / "mission.aaaa.key.pem", KEY_B, None)
    with pytest.raises(KeyUnusable, match=r"cannot read private key .*mission\.key\.pem"):
        load_keys(tmp_path / "mission.key.pem", "mission", None)
    write_secret(tmp_path / "mission.key.pem", b"not a key")
    with pytest.raises(KeyUnusable, match=r"mission\.key\.pem"):
        load_keys(tmp_path / "mission.key.pem", "mission", None)


def test_load_keys_with_a_passphrase(tmp_path: Path) -> None:
    write_private_key(tmp_path / "mission.key.pem", KEY_A, b"secret")
    write_private_key(tmp_path / "mission.bbbb.key.pem", KEY_B, b"secret")
    keys, problems = load_keys(tmp_path / "mission.key.pem", "mission", b"secret")
    assert (sorted(keys), problems) == (sorted([kid(KEY_A), kid(KEY_B)]), [])
    with pytest.raises(KeyUnusable):
        load_keys(tmp_path / "mission.key.pem", "mission", None)


# --- which key signs now -----------------------------------------------------------------


def test_the_only_usable_key_is_chosen(federation: Federation) -> None:
    manifest = mission_keys(federation, [(KEY_A, valid(NOW - DAY, NOW + DAY))])
    chosen = select_signing_key(manifest, "mission", {kid(KEY_A): KEY_A}, NOW)
    assert chosen == SigningKey(KEY_A, kid(KEY_A))
    assert chosen.key is KEY_A  # the held object itself


@pytest.mark.parametrize("newer", ["A", "B"])
def test_the_newest_usable_key_wins_whatever_its_kid(federation: Federation, newer: str) -> None:
    old, new = (KEY_B, KEY_A) if newer == "A" else (KEY_A, KEY_B)
    manifest = mission_keys(
        federation, [(old, valid(NOW - DAY, NOW + HOUR)), (new, valid(NOW - HOUR, NOW + DAY))]
    )
    held = {kid(KEY_A): KEY_A, kid(KEY_B): KEY_B}
    assert select_signing_key(manifest, "mission", held, NOW).kid == kid(new)
    # Before the new key's not_before only the old one may sign.
    assert select_signing_key(manifest, "mission", held, NOW - 2 * HOUR).kid == kid(old)
    # After the old one's not_after only the new one.
    assert select_signing_key(manifest, "mission", held, NOW + 2 * HOUR).kid == kid(new)


def test_validity_bounds_are_inclusive_and_revocation_applies_from_its_instant(
    federation: Federation,
) -> None:
    manifest = mission_keys(federation, [(KEY_A, valid(NOW - DAY, NOW))])
    held = {kid(KEY_A): KEY_A}
    assert select_signing_key(manifest, "mission", held, NOW).kid == kid(KEY_A)
    assert select_signing_key(manifest, "mission", held, NOW - DAY).kid == kid(KEY_A)
    with pytest.raises(KeyUnusable):
        select_signing_key(manifest, "mission", held, NOW + timedelta(seconds=1))

    revoked_later = valid(NOW - DAY, NOW + DAY, revoked=True, revoked_at=NOW + HOUR)
    manifest = mission_keys(federation, [(KEY_A, revoked_later)])
    assert select_signing_key(manifest, "mission", held, NOW).kid == kid(KEY_A)
    with pytest.raises(KeyUnusable, match="revoked since"):
        select_signing_key(manifest, "mission", held, NOW + HOUR)


def test_a_revoked_or_unlisted_key_is_passed_over(federation: Federation) -> None:
    manifest = mission_keys(
        federation,
        [
            (KEY_A, valid(NOW - DAY, NOW + DAY)),
            (KEY_B, valid(NOW - HOUR, NOW + DAY, revoked=True, revoked_at=NOW - HOUR)),
        ],
    )
    held = {kid(KEY_A): KEY_A, kid(KEY_B): KEY_B, kid(KEY_C): KEY_C}  # C: newest, unlisted
    assert select_signing_key(manifest, "mission", held, NOW) == SigningKey(KEY_A, kid(KEY_A))


def test_no_usable_key_is_refused_naming_each_held_key(federation: Federation) -> None:
    manifest = mission_keys(
        federation,
        [
            (KEY_A, valid(NOW - 2 * DAY, NOW - DAY)),
            (KEY_B, valid(NOW - DAY, NOW + DAY, revoked=True, revoked_at=NOW - HOUR)),
        ],
    )
    held = {kid(KEY_A): KEY_A, kid(KEY_B): KEY_B, kid(KEY_C): KEY_C}
    with pytest.raises(KeyUnusable) as caught:
        select_signing_key(manifest, "mission", held, NOW)
    reasons = {
        kid(KEY_A): f"key {kid(KEY_A)} of 'mission' is valid from {(NOW - 2 * DAY).isoformat()}"
        f" to {(NOW - DAY).isoformat()}, not at {NOW.isoformat()}",
        kid(KEY_B): f"key {kid(KEY_B)} of 'mission' is revoked since {(NOW - HOUR).isoformat()}",
        kid(KEY_C): f"{kid(KEY_C)} is not in manifest serial 1",
    }
    assert caught.value.message == (
        f"no key held by 'mission' may sign at {NOW.isoformat()}: "
        + "; ".join(reasons[k] for k in sorted(reasons))
    )

    with pytest.raises(KeyUnusable) as caught:
        select_signing_key(manifest, "mission", {}, NOW)
    assert caught.value.message == f"no key held by 'mission' may sign at {NOW.isoformat()}: "


def test_a_participant_not_in_the_manifest_is_a_protocol_error(federation: Federation) -> None:
    with pytest.raises(ProtocolError):
        select_signing_key(federation.manifest, "stranger", {kid(KEY_A): KEY_A}, NOW)
