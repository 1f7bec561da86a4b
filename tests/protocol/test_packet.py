"""Packets end to end: issue, view per recipient, verify; and every way to tamper."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, compact_json
from clearinghouse.protocol.errors import (
    DisclosureMismatch,
    DuplicateClaim,
    DuplicateDisclosure,
    IssuedInFuture,
    KeyRevoked,
    MalformedPacket,
    OverDisclosure,
    ProtocolError,
    SchemaViolation,
    SignatureInvalid,
    UnknownIssuer,
    UnknownKey,
    UnknownSchema,
)
from clearinghouse.protocol.manifest import manifest_json, parse_manifest
from clearinghouse.protocol.packet import (
    IssuedPacket,
    VerifiedPacket,
    issue_packet,
    make_view,
    pseudonym,
    recipient_view,
    verify_view,
)
from clearinghouse.protocol.schemas import SCHEMAS, get_schema
from clearinghouse.protocol.sdjwt import CompactSdJwt, make_disclosure, sign_jws
from tests.support import NOW, PARTICIPANTS, Federation, seeded_key

ISSUER = {
    "conflict-event/1": "mission",
    "seizure/1": "unodc",
    "market-price/1": "undp",
    "financial-flow/1": "unodc",
    "analysis-result/1": "dpa",
}


def issue(fed: Federation, schema: str, record: dict[str, Any], **kw: Any) -> IssuedPacket:
    issuer = kw.pop("issuer", ISSUER[schema])
    return issue_packet(
        record,
        schema=schema,
        issuer=issuer,
        key=kw.pop("key", fed.keys.get(issuer, seeded_key(issuer))),
        kid=kw.pop("kid", fed.kid(issuer) if issuer in fed.keys else "kid"),
        now=kw.pop("now", NOW),
        pseudonym_key=kw.pop("pseudonym_key", fed.pseudonym_key),
        pseudonym_epoch=kw.pop("pseudonym_epoch", fed.pseudonym_epoch),
        **kw,
    )


def verify(fed: Federation, raw: str, recipient: str | None = None) -> VerifiedPacket:
    return verify_view(raw, fed.manifest, recipient=recipient, now=NOW)


def test_there_is_an_example_record_for_every_schema(example_records: dict) -> None:
    assert set(example_records) == set(SCHEMAS)


@pytest.mark.parametrize("schema", sorted(ISSUER))
@pytest.mark.parametrize("recipient", PARTICIPANTS)
def test_round_trip_every_schema_every_recipient(
    federation: Federation, example_records: dict, schema: str, recipient: str
) -> None:
    packet = issue(federation, schema, example_records[schema])
    full = verify(federation, packet.sd_jwt)
    view = recipient_view(packet.sd_jwt, federation.manifest, recipient)
    got = verify(federation, view, recipient)
    granted = federation.manifest.sharing.granted_claims(get_schema(schema), recipient)
    assert got.claims == {k: v for k, v in full.claims.items() if k in granted}
    assert got.ref == full.ref == packet.ref
    assert (got.iss, got.sch, got.hc) == (ISSUER[schema], schema, "H0")
    # Deny by default: nothing outside the grant, and every granted claim that the
    # record has is there.
    assert set(got.claims) == granted & set(full.claims)


def test_policy_examples_hold(federation: Federation, example_records: dict) -> None:
    packet = issue(federation, "conflict-event/1", example_records["conflict-event/1"])
    claims = {
        r: verify(federation, recipient_view(packet.sd_jwt, federation.manifest, r), r).claims
        for r in PARTICIPANTS
    }
    # UNDP: admin1 and month, no actors, no coordinates.
    assert "admin1" in claims["undp"] and "month" in claims["undp"]
    assert not {"side_a", "side_b", "side_a_ref", "latitude", "longitude"} & set(claims["undp"])
    # UNODC: pseudonymised actors only.
    assert "side_a_ref" in claims["unodc"] and "side_a" not in claims["unodc"]
    # DPA: actors and narrative.
    assert {"side_a", "side_b", "narrative"} <= set(claims["dpa"])
    # Sanctions: names of actors, not the narrative or place.
    assert {"side_a", "side_b"} <= set(claims["sanctions"])
    assert not {"narrative", "place", "latitude"} & set(claims["sanctions"])


def test_pseudonyms_link_the_same_actor_and_only_under_the_key(
    federation: Federation, example_records: dict
) -> None:
    record = dict(example_records["conflict-event/1"])
    a = verify(federation, issue(federation, "conflict-event/1", record).sd_jwt).claims
    record["side_a"] = "  " + record["side_a"].upper().replace(" ", "   ") + " "
    b = verify(federation, issue(federation, "conflict-event/1", record).sd_jwt).claims
    assert a["side_a_ref"] == b["side_a_ref"]
    assert a["side_a_ref"] == pseudonym(federation.pseudonym_key, a["side_a"])
    assert a["side_a_ref"] != pseudonym(b"another key" * 3, a["side_a"])
    assert a["side_a_ref"] != a["side_b_ref"]


def test_full_packet_to_a_recipient_is_over_disclosure(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, "conflict-event/1", example_records["conflict-event/1"])
    with pytest.raises(OverDisclosure, match="to 'undp'") as info:
        verify(federation, packet.sd_jwt, "undp")
    assert info.value.field in get_schema("conflict-event/1").fields
    # One field too many, named precisely.
    granted = federation.manifest.sharing.granted_claims(get_schema("conflict-event/1"), "unodc")
    view = make_view(packet.sd_jwt, granted | {"side_a"})
    with pytest.raises(OverDisclosure, match=r"'side_a'.*grants 'pseudonymise'") as info:
        verify(federation, view, "unodc")
    assert info.value.field == "side_a"


def test_a_relay_can_narrow_but_not_widen(federation: Federation, example_records: dict) -> None:
    packet = issue(federation, "conflict-event/1", example_records["conflict-event/1"])
    view = recipient_view(packet.sd_jwt, federation.manifest, "dpa")
    narrower = make_view(view, {"event_id", "deaths"})
    assert set(verify(federation, narrower, "dpa").claims) == {"event_id", "deaths"}
    other = issue(federation, "conflict-event/1", example_records["conflict-event/1"])
    foreign = CompactSdJwt.parse(other.sd_jwt).disclosures[0]
    widened = narrower + foreign + "~"
    with pytest.raises(DisclosureMismatch):
        verify(federation, widened, "dpa")


def test_nested_properties_and_array_elements_are_disclosable_one_by_one(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, "seizure/1", example_records["seizure/1"])
    compact = CompactSdJwt.parse(packet.sd_jwt)
    # Drop one disclosure at a time: each drop removes exactly one value somewhere.
    full = verify(federation, packet.sd_jwt).claims
    for i in range(len(compact.disclosures)):
        kept = compact.disclosures[:i] + compact.disclosures[i + 1 :]
        try:
            claims = verify(federation, compact.with_disclosures(kept).serialize()).claims
        except DisclosureMismatch:
            continue  # a child whose parent was dropped has nowhere to land
        assert claims != full


# --- tampering -----------------------------------------------------------------------------


def _small_packet(fed: Federation, records: dict) -> str:
    return issue(fed, "market-price/1", records["market-price/1"]).sd_jwt


def test_any_flipped_character_is_refused(federation: Federation, example_records: dict) -> None:
    raw = _small_packet(federation, example_records)
    verify(federation, raw)
    for i, ch in enumerate(raw):
        flipped = raw[:i] + ("A" if ch != "A" else "B") + raw[i + 1 :]
        with pytest.raises(ProtocolError):
            verify(federation, flipped)


def _reencode_jwt(raw: str, change: Callable[[dict, dict], None], key: Any = None) -> str:
    compact = CompactSdJwt.parse(raw)
    h, p, s = compact.jwt.split(".")
    header, payload = json.loads(b64url_decode(h)), json.loads(b64url_decode(p))
    change(header, payload)
    if key is not None:
        jwt = sign_jws(header, payload, key)
    else:
        jwt = ".".join(
            [b64url_encode(compact_json(header)), b64url_encode(compact_json(payload)), s]
        )
    return CompactSdJwt(jwt, compact.disclosures).serialize()


def test_changed_payload_breaks_the_signature(
    federation: Federation, example_records: dict
) -> None:
    raw = _small_packet(federation, example_records)
    changed = _reencode_jwt(raw, lambda h, p: p.update(iat=p["iat"] - 1))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify(federation, changed)
    changed = _reencode_jwt(raw, lambda h, p: p.update(hc="H1"))
    with pytest.raises(SignatureInvalid):
        verify(federation, changed)


def test_changed_disclosure_or_salt_is_a_mismatch(
    federation: Federation, example_records: dict
) -> None:
    raw = _small_packet(federation, example_records)
    compact = CompactSdJwt.parse(raw)
    first = json.loads(b64url_decode(compact.disclosures[0]))
    for replacement in ([b64url_encode(b"\x00" * 16), *first[1:]], [first[0], first[1], "forged"]):
        forged = b64url_encode(compact_json(replacement))
        tampered = compact.with_disclosures((forged, *compact.disclosures[1:])).serialize()
        with pytest.raises(DisclosureMismatch, match="match no digest"):
            verify(federation, tampered)


def test_added_and_duplicated_disclosures_are_refused(
    federation: Federation, example_records: dict
) -> None:
    raw = _small_packet(federation, example_records)
    compact = CompactSdJwt.parse(raw)
    extra = make_disclosure(b"\x07" * 16, "price", 1.0).encoded
    with pytest.raises(DisclosureMismatch):
        verify(federation, compact.with_disclosures((*compact.disclosures, extra)).serialize())
    doubled = (*compact.disclosures, compact.disclosures[0])
    with pytest.raises(DuplicateDisclosure, match="sent twice"):
        verify(federation, compact.with_disclosures(doubled).serialize())


def test_keys_issuers_and_time(federation: Federation, example_records: dict) -> None:
    record = example_records["market-price/1"]
    with pytest.raises(UnknownIssuer, match="'ghost'"):
        verify(federation, issue(federation, "market-price/1", record, issuer="ghost").sd_jwt)
    with pytest.raises(UnknownKey):
        verify(
            federation,
            issue(federation, "market-price/1", record, key=seeded_key("x"), kid="x").sd_jwt,
        )
    borrowed = issue(federation, "market-price/1", record, kid=federation.kid("mission"))
    with pytest.raises(UnknownKey, match="'undp' has no key"):
        verify(federation, borrowed.sd_jwt)  # a key id of another participant
    impostor = issue(
        federation,
        "market-price/1",
        record,
        issuer="mission",
        kid=federation.kid("mission"),
        key=federation.keys["undp"],
    )
    with pytest.raises(SignatureInvalid):
        verify(federation, impostor.sd_jwt)  # claims to be mission, signed by undp
    future = issue(federation, "market-price/1", record, now=NOW + timedelta(hours=1))
    with pytest.raises(MalformedPacket, match="in the future") as raised:
        verify(federation, future.sd_jwt)
    # not final (clocks converge): its own code, and when it would be in the window
    assert isinstance(raised.value, IssuedInFuture)
    assert (raised.value.code, raised.value.ahead) == ("issued-in-the-future", 3300)


def test_revoked_key_fails_after_revocation_only(
    federation: Federation, example_records: dict
) -> None:
    record = example_records["market-price/1"]
    before = issue(federation, "market-price/1", record, now=NOW - timedelta(days=2))
    after = issue(federation, "market-price/1", record, now=NOW - timedelta(hours=1))
    doc = json.loads(manifest_json(federation.manifest))
    undp = next(p for p in doc["participants"] if p["id"] == "undp")
    undp["keys"][0].update(revoked=True, revoked_at=(NOW - timedelta(days=1)).isoformat())
    manifest = parse_manifest(doc)
    verify_view(before.sd_jwt, manifest, recipient=None, now=NOW)
    with pytest.raises(KeyRevoked, match=federation.kid("undp")):
        verify_view(after.sd_jwt, manifest, recipient=None, now=NOW)


def test_header_and_claims_are_checked(federation: Federation, example_records: dict) -> None:
    raw = _small_packet(federation, example_records)
    key = federation.keys["undp"]
    cases = [
        (lambda h, p: h.update(typ="JWT"), MalformedPacket, "typ"),
        (lambda h, p: h.update(alg="none"), MalformedPacket, "alg"),
        (lambda h, p: p.update(sch="unknown/9"), UnknownSchema, "unknown/9"),
        (lambda h, p: p.update(hc="H9"), MalformedPacket, "handling code"),
        (lambda h, p: p.update(hc="H3"), MalformedPacket, "H3"),
        (lambda h, p: p.update(_sd_alg="sha-512"), MalformedPacket, "_sd_alg"),
        (lambda h, p: p.update(iat="yesterday"), MalformedPacket, "iat"),
        (lambda h, p: p.pop("jti"), MalformedPacket, "jti"),
        (lambda h, p: p.update(colour="plain"), SchemaViolation, "colour"),
        (lambda h, p: p.update(price="plain"), DuplicateClaim, "price"),
    ]
    for change, error, message in cases:
        with pytest.raises(error, match=message):
            verify(federation, _reencode_jwt(raw, change, key))


def test_issuer_signed_but_schema_breaking_values_are_refused(federation: Federation) -> None:
    # A participant that signs garbage is still caught by the schema check.
    d = make_disclosure(b"\x01" * 16, "price", -5)
    payload = {
        "iss": "undp",
        "jti": "0190d1f2-0000-7000-8000-000000000001",
        "iat": int(NOW.timestamp()),
        "sch": "market-price/1",
        "hc": "H0",
        "_sd": [d.digest],
        "_sd_alg": "sha-256",
    }
    header = {"alg": "EdDSA", "typ": "clearinghouse-packet+sd-jwt", "kid": federation.kid("undp")}
    raw = CompactSdJwt(sign_jws(header, payload, federation.keys["undp"]), (d.encoded,)).serialize()
    with pytest.raises(SchemaViolation, match="price"):
        verify(federation, raw)


def test_bad_records_and_handling_codes_are_refused(
    federation: Federation, example_records: dict
) -> None:
    record = dict(example_records["market-price/1"], surprise=1)
    with pytest.raises(SchemaViolation, match="surprise"):
        issue(federation, "market-price/1", record)
    with pytest.raises(ProtocolError, match="handling code"):
        issue(federation, "market-price/1", example_records["market-price/1"], hc="H7")
    with pytest.raises(ProtocolError, match="restriction"):
        issue(federation, "market-price/1", example_records["market-price/1"], hc="H3")
    h3 = issue(
        federation,
        "market-price/1",
        example_records["market-price/1"],
        hc="H3",
        hc_restriction="Not for use in sanctions designations",
    )
    got = verify(federation, h3.sd_jwt)
    assert (got.hc, got.hcr) == ("H3", "Not for use in sanctions designations")
    assert got.summary()["hcr"] == "Not for use in sanctions designations"


def test_verified_packet_cannot_be_forged() -> None:
    with pytest.raises(TypeError, match="only by"):
        VerifiedPacket(  # type: ignore[call-arg]
            iss="a",
            kid="k",
            jti="j",
            iat=NOW,
            sch="s",
            hc="H0",
            hcr=None,
            pse=None,
            ref=None,
            claims={},
            disclosed=frozenset(),
            raw="",
        )


def test_packet_ids_are_uuid7_and_refs_stable(
    federation: Federation, example_records: dict
) -> None:
    packet = issue(federation, "market-price/1", example_records["market-price/1"])
    assert packet.ref.jti[14] == "7"
    view = recipient_view(packet.sd_jwt, federation.manifest, "dpa")
    assert verify(federation, view, "dpa").ref == packet.ref
    assert len(packet.ref.digest) == 64


@pytest.mark.parametrize("recipient", PARTICIPANTS)
def test_issuer_side_views_equal_views_cut_from_the_packet(
    federation: Federation, example_records: dict, recipient: str
) -> None:
    packet = issue(federation, "conflict-event/1", example_records["conflict-event/1"])
    granted = federation.manifest.sharing.granted_claims(get_schema("conflict-event/1"), recipient)
    fast = packet.view(granted)
    cut = make_view(packet.sd_jwt, granted)
    assert sorted(fast.split("~")) == sorted(cut.split("~"))
    got = verify(federation, fast, recipient)
    assert dict(got.claims) == {k: v for k, v in packet.claims.items() if k in granted}
