"""The federation manifest: quorum, signers, key validity, serial order, structure."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
import rfc8785

from clearinghouse.protocol.errors import (
    KeyNotValid,
    KeyRevoked,
    ManifestRejected,
    UnknownIssuer,
    UnknownKey,
)
from clearinghouse.protocol.manifest import (
    Manifest,
    manifest_json,
    parse_manifest,
    sign_manifest,
    signing_key,
    verify_manifest,
)
from tests.support import NOW, Federation, make_federation, seeded_key


def body(manifest: Manifest) -> dict[str, Any]:
    doc = json.loads(manifest_json(manifest))
    doc.pop("signatures")
    return doc


def successor(fed: Federation, signers: tuple[str, ...], **changes: Any) -> Manifest:
    doc = body(fed.manifest)
    doc.update(changes)
    manifest = parse_manifest(doc)
    for s in signers:
        manifest = sign_manifest(manifest, s, fed.keys[s])
    return manifest


def test_quorum_signed_manifest_verifies(federation: Federation) -> None:
    assert verify_manifest(federation.manifest, now=NOW) is federation.manifest
    assert federation.manifest.quorum == 3
    assert {s.signer for s in federation.manifest.signatures} == {"mission", "unodc", "dpa"}


def test_too_few_signatures_are_refused(federation_config: dict) -> None:
    fed = make_federation(federation_config, signers=("mission", "unodc"))
    with pytest.raises(ManifestRejected, match=r"2 valid signature\(s\) .* of the 3 required"):
        verify_manifest(fed.manifest, now=NOW)


def test_the_same_signer_twice_counts_once(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    doc["signatures"] = [doc["signatures"][0]] * 3
    with pytest.raises(ManifestRejected, match="1 valid signature"):
        verify_manifest(parse_manifest(doc), now=NOW)


def test_a_changed_byte_breaks_every_signature(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    doc["participants"][0]["base_url"] = "http://evil.example"
    with pytest.raises(ManifestRejected, match="does not verify"):
        verify_manifest(parse_manifest(doc), now=NOW)


def test_formatting_does_not_matter(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=7)
    verify_manifest(parse_manifest(reordered), now=NOW)


def test_policy_sha256_is_the_digest_of_the_policy_in_jcs(federation: Federation) -> None:
    manifest = federation.manifest
    expected = hashlib.sha256(rfc8785.dumps(manifest.policy)).hexdigest()
    assert manifest.policy_sha256 == expected
    assert manifest.policy_sha256 == expected  # worked out once, the same again
    doc = json.loads(manifest_json(manifest))
    doc["policy"]["conflict-event/1"]["unodc"]["deaths"] = "withhold"
    assert parse_manifest(doc).policy_sha256 != expected


def test_signature_by_a_stranger_is_refused(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    doc["signatures"].append({"signer": "stranger", "kid": "k", "sig": "AAAA"})
    with pytest.raises(ManifestRejected, match="stranger"):
        verify_manifest(parse_manifest(doc), now=NOW)


def test_signing_with_a_key_not_in_the_manifest_is_refused(federation: Federation) -> None:
    with pytest.raises(ManifestRejected, match="not one of 'mission'"):
        sign_manifest(federation.manifest, "mission", seeded_key("someone else"))


def test_successor_needs_a_higher_serial(federation: Federation) -> None:
    newer = successor(federation, ("mission", "unodc", "dpa"), serial=2)
    assert verify_manifest(newer, now=NOW, held=federation.manifest).serial == 2
    same = successor(federation, ("mission", "unodc", "dpa"), serial=1)
    with pytest.raises(ManifestRejected, match="not higher than the held serial 1"):
        verify_manifest(same, now=NOW, held=federation.manifest)
    with pytest.raises(ManifestRejected, match="not higher than the held serial 2"):
        verify_manifest(federation.manifest, now=NOW, held=newer)


def test_successor_is_counted_against_the_held_participants(federation: Federation) -> None:
    doc = body(federation.manifest)
    doc["serial"] = 2
    doc["quorum"] = 1  # a new manifest cannot lower the bar for itself
    manifest = sign_manifest(parse_manifest(doc), "mission", federation.keys["mission"])
    verify_manifest(manifest, now=NOW)  # alone it would pass its own quorum of 1
    with pytest.raises(ManifestRejected, match="of the 3 required"):
        verify_manifest(manifest, now=NOW, held=federation.manifest)


def test_successor_of_another_federation_is_refused(federation: Federation) -> None:
    other = successor(federation, ("mission", "unodc", "dpa"), serial=2, federation="other")
    with pytest.raises(ManifestRejected, match="federation 'other'"):
        verify_manifest(other, now=NOW, held=federation.manifest)


def test_revoked_and_expired_signing_keys_are_refused(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    revoked = copy.deepcopy(doc)
    revoked["participants"][0]["keys"][0]["revoked"] = True
    revoked["signatures"] = []
    manifest = parse_manifest(revoked)
    for s in ("mission", "unodc", "dpa"):
        manifest = sign_manifest(manifest, s, federation.keys[s])
    with pytest.raises(ManifestRejected, match="revoked"):
        verify_manifest(manifest, now=NOW)
    with pytest.raises(ManifestRejected, match="valid from"):
        verify_manifest(federation.manifest, now=NOW + timedelta(days=3 * 365))


def test_signing_key_answers_per_instant(federation: Federation) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    key = doc["participants"][1]["keys"][0]
    key["revoked"] = True
    key["revoked_at"] = NOW.isoformat()
    manifest = parse_manifest(doc)
    kid = key["kid"]
    signing_key(manifest, "unodc", kid, NOW - timedelta(seconds=1))  # before: still good
    with pytest.raises(KeyRevoked, match=kid):
        signing_key(manifest, "unodc", kid, NOW)
    with pytest.raises(KeyNotValid):
        signing_key(manifest, "unodc", kid, NOW.replace(year=2020))
    with pytest.raises(UnknownKey):
        signing_key(manifest, "unodc", "nope", NOW)
    with pytest.raises(UnknownIssuer):
        signing_key(manifest, "nobody", kid, NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["participants"].append(d["participants"][0]), "not unique"),
        (lambda d: d.update(quorum=9), "quorum 9 exceeds"),
        (lambda d: d.update(serial=0), "serial"),
        (lambda d: d["participants"][0].update(base_url="ftp://x"), "base_url"),
        (lambda d: d["participants"][0].update(extra=1), "extra"),
        (lambda d: d["participants"][0]["keys"][0].update(kid="x"), "thumbprint"),
        (lambda d: d["policy"].update({"nope/1": {}}), "unknown schema"),
        (lambda d: d["policy"]["seizure/1"]["undp"].update(kind="publish"), "treatment"),
        (lambda d: d["policy"]["seizure/1"]["undp"].update(colour="disclose"), "no field"),
        (
            lambda d: d["policy"]["seizure/1"].update(ghost={"kind": "disclose"}),
            "not a participant",
        ),
        (lambda d: d["policy"]["seizure/1"]["undp"].update(country="pseudonymise"), "no way to"),
    ],
)
def test_malformed_manifests_are_refused(federation: Federation, change: Any, message: str) -> None:
    doc = json.loads(manifest_json(federation.manifest))
    change(doc)
    with pytest.raises(ManifestRejected, match=message):
        parse_manifest(doc)


def test_not_json_is_refused() -> None:
    with pytest.raises(ManifestRejected, match="not JSON"):
        parse_manifest(b"{")
    with pytest.raises(ManifestRejected, match="not a JSON object"):
        parse_manifest(b"[]")
