"""Oversight authorisations: the signed document, its checks, and what it covers."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.authorisation import (
    AUTHORISATION_TYPE,
    DATE_CLAIMS,
    MAX_PURPOSE_LENGTH,
    PLACE_CLAIMS,
    Authorisation,
    authorisation_json,
    build_authorisation,
    canonical_authorisation,
    covers,
    covers_view,
    parse_authorisation,
    sign_authorisation,
    unlocked_claims,
    verify_authorisation,
)
from clearinghouse.protocol.encoding import b64url_decode, canonical_json
from clearinghouse.protocol.errors import AuthorisationRejected, ProtocolError
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest
from clearinghouse.protocol.packet import VerifiedPacket, issue_packet, verify_view
from clearinghouse.protocol.schemas import SCHEMAS, get_schema
from tests.support import EXAMPLES, NOW, Federation, seeded_key

QUERY = {
    "query": {
        "schema": "conflict-event/1",
        "area": ["Idlib"],
        "period": {"from": "2016-01-01", "to": "2016-12-31"},
    }
}
EXPIRES = NOW + timedelta(days=7)
CONFLICT = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())
MARKET = json.loads((EXAMPLES / "records" / "market-price.json").read_text())
SEIZURE = json.loads((EXAMPLES / "records" / "seizure.json").read_text())
JTI = "01a21293-b600-725b-87e3-3999c56e59a7"


def fixed_bytes(n: int) -> bytes:
    return bytes(range(n))


def draft(federation: Federation, /, **changes: Any) -> dict[str, Any]:
    """An unsigned authorisation by the demo's oversight participant, ``sanctions``."""
    args: dict[str, Any] = {
        "federation": federation.manifest.federation,
        "issuer": "sanctions",
        "recipient": "undp",
        "scope": QUERY,
        "fields": ["side_a", "side_b"],
        "purpose": "Inquiry into the executions reported in Idlib in January 2016.",
        "expires_at": EXPIRES,
        "now": NOW,
        "random_bytes": fixed_bytes,
    }
    args.update(changes)
    return build_authorisation(**args)


def issued(federation: Federation, /, **changes: Any) -> Authorisation:
    doc = draft(federation, **changes)
    return sign_authorisation(doc, federation.keys[doc["issuer"]])


def resigned(
    federation: Federation, doc: dict[str, Any], signer: str = "sanctions"
) -> Authorisation:
    """``doc`` (changed after build) signed again, so that only the change is wrong."""
    return sign_authorisation(doc, federation.keys[signer])


def tampered(a: Authorisation, change: Any) -> Authorisation:
    doc = json.loads(authorisation_json(a))
    change(doc)
    return parse_authorisation(doc)


def with_sanctions_key(federation: Federation, **key_changes: Any) -> Manifest:
    doc = json.loads(manifest_json(federation.manifest))
    for participant in doc["participants"]:
        if participant["id"] == "sanctions":
            participant["keys"][0].update(key_changes)
    return parse_manifest(doc)


# -- the document ------------------------------------------------------------------


def test_sign_parse_verify_round_trip(federation: Federation) -> None:
    a = issued(federation)
    assert verify_authorisation(a, federation.manifest, now=NOW, recipient="undp") is a
    again = parse_authorisation(authorisation_json(a))
    assert again == a and again.document() == a.document()
    wire = parse_authorisation(canonical_authorisation(a))
    verify_authorisation(wire, federation.manifest, now=NOW)
    assert a.type == AUTHORISATION_TYPE and a.issuer == "sanctions" and a.recipient == "undp"
    assert a.signature.signer == "sanctions" and a.signature.kid == federation.kid("sanctions")


#: The authorisation of :func:`draft`, signed with seeded_key("sanctions") (Ed25519 is
#: deterministic), in its RFC 8785 wire form.
VECTOR = (
    b'{"expires_at":"2026-12-02T12:00:00Z","federation":"un-integrated-analysis-demo",'
    b'"fields":["side_a","side_b"],"id":"01a21293-b600-7000-8203-040506070809",'
    b'"issued_at":"2026-11-25T12:00:00Z","issuer":"sanctions","purpose":"Inquiry into the '
    b'executions reported in Idlib in January 2016.","recipient":"undp","scope":{"query":'
    b'{"area":["Idlib"],"period":{"from":"2016-01-01","to":"2016-12-31"},'
    b'"schema":"conflict-event/1"}},"signature":{"kid":'
    b'"6ya8c3Tqh9xj2S1QPpJ80KqHCtqjKTOuQUxOBW_LMEA","sig":"HBhkz3F0Fmt_Yb0UbjpWssGALbvIJ3ZmdD'
    b'huhtF_SwUB1flukHRIQ1EoUVOlIAoGkblxUhYRbTS8nQjkwnI-Aw","signer":"sanctions"},'
    b'"type":"clearinghouse-authorisation/1"}'
)


def test_known_answer(federation: Federation) -> None:
    """Fixed key seed, time and randomness give exactly these bytes."""
    a = issued(federation, federation="un-integrated-analysis-demo")
    assert canonical_authorisation(a) == VECTOR
    assert a.id == "01a21293-b600-7000-8203-040506070809"  # UUIDv7 of NOW
    body = {k: v for k, v in json.loads(VECTOR).items() if k != "signature"}
    seeded_key("sanctions").public_key().verify(
        b64url_decode(a.signature.sig), canonical_json(body)
    )
    assert verify_authorisation(parse_authorisation(VECTOR), federation.manifest, now=NOW) == a


def test_formatting_and_member_order_do_not_matter(federation: Federation) -> None:
    doc = json.loads(authorisation_json(issued(federation)))
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=5, ensure_ascii=True)
    verify_authorisation(parse_authorisation(reordered), federation.manifest, now=NOW)


def test_packet_scope(federation: Federation) -> None:
    a = issued(federation, scope={"packets": [JTI]}, fields=["narrative"])
    verify_authorisation(a, federation.manifest, now=NOW)
    assert a.document()["scope"] == {"packets": [JTI]}


def test_the_error_has_its_code() -> None:
    assert AuthorisationRejected.code == "authorisation-rejected"
    assert issubclass(AuthorisationRejected, ProtocolError)


# -- refusals ----------------------------------------------------------------------


def test_expired(federation: Federation) -> None:
    a = issued(federation)
    verify_authorisation(a, federation.manifest, now=EXPIRES - timedelta(seconds=1))
    with pytest.raises(AuthorisationRejected, match="expired at 2026-12-02T12:00:00Z"):
        verify_authorisation(a, federation.manifest, now=EXPIRES)


def test_issued_in_the_future(federation: Federation) -> None:
    a = issued(federation)
    verify_authorisation(a, federation.manifest, now=NOW - timedelta(minutes=5))
    with pytest.raises(
        AuthorisationRejected, match="issued at 2026-11-25T12:00:00Z, in the future"
    ):
        verify_authorisation(a, federation.manifest, now=NOW - timedelta(minutes=6))


def test_issuer_without_the_oversight_role(federation: Federation) -> None:
    a = issued(federation, issuer="mission")
    with pytest.raises(AuthorisationRejected, match="'mission' lacks the oversight role"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_issuer_not_a_participant(federation: Federation) -> None:
    a = sign_authorisation(draft(federation, issuer="stranger"), seeded_key("stranger"))
    with pytest.raises(AuthorisationRejected, match="'stranger' is not a participant"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_unknown_recipient(federation: Federation) -> None:
    a = issued(federation, recipient="stranger")
    with pytest.raises(AuthorisationRejected, match="recipient 'stranger' is not a participant"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_wrong_recipient(federation: Federation) -> None:
    a = issued(federation)
    with pytest.raises(AuthorisationRejected, match="is for 'undp', not for 'dpa'"):
        verify_authorisation(a, federation.manifest, now=NOW, recipient="dpa")


def test_oversight_cannot_authorise_itself(federation: Federation) -> None:
    a = issued(federation, recipient="sanctions")
    with pytest.raises(AuthorisationRejected, match="'sanctions' cannot authorise itself"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_other_federation(federation: Federation) -> None:
    a = issued(federation, federation="another-federation")
    with pytest.raises(AuthorisationRejected, match="for federation 'another-federation'"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_key_revoked_after_issue_ends_the_authorisation(federation: Federation) -> None:
    a = issued(federation)
    revoked_at = NOW + timedelta(days=1)
    manifest = with_sanctions_key(federation, revoked=True, revoked_at=revoked_at.isoformat())
    verify_authorisation(a, manifest, now=NOW + timedelta(hours=1))
    with pytest.raises(AuthorisationRejected, match=r"was revoked at 2026-11-26T12:00:00Z"):
        verify_authorisation(a, manifest, now=revoked_at)


def test_key_revoked_before_issue(federation: Federation) -> None:
    a = issued(federation)
    manifest = with_sanctions_key(federation, revoked=True)
    with pytest.raises(AuthorisationRejected, match=r"key .* of 'sanctions' is revoked"):
        verify_authorisation(a, manifest, now=NOW)


def test_key_not_valid_at_issue(federation: Federation) -> None:
    a = issued(federation)
    manifest = with_sanctions_key(federation, not_after=(NOW - timedelta(days=1)).isoformat())
    with pytest.raises(AuthorisationRejected, match="not at 2026-11-25T12:00:00"):
        verify_authorisation(a, manifest, now=NOW)


def test_key_not_in_the_manifest(federation: Federation) -> None:
    a = sign_authorisation(draft(federation), seeded_key("someone else"))
    with pytest.raises(AuthorisationRejected, match="'sanctions' has no key"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_signed_by_another_than_its_issuer(federation: Federation) -> None:
    def by_mission(doc: dict[str, Any]) -> None:
        doc["signature"]["signer"] = "mission"

    with pytest.raises(AuthorisationRejected, match="signed by 'mission', not by its issuer"):
        verify_authorisation(tampered(issued(federation), by_mission), federation.manifest, now=NOW)


TAMPERINGS = {
    "fields": lambda d: d["fields"].append("narrative"),
    "scope": lambda d: d["scope"]["query"]["area"].append("Aleppo"),
    "period": lambda d: d["scope"]["query"]["period"].update({"to": "2026-12-31"}),
    "purpose": lambda d: d.update(purpose=d["purpose"] + " And more."),
    "recipient": lambda d: d.update(recipient="dpa"),
    "expires_at": lambda d: d.update(expires_at="2027-12-02T12:00:00Z"),
    "signature": lambda d: d["signature"].update(sig="A" * 86),
    "not base64url": lambda d: d["signature"].update(sig="!"),
}


@pytest.mark.parametrize("change", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_breaks_the_signature(federation: Federation, change: Any) -> None:
    a = tampered(issued(federation), change)
    with pytest.raises(AuthorisationRejected, match=r"signature by 'sanctions' .* does not verify"):
        verify_authorisation(a, federation.manifest, now=NOW)


def test_field_not_of_the_schema(federation: Federation) -> None:
    with pytest.raises(
        AuthorisationRejected, match="field 'salary' is not a field of schema conflict-event/1"
    ):
        draft(federation, fields=["side_a", "salary"])
    doc = draft(federation)
    doc["fields"] = ["salary"]
    with pytest.raises(AuthorisationRejected, match="field 'salary' is not a field"):
        verify_authorisation(resigned(federation, doc), federation.manifest, now=NOW)


def test_derived_claims_are_not_fields(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="'side_a_ref' is not a field"):
        draft(federation, fields=["side_a_ref"])


def test_unknown_schema(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="unknown schema 'conflict-event/9'"):
        draft(federation, scope={"query": {"schema": "conflict-event/9"}})


def test_area_or_period_of_a_schema_without_such_claims(federation: Federation) -> None:
    results = {"schema": "analysis-result/1"}
    with pytest.raises(AuthorisationRejected, match="analysis-result/1 has no place claims"):
        draft(federation, fields=["findings"], scope={"query": {**results, "area": ["Idlib"]}})
    period = {"from": "2016-01-01", "to": "2016-01-02"}
    with pytest.raises(AuthorisationRejected, match="analysis-result/1 has no date claims"):
        draft(federation, fields=["findings"], scope={"query": {**results, "period": period}})


def test_query_issuers_must_be_participants(federation: Federation) -> None:
    scope = {"query": {"schema": "conflict-event/1", "issuers": ["mission", "stranger"]}}
    a = issued(federation, scope=scope)
    with pytest.raises(AuthorisationRejected, match="scope names issuer 'stranger'"):
        verify_authorisation(a, federation.manifest, now=NOW)


MALFORMED_SCOPES = {
    "both": {"packets": [JTI], **QUERY},
    "neither": {},
    "something else": {"everything": True},
    "not an object": ["packets", JTI],
    "no packets": {"packets": []},
    "jti not a UUID": {"packets": ["packet-1"]},
    "jti twice": {"packets": [JTI, JTI]},
    "query without schema": {"query": {"area": ["Idlib"]}},
    "query with more": {"query": {"schema": "conflict-event/1", "actors": ["x"]}},
    "empty area": {"query": {"schema": "conflict-event/1", "area": []}},
    "half a period": {"query": {"schema": "conflict-event/1", "period": {"from": "2016-01-01"}}},
    "period backwards": {
        "query": {
            "schema": "conflict-event/1",
            "period": {"from": "2016-02-01", "to": "2016-01-01"},
        }
    },
    "not a date": {
        "query": {"schema": "conflict-event/1", "period": {"from": "2016", "to": "2016-12-31"}}
    },
}


@pytest.mark.parametrize("scope", MALFORMED_SCOPES.values(), ids=MALFORMED_SCOPES.keys())
def test_malformed_scope(federation: Federation, scope: Any) -> None:
    with pytest.raises(AuthorisationRejected, match="scope"):
        draft(federation, scope=scope)
    doc = json.loads(authorisation_json(issued(federation)))
    doc["scope"] = scope
    with pytest.raises(AuthorisationRejected, match="scope"):
        parse_authorisation(doc)


def test_both_kinds_of_scope_are_named(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="exactly one of 'packets' or 'query'"):
        draft(federation, scope=MALFORMED_SCOPES["both"])


def test_duplicate_fields(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="field 'side_a' is listed twice"):
        draft(federation, fields=["side_a", "side_b", "side_a"])
    doc = json.loads(authorisation_json(issued(federation)))
    doc["fields"] = ["side_a", "side_a"]
    with pytest.raises(AuthorisationRejected, match="listed twice"):
        parse_authorisation(doc)


def test_no_fields(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="fields"):
        draft(federation, fields=[])


def test_purpose_is_required_and_bounded(federation: Federation) -> None:
    draft(federation, purpose="x" * MAX_PURPOSE_LENGTH)
    with pytest.raises(AuthorisationRejected, match="purpose"):
        draft(federation, purpose="x" * (MAX_PURPOSE_LENGTH + 1))
    for blank in ("", "  \n"):
        with pytest.raises(AuthorisationRejected, match="purpose"):
            draft(federation, purpose=blank)


def test_expiry_must_follow_issue(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="is not after issued_at"):
        draft(federation, expires_at=NOW)


def test_times_must_have_a_zone(federation: Federation) -> None:
    with pytest.raises(AuthorisationRejected, match="timezone-aware"):
        draft(federation, expires_at=EXPIRES.replace(tzinfo=None))
    doc = json.loads(authorisation_json(issued(federation)))
    doc["expires_at"] = "2026-12-02T12:00:00"
    with pytest.raises(AuthorisationRejected, match="expires_at"):
        parse_authorisation(doc)


BROKEN = {
    "type": lambda d: d.update(type="clearinghouse-authorisation/2"),
    "id": lambda d: d.update(id="3f2c8a5e-3b1a-4c55-9d4e-2a7f1b9c0d11"),  # a UUIDv4
    "extra member": lambda d: d.update(note="hello"),
    "no signature": lambda d: d.pop("signature"),
    "signature lacks kid": lambda d: d["signature"].pop("kid"),
    "issuer": lambda d: d.update(issuer="Sanctions Panel"),
    "number for text": lambda d: d.update(purpose=5),
    "fields not a list": lambda d: d.update(fields="side_a"),
    "time not a string": lambda d: d.update(issued_at=1795608000),
}


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
def test_malformed_document(federation: Federation, change: Any) -> None:
    doc = json.loads(authorisation_json(issued(federation)))
    change(doc)
    with pytest.raises(AuthorisationRejected, match="authorisation is malformed"):
        parse_authorisation(doc)


@pytest.mark.parametrize("data", [b"", b"\xff", b"[]", b'{"a": 1, "a": 2}', "NaN", "{"])
def test_not_a_json_object(data: bytes | str) -> None:
    with pytest.raises(AuthorisationRejected, match=r"not JSON|not a JSON object"):
        parse_authorisation(data)


def test_not_json_data() -> None:
    with pytest.raises(AuthorisationRejected, match="not JSON data"):
        parse_authorisation({"issued_at": NOW})


# -- what it unlocks and covers ----------------------------------------------------


def test_unlocked_claims(federation: Federation) -> None:
    a = issued(federation, fields=["side_a", "narrative"])
    assert unlocked_claims(a, get_schema("conflict-event/1")) == {"side_a", "narrative"}
    with pytest.raises(AuthorisationRejected, match="'side_a' is not a field of schema market"):
        unlocked_claims(a, get_schema("market-price/1"))


def test_the_tables_name_claims_of_every_schema() -> None:
    assert set(PLACE_CLAIMS) == set(SCHEMAS) == set(DATE_CLAIMS)
    for schema_id, spec in SCHEMAS.items():
        claims = set(spec.fields) | {d.claim for d in spec.derivations}
        named = {*PLACE_CLAIMS[schema_id], *DATE_CLAIMS[schema_id].exact}
        named |= set(DATE_CLAIMS[schema_id].coarse)
        assert named <= claims, (schema_id, named - claims)


def test_covers_packet_scope(federation: Federation) -> None:
    a = issued(federation, scope={"packets": [JTI]}, fields=["side_a"])
    assert covers(a, issuer="mission", jti=JTI, schema="conflict-event/1", claims=CONFLICT)
    other = JTI[:-1] + "8"
    assert not covers(a, issuer="mission", jti=other, schema="conflict-event/1", claims=CONFLICT)
    with pytest.raises(AuthorisationRejected, match="'side_a' is not a field of schema market"):
        covers(a, issuer="undp", jti=JTI, schema="market-price/1", claims=MARKET)


def query(federation: Federation, **criteria: Any) -> Authorisation:
    scope = {"query": {"schema": "conflict-event/1", **criteria}}
    return issued(federation, scope=scope)


def covers_event(
    a: Authorisation, claims: dict[str, Any] = CONFLICT, issuer: str = "mission"
) -> bool:
    return covers(a, issuer=issuer, jti=JTI, schema="conflict-event/1", claims=claims)


def test_covers_schema_and_issuers(federation: Federation) -> None:
    assert covers_event(query(federation))
    assert not covers(query(federation), issuer="mission", jti=JTI, schema="seizure/1", claims={})
    assert covers_event(query(federation, issuers=["dpa", "mission"]))
    assert not covers_event(query(federation, issuers=["unodc"]))


@pytest.mark.parametrize(
    ("area", "expected"),
    [
        ("Idlib", True),  # admin1 "Idlib Governorate"
        ("IDLIB governorate", True),
        ("  idlib   ", True),
        ("Ariha", True),  # admin2 "Ariha district", place "Ariha town"
        ("Syria", True),  # country
        ("middle east", True),  # region
        ("Aleppo", False),
        ("Idl", False),
        ("Governorate", False),
        ("Syrian Arab Republic", False),
    ],
)
def test_covers_area(federation: Federation, area: str, expected: bool) -> None:
    assert covers_event(query(federation, area=[area])) is expected


def test_covers_any_of_the_areas(federation: Federation) -> None:
    assert covers_event(query(federation, area=["Aleppo", "Idlib"]))
    without_admin = {k: v for k, v in CONFLICT.items() if k not in ("admin1", "admin2", "place")}
    assert not covers_event(query(federation, area=["Idlib"]), claims=without_admin)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2016-01-01", "2016-12-31", True),
        ("2016-01-07", "2016-01-07", True),  # both days included
        ("2015-01-01", "2016-01-06", False),
        ("2016-01-08", "2016-12-31", False),
    ],
)
def test_covers_period(federation: Federation, start: str, end: str, expected: bool) -> None:
    a = query(federation, period={"from": start, "to": end})
    assert covers_event(a) is expected


def test_a_record_must_lie_wholly_in_the_period(federation: Federation) -> None:
    a = query(federation, period={"from": "2016-01-01", "to": "2016-01-31"})
    assert not covers_event(a, claims={**CONFLICT, "date_end": "2016-02-02"})
    assert not covers_event(a, claims={k: v for k, v in CONFLICT.items() if "date" not in k})


def test_covers_all_criteria_together(federation: Federation) -> None:
    a = query(
        federation,
        issuers=["mission"],
        area=["Idlib"],
        period={"from": "2016-01-01", "to": "2016-12-31"},
    )
    assert covers_event(a)
    assert not covers_event(a, issuer="dpa")
    assert not covers_event(
        a, claims={**CONFLICT, "admin1": "Aleppo Governorate", "admin2": "x", "place": "y"}
    )


def test_covers_an_annual_total_by_its_year(federation: Federation) -> None:
    def seizures(start: str, end: str) -> Authorisation:
        scope = {"query": {"schema": "seizure/1", "period": {"from": start, "to": end}}}
        return issued(federation, scope=scope, fields=["persons"])

    def covered(a: Authorisation) -> bool:
        return covers(a, issuer="unodc", jti=JTI, schema="seizure/1", claims=SEIZURE)

    assert covered(seizures("2022-01-01", "2022-12-31"))
    assert not covered(seizures("2022-01-01", "2022-06-30"))  # only part of the year
    assert covered(seizures("2020-01-01", "2023-12-31"))


# -- at the recipient: what the view shows -----------------------------------------


@pytest.fixture(scope="module")
def market_packet(federation: Federation) -> Any:
    return issue_packet(
        MARKET,
        schema="market-price/1",
        issuer="undp",
        key=federation.keys["undp"],
        kid=federation.kid("undp"),
        now=NOW,
    )


def view(federation: Federation, packet: Any, *claims: str) -> VerifiedPacket:
    return verify_view(packet.view(claims), federation.manifest, recipient=None, now=NOW)


def market(federation: Federation, **criteria: Any) -> Authorisation:
    scope = {"query": {"schema": "market-price/1", **criteria}}
    return issued(federation, scope=scope, fields=["usd_price"], recipient="dpa")


PLACES = ("country_code", "admin1", "admin2", "market")


def test_covers_view_packet_scope(federation: Federation, market_packet: Any) -> None:
    shown = view(federation, market_packet, "price")
    a = issued(federation, scope={"packets": [shown.jti]}, fields=["usd_price"])
    assert covers_view(a, shown)
    b = issued(federation, scope={"packets": [JTI]}, fields=["usd_price"])
    assert not covers_view(b, shown)


def test_covers_view_schema_and_issuers(federation: Federation, market_packet: Any) -> None:
    shown = view(federation, market_packet, "price")
    assert covers_view(market(federation), shown)
    assert covers_view(market(federation, issuers=["undp"]), shown)
    assert not covers_view(market(federation, issuers=["mission"]), shown)
    assert not covers_view(query(federation), shown)


def test_covers_view_area_when_every_place_claim_is_shown(
    federation: Federation, market_packet: Any
) -> None:
    shown = view(federation, market_packet, "price", *PLACES)
    assert covers_view(market(federation, area=["homs"]), shown)
    assert covers_view(market(federation, area=["SYR"]), shown)
    assert not covers_view(market(federation, area=["Aleppo"]), shown)


def test_covers_view_does_not_judge_an_area_it_cannot_see(
    federation: Federation, market_packet: Any
) -> None:
    """A hidden place claim may be the one that matched: the originator checked it."""
    aleppo = market(federation, area=["Aleppo"])
    assert covers_view(aleppo, view(federation, market_packet, "price"))
    assert covers_view(aleppo, view(federation, market_packet, "price", "admin1"))


def test_covers_view_period(federation: Federation, market_packet: Any) -> None:
    def within(start: str, end: str, *claims: str) -> bool:
        a = market(federation, period={"from": start, "to": end})
        return covers_view(a, view(federation, market_packet, "price", *claims))

    assert within("2016-01-01", "2016-12-31", "date", "month")
    assert not within("2016-01-16", "2016-12-31", "date")  # the exact date is outside
    assert within("2016-01-16", "2016-12-31", "month")  # the month overlaps
    assert not within("2016-02-01", "2016-12-31", "month")
    assert within("2017-01-01", "2017-12-31")  # no date shown: the originator checked it


# -- fuzz --------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
FIELDS = (
    "type",
    "id",
    "federation",
    "issuer",
    "recipient",
    "scope",
    "fields",
    "purpose",
    "issued_at",
    "expires_at",
    "signature",
)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_parse_refuses_any_bytes_with_a_protocol_error(data: bytes | str) -> None:
    try:
        parse_authorisation(data)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_parse_refuses_any_json_with_a_protocol_error(value: Any) -> None:
    for data in (json.dumps(value), value if isinstance(value, dict) else {"x": value}):
        try:
            parse_authorisation(data)
        except ProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=3),
    drop=st.sets(st.sampled_from(FIELDS), max_size=2),
)
def test_a_changed_document_fails_only_with_protocol_errors(
    federation: Federation, changes: dict[str, Any], drop: set[str]
) -> None:
    doc = json.loads(authorisation_json(issued(federation)))
    doc.update(copy.deepcopy(changes))
    for name in drop:
        doc.pop(name, None)
    try:
        a = parse_authorisation(json.dumps(doc).encode())
        verify_authorisation(a, federation.manifest, now=NOW)
        covers(a, issuer="mission", jti=JTI, schema="conflict-event/1", claims=CONFLICT)
    except ProtocolError:
        pass
