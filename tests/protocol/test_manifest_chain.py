"""A chain of manifests from a trusted anchor (``protocol.manifest_chain``): each link
judged with its predecessor's participants, keys and quorum as of its own issue, so
that keys rotated out or revoked later keep the chain whole, while a forged, under-signed,
self-vouching, back-dated or out-of-order successor breaks it where it stands."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode
from clearinghouse.protocol.errors import ManifestChainBroken, ManifestRejected
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest, sign_manifest
from clearinghouse.protocol.manifest_chain import (
    VerifiedChain,
    parse_manifest_chain,
    verify_anchor,
    verify_chain,
    verify_successor,
)
from clearinghouse.protocol.manifest_changes import propose, revoke_key, rotate_key
from tests.support import NOW, Federation, make_federation, seeded_key

HOUR = timedelta(hours=1)
QUORUM = ("mission", "unodc", "dpa")
OTHERS = ("unodc", "dpa", "undp")
NEW_MISSION_KEY = seeded_key("mission, the chain's rotated key")
WFP_KEY = seeded_key("wfp, in the chain")


def signed(
    fed: Federation,
    proposal: Manifest,
    held: Manifest,
    signers: tuple[str, ...] = QUORUM,
    keys: dict[str, Ed25519PrivateKey] | None = None,
) -> Manifest:
    """``proposal`` signed by ``signers`` with their keys listed in ``held``."""
    for s in signers:
        key = (keys or {}).get(s) or fed.keys[s]
        proposal = sign_manifest(proposal, s, key, held=held)
    return proposal


def wfp() -> dict[str, Any]:
    return {
        "id": "wfp",
        "name": "World Food Programme",
        "base_url": "https://ch.wfp.example.org",
        "keys": [public_jwk(WFP_KEY)],
    }


def kid(key: Ed25519PrivateKey) -> str:
    return public_jwk(key)["kid"]


def broken(anchor: Manifest, successors: list[Manifest]) -> ManifestChainBroken:
    with pytest.raises(ManifestChainBroken) as caught:
        verify_chain(anchor, successors)
    assert isinstance(caught.value, ManifestRejected)
    assert caught.value.code == "manifest-chain-broken"
    return caught.value


# -- chains that hold -------------------------------------------------------------------


def test_a_chain_of_successors_each_signed_by_its_predecessors_quorum_verifies(
    federation: Federation,
) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, add_participants=[wfp()]), one)
    # serial 3 is signed by wfp, which only serial 2 lists: it vouches for 3, not for 2
    three = signed(
        federation,
        propose(two, now=NOW + HOUR, remove_participants=["dpa"]),
        two,
        ("mission", "unodc", "wfp"),
        {"wfp": WFP_KEY},
    )
    chain = verify_chain(one, [two, three])
    assert chain == VerifiedChain((one, two, three))
    assert (chain.anchor.serial, chain.head.serial) == (1, 3)
    assert verify_chain(one, []).head is one  # an anchor alone is a chain


def test_a_key_rotated_out_later_does_not_break_what_it_signed(federation: Federation) -> None:
    one = federation.manifest
    old = kid(federation.keys["mission"])
    two = signed(federation, propose(one, now=NOW, quorum=3), one)  # mission signs with `old`
    rotation = rotate_key(two, "mission", public_jwk(NEW_MISSION_KEY), now=NOW + HOUR, overlap=HOUR)
    three = signed(federation, rotation, two)  # still `old`, valid in serial 2
    four_at = NOW + 3 * HOUR  # the overlap of `old` ended at NOW + 2 h
    four = signed(
        federation,
        propose(three, now=four_at, quorum=2),
        three,
        keys={"mission": NEW_MISSION_KEY},
    )
    # serial 3 ends `old` at NOW + 2 h; serials 2 and 3, signed with it before, still hold
    ended = next(k for k in three.participant("mission").keys if k.kid == old)
    assert ended.not_after == NOW + 2 * HOUR
    assert verify_chain(one, [two, three, four]).head is four

    # after its end the rotated-out key signs nothing more
    late = signed(federation, propose(three, now=four_at, quorum=2), three)
    error = broken(one, [two, three, late])
    assert (error.serial, error.after) == (4, 3)
    assert f"key {old} of 'mission' is valid from" in error.message


def test_a_key_revoked_later_does_not_break_what_it_signed_before(
    federation: Federation,
) -> None:
    one = federation.manifest
    old = kid(federation.keys["mission"])
    two = signed(federation, propose(one, now=NOW, quorum=3), one)  # signed with `old` at NOW
    # serial 3 revokes `old` from before serial 2 was issued (compromised since then):
    # serial 2 is still judged with serial 1's keys, where `old` was not revoked
    revocation = revoke_key(two, "mission", old, at=NOW - HOUR, now=NOW + HOUR)
    three = signed(federation, revocation, two, OTHERS)
    assert verify_chain(one, [two, three]).head is three

    # a successor of serial 3 signed with the revoked key is refused
    four = signed(federation, propose(three, now=NOW + 2 * HOUR, quorum=2), three)
    error = broken(one, [two, three, four])
    assert (error.serial, error.after) == (4, 3)
    assert error.message == (
        "manifest serial 4 does not follow from serial 3: signature by 'mission' is not "
        f"acceptable: key {old} of 'mission' is revoked since {(NOW - HOUR).isoformat()}"
    )


def test_a_successor_dated_back_before_its_predecessor_is_refused(
    federation: Federation,
) -> None:
    """Step (2): without it, the revoked key could sign a successor dated before the
    revocation."""
    one = federation.manifest
    old = kid(federation.keys["mission"])
    revocation = revoke_key(one, "mission", old, at=NOW, now=NOW + HOUR)
    two = signed(federation, revocation, one, OTHERS)
    doc = json.loads(manifest_json(propose(two, now=NOW + 2 * HOUR, quorum=2)))
    doc["issued_at"] = (NOW - HOUR).isoformat()  # before the revocation, and before serial 2
    backdated = signed(federation, parse_manifest(doc), two)
    error = broken(one, [two, backdated])
    assert (error.serial, error.after) == (3, 2)
    assert error.message == (
        "manifest serial 3 does not follow from serial 2: manifest serial 3 is issued at "
        f"{(NOW - HOUR).isoformat()}, before serial 2 ({(NOW + HOUR).isoformat()}) that it "
        "follows"
    )


def test_serials_need_not_be_consecutive_but_the_held_quorum_must_vouch(
    federation: Federation,
) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, add_participants=[wfp()]), one)
    # a successor that skips serial 2, signed by serial 1's quorum, follows from serial 1
    doc = json.loads(manifest_json(propose(one, now=NOW, quorum=2)))
    doc["serial"] = 3
    skipping = signed(federation, parse_manifest(doc), one)
    assert verify_chain(one, [skipping]).head is skipping

    # but a gap does not let a successor skip the manifest that vouches: serial 3 signed
    # by wfp (listed only in serial 2) does not follow from serial 1
    three = signed(
        federation,
        propose(two, now=NOW + HOUR, quorum=2),
        two,
        ("mission", "unodc", "wfp"),
        {"wfp": WFP_KEY},
    )
    error = broken(one, [three])
    assert (error.serial, error.after) == (3, 1)
    assert "'wfp' is not a participant of" in error.message
    assert verify_chain(one, [two, three]).head is three


# -- chains that break ------------------------------------------------------------------


def test_a_forged_signature_breaks_the_chain_at_its_serial(federation: Federation) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    three = signed(federation, propose(two, now=NOW + HOUR, quorum=3), two)
    doc = json.loads(manifest_json(two))
    sig = bytearray(b64url_decode(doc["signatures"][1]["sig"]))
    sig[0] ^= 1
    doc["signatures"][1]["sig"] = b64url_encode(bytes(sig))
    forged = parse_manifest(doc)
    error = broken(one, [forged, three])
    assert (error.serial, error.after) == (2, 1)
    assert error.message == (
        "manifest serial 2 does not follow from serial 1: signature by 'unodc' "
        f"(key {kid(federation.keys['unodc'])}) does not verify over this manifest"
    )

    # signatures over other content: the document changed after it was signed
    doc = json.loads(manifest_json(two))
    doc["quorum"] = 1
    error = broken(one, [parse_manifest(doc)])
    assert "does not verify over this manifest" in error.message


def test_too_small_a_quorum_of_the_predecessor_breaks_the_chain(federation: Federation) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)  # quorum 2 from serial 2
    three = signed(federation, propose(two, now=NOW + HOUR, quorum=1), two, ("mission", "dpa"))
    assert verify_chain(one, [two, three]).head is three  # serial 2's quorum is 2
    under = signed(federation, propose(one, now=NOW, quorum=1), one, ("mission", "unodc"))
    error = broken(one, [under])
    assert (error.serial, error.after) == (2, 1)
    assert error.message == (
        "manifest serial 2 does not follow from serial 1: manifest serial 2 has 2 valid "
        "signature(s) (mission, unodc) of the 3 required"
    )


def test_a_successor_cannot_vouch_for_itself(federation: Federation) -> None:
    """wfp, added by serial 2, cannot count towards the quorum that accepts serial 2."""
    one = federation.manifest
    proposal = propose(one, now=NOW, add_participants=[wfp()])
    self_vouched = sign_manifest(
        sign_manifest(
            sign_manifest(proposal, "mission", federation.keys["mission"]),
            "unodc",
            federation.keys["unodc"],
        ),
        "wfp",
        WFP_KEY,
    )
    verify_anchor(self_vouched)  # a quorum of its own participants: fine as an anchor
    error = broken(one, [self_vouched])
    assert "signature by 'wfp' is not acceptable" in error.message


def test_an_older_an_equal_or_a_foreign_serial_breaks_the_chain(federation: Federation) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    error = broken(one, [two, two])
    assert (error.serial, error.after) == (2, 2)
    assert "not higher than the held serial 2" in error.message
    doc = json.loads(manifest_json(propose(one, now=NOW, quorum=2)))
    doc["federation"] = "another-federation"
    elsewhere = parse_manifest(doc)
    for s in QUORUM:  # the same signers and keys, for another federation
        elsewhere = sign_manifest(elsewhere, s, federation.keys[s])
    error = broken(one, [elsewhere])
    assert "is for federation 'another-federation'" in error.message


def test_the_first_link_that_does_not_follow_is_named_and_what_follows_is_not_judged(
    federation: Federation,
) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    three = signed(federation, propose(two, now=NOW, quorum=3), two, ("mission",))
    four = signed(federation, propose(three, now=NOW, quorum=2), three)
    error = broken(one, [two, three, four])
    assert (error.serial, error.after) == (3, 2)


def test_verify_successor_raises_manifest_rejected_not_a_chain_break(
    federation: Federation,
) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    assert verify_successor(two, one) is two
    with pytest.raises(ManifestRejected) as caught:
        verify_successor(one, two)
    assert not isinstance(caught.value, ManifestChainBroken)


# -- the anchor ---------------------------------------------------------------------------


def test_an_anchor_is_judged_with_its_own_keys_as_of_its_issue(
    federation_config: dict[str, Any], federation: Federation
) -> None:
    # keys valid from 2026-01-01 for 730 days: an anchor still verifies once they expired
    assert verify_anchor(federation.manifest) is federation.manifest
    under = make_federation(federation_config, signers=("mission", "unodc")).manifest
    with pytest.raises(ManifestRejected, match=r"2 valid signature\(s\) .* of the 3 required"):
        verify_anchor(under)


# -- reading a chain --------------------------------------------------------------------


def test_a_manifest_file_holds_one_manifest_or_a_chain(federation: Federation) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    (single,) = parse_manifest_chain(manifest_json(one))
    assert single.signing_input() == one.signing_input()
    assert single.signatures == one.signatures
    document = json.dumps([json.loads(manifest_json(m)) for m in (one, two)])
    parsed = parse_manifest_chain(document)
    assert [m.serial for m in parsed] == [1, 2]
    assert verify_chain(parsed[0], parsed[1:]).head.signing_input() == two.signing_input()
    # the bytes signed survive the round trip: manifest_json of each re-verifies
    assert parse_manifest(manifest_json(parsed[1])).signing_input() == two.signing_input()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "manifest is not JSON"),
        ("[]", "a manifest file holds one manifest (a JSON object) or a chain"),
        ("3", "a manifest file holds one manifest (a JSON object) or a chain"),
        ('"manifest"', "a manifest file holds one manifest (a JSON object) or a chain"),
        ("[ONE, 7]", "manifest 2 of the 2 in the chain is not a JSON object"),
        ("[ONE, {}]", "manifest 2 of the 2 in the chain: manifest is malformed"),
        ("[TWO, ONE]", "manifest 2 of the 2 in the chain has serial 1, not higher than serial 2"),
        ("[ONE, ONE]", "manifest 2 of the 2 in the chain has serial 1, not higher than serial 1"),
    ],
)
def test_what_is_not_a_manifest_or_a_chain_is_refused(
    federation: Federation, document: str, message: str
) -> None:
    one = federation.manifest
    two = signed(federation, propose(one, now=NOW, quorum=2), one)
    text = document.replace("ONE", manifest_json(one).decode()).replace(
        "TWO", manifest_json(two).decode()
    )
    with pytest.raises(ManifestRejected) as caught:
        parse_manifest_chain(text)
    assert caught.value.message.startswith(message), caught.value.message
