"""Successor manifests: propose, rotate_key, revoke_key, merge_signatures, describe_changes.

Each function's success and each refusal, and the properties that matter to a running
federation: a successor signed by a quorum of the held manifest verifies against it;
what an old key signed during its validity keeps verifying after a rotation; a
revocation refuses exactly the instants from ``revoked_at`` on.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.errors import (
    KeyNotValid,
    KeyRevoked,
    ManifestRejected,
    ProtocolError,
)
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import (
    Manifest,
    ManifestSignature,
    detached_signature,
    expand_policy,
    manifest_json,
    parse_manifest,
    sign_manifest,
    signing_key,
    verify_manifest,
)
from clearinghouse.protocol.manifest_changes import (
    DEFAULT_KEY_VALIDITY,
    describe_changes,
    merge_signatures,
    parse_signature,
    propose,
    revoke_key,
    rotate_key,
)
from tests.support import NOW, Federation, seeded_key

QUORUM = ("mission", "unodc", "dpa")
WFP_KEY = seeded_key("wfp")


def wfp(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "wfp",
        "name": "World Food Programme",
        "base_url": "https://ch.wfp.example.org/",
        "keys": [public_jwk(WFP_KEY)],
    }
    entry.update(changes)
    return entry


def signed_by(fed: Federation, proposal: Manifest, signers: tuple[str, ...]) -> Manifest:
    for s in signers:
        proposal = sign_manifest(proposal, s, fed.keys[s], held=fed.manifest)
    return proposal


def key_of(manifest: Manifest, participant: str, kid: str) -> Any:
    return next(k for k in manifest.participant(participant).keys if k.kid == kid)


# -- propose ----------------------------------------------------------------------------


def test_propose_adds_a_participant_as_an_unsigned_successor(federation: Federation) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW + timedelta(microseconds=999), add_participants=[wfp()])
    assert proposal.serial == held.serial + 1
    assert proposal.issued_at == NOW  # whole seconds
    assert proposal.signatures == ()
    assert proposal.federation == held.federation and proposal.quorum == held.quorum
    assert proposal.participant_ids == (*held.participant_ids, "wfp")
    added = proposal.participant("wfp")
    assert added.base_url == "https://ch.wfp.example.org"
    (key,) = added.keys
    assert key.kid == public_jwk(WFP_KEY)["kid"]
    assert key.not_before == NOW and key.not_after == NOW + DEFAULT_KEY_VALIDITY
    assert proposal.policy == held.policy
    # the file round-trips to the very bytes that are signed
    assert parse_manifest(manifest_json(proposal)).signing_input() == proposal.signing_input()


def test_propose_keeps_given_key_validity_and_kid_less_jwks(federation: Federation) -> None:
    jwk = {k: v for k, v in public_jwk(WFP_KEY).items() if k != "kid"}
    jwk |= {"not_before": "2026-12-01T00:00:00+00:00", "not_after": NOW + timedelta(days=90)}
    proposal = propose(federation.manifest, now=NOW, add_participants=[wfp(keys=[jwk])])
    (key,) = proposal.participant("wfp").keys
    assert key.kid == public_jwk(WFP_KEY)["kid"]
    assert key.not_before.isoformat() == "2026-12-01T00:00:00+00:00"
    assert key.not_after == NOW + timedelta(days=90)


def test_propose_removes_a_participant_its_keys_and_the_rules_addressed_to_it(
    federation: Federation,
) -> None:
    held = federation.manifest
    assert any("sanctions" in per for per in held.policy.values())
    proposal = propose(held, now=NOW, remove_participants=["sanctions"])
    assert "sanctions" not in proposal.participant_ids
    assert not any("sanctions" in per for per in proposal.policy.values())
    for schema, per_recipient in held.policy.items():
        for recipient, rules in per_recipient.items():
            if recipient != "sanctions":
                assert proposal.policy[schema][recipient] == rules
    assert federation.kid("sanctions") not in {k.kid for p in proposal.participants for k in p.keys}


def test_propose_replaces_the_policy_per_treatment_or_per_field(federation: Federation) -> None:
    policy = {
        "seizure/1": {
            "undp": {"disclose": ["country", "year"], "withhold": ["kind"]},
            "wfp": {"country": "disclose"},
        }
    }
    proposal = propose(federation.manifest, now=NOW, add_participants=[wfp()], policy=policy)
    assert proposal.policy == {
        "seizure/1": {
            "undp": {"country": "disclose", "year": "disclose", "kind": "withhold"},
            "wfp": {"country": "disclose"},
        }
    }


def test_propose_sets_the_quorum(federation: Federation) -> None:
    assert propose(federation.manifest, now=NOW, quorum=5).quorum == 5
    fewer = propose(federation.manifest, now=NOW, remove_participants=["undp", "dpa"], quorum=2)
    assert fewer.quorum == 2 and len(fewer.participants) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remove_participants": ["ghost"]}, "cannot remove 'ghost': not a participant"),
        ({"remove_participants": ["dpa", "dpa"]}, "named twice"),
        (
            {"remove_participants": ["dpa", "undp", "sanctions"]},
            r"removing dpa, sanctions, undp leaves 2 participant\(s\), fewer than the quorum 3",
        ),
        (
            {"remove_participants": ["mission", "unodc", "dpa", "undp", "sanctions"], "quorum": 1},
            "at least one participant",
        ),
        ({"quorum": 6}, "quorum 6 is out of range"),
        ({"quorum": 0}, "quorum 0 is out of range"),
        ({"add_participants": [wfp(id="undp")]}, "cannot add 'undp': it is a participant"),
        ({"add_participants": [wfp(), wfp()]}, "cannot add 'wfp'"),
        (
            {"add_participants": [wfp()], "remove_participants": ["wfp"]},
            "cannot remove 'wfp'",
        ),
        (
            {"add_participants": [wfp(id="dpa")], "remove_participants": ["dpa"]},
            "both removed and added",
        ),
        (
            {"add_participants": [wfp(keys=[public_jwk(seeded_key("mission"))])]},
            "is in the manifest already, as a key of 'mission'",
        ),
        ({"add_participants": [wfp(keys=[])]}, "'keys' must be a non-empty list"),
        ({"add_participants": [wfp(keys="abc")]}, "'keys' must be a non-empty list"),
        ({"add_participants": [wfp(keys=[42])]}, "must be a JWK object"),
        (
            {"add_participants": [wfp(keys=[{**public_jwk(WFP_KEY), "d": "secret"}])]},
            "private key",
        ),
        ({"add_participants": [wfp(keys=[{"kty": "RSA"}])]}, "not OKP/Ed25519"),
        ({"add_participants": [{"name": "no id"}]}, "with an 'id'"),
        ({"add_participants": [42]}, "with an 'id'"),
        ({"add_participants": [wfp(base_url="ftp://x")]}, "base_url"),
        ({"add_participants": [wfp(colour="blue")]}, "colour"),
        ({"add_participants": [wfp(analyzer="undp.illicit-economy")]}, "analyzer"),
        (
            {"add_participants": [wfp(keys=[{**public_jwk(WFP_KEY), "not_after": "2020-01-01"}])]},
            "not_after",
        ),
        ({"policy": {"seizure/1": {"ghost": {"kind": "disclose"}}}}, "not a participant"),
        (
            {"remove_participants": ["undp"], "policy": {"seizure/1": {"undp": {}}}},
            "'undp', not a participant",
        ),
        ({"policy": {"nope/1": {}}}, "unknown schema"),
        ({"policy": ["not", "a", "mapping"]}, "policy must be a mapping"),
        ({"policy": {"seizure/1": ["x"]}}, "expected a mapping of recipient"),
        ({"policy": {"seizure/1": {"undp": "all"}}}, "expected a mapping of field"),
        (
            {"policy": {"seizure/1": {"undp": {"disclose": ["kind"], "withhold": ["kind"]}}}},
            "given twice",
        ),
    ],
)
def test_propose_refusals(federation: Federation, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestRejected, match=message):
        propose(federation.manifest, now=NOW, **changes)


def test_propose_refuses_a_naive_or_earlier_now(federation: Federation) -> None:
    with pytest.raises(ManifestRejected, match="time zone"):
        propose(federation.manifest, now=datetime(2026, 11, 25, 12, 0))
    with pytest.raises(ManifestRejected, match="before the held manifest was issued"):
        propose(federation.manifest, now=federation.manifest.issued_at - timedelta(seconds=1))


# -- signing successors, against the held manifest ---------------------------------------


def test_a_successor_signed_by_the_held_quorum_verifies_against_it(
    federation: Federation,
) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW, add_participants=[wfp()])
    signed = signed_by(federation, proposal, QUORUM)
    assert verify_manifest(signed, now=NOW, held=held) is signed
    # the new member cannot vouch for the manifest that admits it
    with pytest.raises(ManifestRejected, match=r"'wfp' is not a participant of the held manifest"):
        detached_signature(proposal, "wfp", WFP_KEY, held=held)
    short = signed_by(federation, proposal, QUORUM[:2])
    short = sign_manifest(short, "wfp", WFP_KEY)  # valid in the proposal, not in held
    with pytest.raises(ManifestRejected, match="'wfp' is not acceptable"):
        verify_manifest(short, now=NOW, held=held)


def test_a_successor_lowering_the_quorum_is_counted_against_the_held_quorum(
    federation: Federation,
) -> None:
    proposal = propose(federation.manifest, now=NOW, quorum=1)
    signed = signed_by(federation, proposal, ("mission",))
    verify_manifest(signed, now=NOW)  # alone it would pass its own quorum of 1
    with pytest.raises(ManifestRejected, match=r"1 valid signature.* of the 3 required"):
        verify_manifest(signed, now=NOW, held=federation.manifest)


def test_removal_round_trip_the_removed_participant_signs_with_its_held_key(
    federation: Federation,
) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW, remove_participants=["dpa"])
    with pytest.raises(ManifestRejected, match="'dpa' is not a participant of this manifest"):
        sign_manifest(proposal, "dpa", federation.keys["dpa"])  # without held: not listed
    signed = signed_by(federation, proposal, ("dpa", "mission", "unodc"))
    assert {s.signer for s in signed.signatures} == {"dpa", "mission", "unodc"}
    assert verify_manifest(signed, now=NOW, held=held).serial == 2
    # through the file, as the command line does it
    again = parse_manifest(manifest_json(signed))
    assert verify_manifest(again, now=NOW, held=held).participant_ids == (
        "mission",
        "unodc",
        "undp",
        "sanctions",
    )


def test_signing_against_held_refuses_a_key_held_does_not_list(federation: Federation) -> None:
    held = federation.manifest
    proposal = rotate_key(
        held, "undp", public_jwk(seeded_key("undp 2")), now=NOW, overlap=timedelta(days=7)
    )
    # the new key is in the proposal but not yet trusted
    sign_manifest(proposal, "undp", seeded_key("undp 2"))
    with pytest.raises(ManifestRejected, match=r"not one of 'undp'.*held manifest \(serial 1\)"):
        sign_manifest(proposal, "undp", seeded_key("undp 2"), held=held)
    # the current key signs
    detached_signature(proposal, "undp", federation.keys["undp"], held=held)


def test_signing_against_held_refuses_what_does_not_succeed_it(federation: Federation) -> None:
    held = federation.manifest
    with pytest.raises(ManifestRejected, match="not higher than the held serial 1"):
        detached_signature(held, "mission", federation.keys["mission"], held=held)


# -- rotate_key -------------------------------------------------------------------------


def test_rotate_key_adds_the_new_key_and_ends_the_old_one_after_the_overlap(
    federation: Federation,
) -> None:
    held = federation.manifest
    old_kid, new_key = federation.kid("undp"), seeded_key("undp 2")
    new_kid = public_jwk(new_key)["kid"]
    overlap = timedelta(days=7)
    rotated = rotate_key(
        held, "undp", public_jwk(new_key), now=NOW, overlap=overlap, validity=timedelta(days=365)
    )
    assert rotated.serial == 2 and rotated.issued_at == NOW and rotated.signatures == ()
    assert [k.kid for k in rotated.participant("undp").keys] == [old_kid, new_kid]
    old, new = key_of(rotated, "undp", old_kid), key_of(rotated, "undp", new_kid)
    assert old.not_before == key_of(held, "undp", old_kid).not_before
    assert old.not_after == NOW + overlap
    assert new.not_before == NOW and new.not_after == NOW + timedelta(days=365)
    for p in held.participants:  # nobody else changes
        if p.id != "undp":
            assert rotated.participant(p.id) == p


def test_rotation_old_key_signatures_verify_during_the_overlap_and_not_after(
    federation: Federation,
) -> None:
    old_kid = federation.kid("undp")
    overlap = timedelta(hours=12)
    rotated = signed_by(
        federation,
        rotate_key(
            federation.manifest,
            "undp",
            public_jwk(seeded_key("undp 2")),
            now=NOW,
            overlap=overlap,
        ),
        ("undp", "mission", "unodc"),
    )
    rotated = verify_manifest(rotated, now=NOW, held=federation.manifest)
    message = b"a packet signed by undp's old key"
    signature = federation.keys["undp"].sign(message)
    for at in (NOW - timedelta(days=30), NOW, NOW + overlap - timedelta(seconds=1), NOW + overlap):
        signing_key(rotated, "undp", old_kid, at).verify(signature, message)
    with pytest.raises(KeyNotValid, match=old_kid):
        signing_key(rotated, "undp", old_kid, NOW + overlap + timedelta(seconds=1))
    new_kid = public_jwk(seeded_key("undp 2"))["kid"]
    signing_key(rotated, "undp", new_kid, NOW + timedelta(days=300))
    with pytest.raises(KeyNotValid):
        signing_key(rotated, "undp", new_kid, NOW - timedelta(seconds=1))


def test_rotate_key_leaves_an_earlier_end_and_unusable_keys_alone(federation: Federation) -> None:
    held = federation.manifest
    first = rotate_key(
        held, "undp", public_jwk(seeded_key("undp 2")), now=NOW, overlap=timedelta(days=7)
    )
    first = signed_by(federation, first, QUORUM)
    later = NOW + timedelta(days=1)
    second = rotate_key(
        first, "undp", public_jwk(seeded_key("undp 3")), now=later, overlap=timedelta(days=30)
    )
    keys = second.participant("undp").keys
    assert keys[0].not_after == NOW + timedelta(days=7)  # min(existing, now + overlap)
    assert keys[1].not_after == later + timedelta(days=30)
    assert keys[2].not_before == later
    # a revoked key keeps its end
    revoked = signed_by(
        federation,
        revoke_key(held, "undp", federation.kid("undp"), at=NOW, now=NOW),
        QUORUM,
    )
    after = rotate_key(
        revoked, "undp", public_jwk(seeded_key("undp 2")), now=later, overlap=timedelta(days=1)
    )
    assert key_of(after, "undp", federation.kid("undp")) == key_of(
        revoked, "undp", federation.kid("undp")
    )


@pytest.mark.parametrize(
    ("participant", "jwk", "overlap", "validity", "message"),
    [
        ("ghost", public_jwk(seeded_key("x")), 7, 730, "'ghost' is not a participant"),
        ("undp", public_jwk(seeded_key("undp")), 7, 730, "as one of its keys"),
        ("undp", public_jwk(seeded_key("mission")), 7, 730, "as a key of 'mission'"),
        ("undp", {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, 7, 730, "32"),
        ("undp", public_jwk(seeded_key("x")), 0, 730, "overlap 0:00:00 is not positive"),
        ("undp", public_jwk(seeded_key("x")), 7, -1, "validity .* is not positive"),
    ],
)
def test_rotate_key_refusals(
    federation: Federation,
    participant: str,
    jwk: dict[str, Any],
    overlap: int,
    validity: int,
    message: str,
) -> None:
    with pytest.raises(ManifestRejected, match=message):
        rotate_key(
            federation.manifest,
            participant,
            jwk,
            now=NOW,
            overlap=timedelta(days=overlap),
            validity=timedelta(days=validity),
        )


# -- revoke_key -------------------------------------------------------------------------


def test_revoke_key_refuses_signatures_from_revoked_at_on(federation: Federation) -> None:
    kid = federation.kid("unodc")
    at = NOW - timedelta(days=2)
    revoked = revoke_key(federation.manifest, "unodc", kid, at=at, now=NOW)
    assert revoked.serial == 2 and revoked.issued_at == NOW and revoked.signatures == ()
    key = key_of(revoked, "unodc", kid)
    assert key.revoked and key.revoked_at == at
    signing_key(revoked, "unodc", kid, at - timedelta(seconds=1))
    for instant in (at, at + timedelta(seconds=1), NOW):
        with pytest.raises(KeyRevoked, match=kid):
            signing_key(revoked, "unodc", kid, instant)
    signed = signed_by(federation, revoked, QUORUM)
    assert verify_manifest(signed, now=NOW, held=federation.manifest) is signed


def test_revoke_key_may_plan_a_revocation(federation: Federation) -> None:
    kid = federation.kid("undp")
    at = NOW + timedelta(days=30)
    revoked = revoke_key(federation.manifest, "undp", kid, at=at, now=NOW)
    signing_key(revoked, "undp", kid, NOW + timedelta(days=29))
    with pytest.raises(KeyRevoked):
        signing_key(revoked, "undp", kid, at)


def test_revoke_key_refusals(federation: Federation) -> None:
    held, kid = federation.manifest, federation.kid("undp")
    with pytest.raises(ManifestRejected, match="'undp' has no key 'nope'"):
        revoke_key(held, "undp", "nope", at=NOW, now=NOW)
    with pytest.raises(ManifestRejected, match="has no key"):
        revoke_key(held, "undp", federation.kid("mission"), at=NOW, now=NOW)
    with pytest.raises(ManifestRejected, match="'ghost' is not a participant"):
        revoke_key(held, "ghost", kid, at=NOW, now=NOW)
    not_before = key_of(held, "undp", kid).not_before
    with pytest.raises(ManifestRejected, match="before the key's not_before"):
        revoke_key(held, "undp", kid, at=not_before - timedelta(seconds=1), now=NOW)
    revoke_key(held, "undp", kid, at=not_before, now=NOW)
    with pytest.raises(ManifestRejected, match="time zone"):
        revoke_key(held, "undp", kid, at=datetime(2026, 11, 1), now=NOW)
    revoked = signed_by(federation, revoke_key(held, "undp", kid, at=NOW, now=NOW), QUORUM)
    with pytest.raises(ManifestRejected, match=f"key {kid} of 'undp' is already revoked since"):
        revoke_key(revoked, "undp", kid, at=NOW, now=NOW + timedelta(hours=1))


# -- merge_signatures -------------------------------------------------------------------


def test_merge_adds_detached_signatures_that_verify(federation: Federation) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW, remove_participants=["dpa"])
    sigs = [detached_signature(proposal, s, federation.keys[s], held=held) for s in QUORUM]
    merged = merge_signatures(proposal, sigs[:2], held=held, now=NOW)
    with pytest.raises(ManifestRejected, match="2 valid signature"):
        verify_manifest(merged, now=NOW, held=held)
    merged = merge_signatures(merged, [sigs[2], sigs[0]], held=held, now=NOW)
    assert len(merged.signatures) == 3  # the same signer and key counts once
    assert verify_manifest(merged, now=NOW, held=held) is merged
    assert merged.signing_input() == proposal.signing_input()


def test_merge_without_held_checks_against_the_proposal_itself(federation: Federation) -> None:
    unsigned = parse_manifest({**json.loads(manifest_json(federation.manifest)), "signatures": []})
    sigs = [detached_signature(unsigned, s, federation.keys[s]) for s in QUORUM]
    merged = merge_signatures(unsigned, sigs, held=None)
    assert verify_manifest(merged, now=NOW) is merged


def _forged(federation: Federation, proposal: Manifest) -> list[tuple[ManifestSignature, str]]:
    good = detached_signature(proposal, "mission", federation.keys["mission"])
    other_bytes = b64url_encode(federation.keys["mission"].sign(b"something else"))
    wrong_key = b64url_encode(seeded_key("attacker").sign(proposal.signing_input()))
    return [
        (good.model_copy(update={"sig": other_bytes}), "does not verify over this proposal"),
        (good.model_copy(update={"sig": wrong_key}), "does not verify over this proposal"),
        (good.model_copy(update={"sig": "!!"}), "not acceptable: .*base64"),
        (good.model_copy(update={"kid": "nope"}), "'mission' has no key 'nope'"),
        (good.model_copy(update={"signer": "ghost"}), "'ghost' is not a participant"),
    ]


def test_merge_refuses_a_forged_signature_naming_signer_and_kid(federation: Federation) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW, quorum=2)
    for forged, message in _forged(federation, proposal):
        with pytest.raises(ManifestRejected, match=message) as caught:
            merge_signatures(proposal, [forged], held=held)
        assert f"signature by {forged.signer!r} (key {forged.kid})" in caught.value.message


def test_merge_with_now_refuses_a_key_not_valid_then(federation: Federation) -> None:
    held = federation.manifest
    proposal = propose(held, now=NOW, quorum=2)
    sig = detached_signature(proposal, "mission", federation.keys["mission"], held=held)
    merge_signatures(proposal, [sig], held=held)  # without now: the key is listed
    with pytest.raises(ManifestRejected, match="valid from"):
        merge_signatures(proposal, [sig], held=held, now=NOW + timedelta(days=3 * 365))


def test_merge_refuses_a_proposal_that_does_not_succeed_held(federation: Federation) -> None:
    with pytest.raises(ManifestRejected, match="not higher than the held serial"):
        merge_signatures(federation.manifest, [], held=federation.manifest)


def test_parse_signature() -> None:
    doc = {"signer": "mission", "kid": "k", "sig": "AAAA"}
    assert parse_signature(json.dumps(doc).encode()) == ManifestSignature(**doc)
    assert parse_signature(doc).kid == "k"
    with pytest.raises(ManifestRejected, match="not JSON"):
        parse_signature(b"{")
    with pytest.raises(ManifestRejected, match="sig: Field required"):
        parse_signature({"signer": "mission", "kid": "k"})
    with pytest.raises(ManifestRejected, match="signer"):
        parse_signature({"signer": "Not An Id", "kid": "k", "sig": "x"})


# -- describe_changes, expand_policy ------------------------------------------------------


def test_describe_changes(federation: Federation) -> None:
    held = federation.manifest
    proposal = propose(
        held,
        now=NOW,
        add_participants=[wfp()],
        remove_participants=["sanctions"],
        quorum=4,
        policy={
            schema: {
                r: {} if (schema, r) == ("seizure/1", "undp") else rules
                for r, rules in per.items()
                if r != "sanctions"
            }
            for schema, per in held.policy.items()
        },
    )
    lines = describe_changes(held, proposal)
    assert lines[0] == "serial 1 -> 2"
    assert "+ participant wfp (World Food Programme, https://ch.wfp.example.org)" in lines
    assert f"+ key {public_jwk(WFP_KEY)['kid']} of wfp, valid {NOW.isoformat()}" in "\n".join(lines)
    assert "- participant sanctions and its keys" in lines
    assert "~ quorum 3 -> 4" in lines
    assert any(line.startswith("- policy seizure/1 -> sanctions (was ") for line in lines)
    assert any(line.startswith("~ policy seizure/1 -> undp: ") for line in lines)
    assert not any("mission" in line for line in lines)

    kid = federation.kid("undp")
    rotated = rotate_key(
        held, "undp", public_jwk(seeded_key("undp 2")), now=NOW, overlap=timedelta(days=7)
    )
    assert any(
        line.startswith(f"~ key {kid} of undp: not_after ")
        and line.endswith((NOW + timedelta(days=7)).isoformat())
        for line in describe_changes(held, rotated)
    )
    revoked = revoke_key(held, "undp", kid, at=NOW, now=NOW)
    assert describe_changes(held, revoked) == [
        "serial 1 -> 2",
        f"! key {kid} of undp revoked from {NOW.isoformat()}",
    ]


def test_expand_policy_keeps_the_per_field_form() -> None:
    rules = {"seizure/1": {"undp": {"kind": "disclose"}, "dpa": None}, "market-price/1": None}
    assert expand_policy(rules) == {
        "seizure/1": {"undp": {"kind": "disclose"}, "dpa": {}},
        "market-price/1": {},
    }


def test_no_foreign_exception_escapes(federation: Federation) -> None:
    """Whatever the input, a refusal is a ProtocolError, never a raw ValueError or KeyError."""
    held = federation.manifest
    bad_inputs: list[Any] = [None, 1, "x", [], {}, {"id": None}, {"id": "x", "keys": [None]}]
    for entry in bad_inputs:
        with pytest.raises(ProtocolError):
            propose(held, now=NOW, add_participants=[entry])
    for jwk in bad_inputs:
        with pytest.raises(ProtocolError):
            rotate_key(held, "undp", jwk, now=NOW, overlap=timedelta(days=1))
