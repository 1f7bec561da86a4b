"""Checks a hostile issuer can hit: a packet id that is not a UUID, a result whose input
no participant issued, and a result whose input contradicts what the receiving node holds
(``tests/node/api/test_hostile_input.py`` sends each to a node)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from clearinghouse.protocol.errors import MalformedPacket, ResultInputInvalid
from clearinghouse.protocol.packet import VerifiedPacket, issue_packet, verify_view
from clearinghouse.protocol.results import (
    HeldInput,
    ResultInput,
    check_result,
    check_result_input,
    result_input,
    result_record,
)
from clearinghouse.protocol.sdjwt import CompactSdJwt, conceal_by_claim, sign_jws
from tests.support import NOW, Federation

JTI = "0190d1f2-0000-7000-8000-000000000000"


def signed(federation: Federation, jti: str) -> str:
    digests, disclosures, _ = conceal_by_claim({"country": "Syria"}, lambda n: b"\x01" * n)
    payload = {
        "iss": "mission",
        "jti": jti,
        "iat": int(NOW.timestamp()),
        "sch": "conflict-event/1",
        "hc": "H0",
        "_sd": digests,
        "_sd_alg": "sha-256",
    }
    header = {
        "alg": "EdDSA",
        "typ": "clearinghouse-packet+sd-jwt",
        "kid": federation.kid("mission"),
    }
    jwt = sign_jws(header, payload, federation.keys["mission"])
    return CompactSdJwt(jwt, tuple(d.encoded for d in disclosures)).serialize()


def test_a_canonical_uuid_is_a_packet_id(federation: Federation) -> None:
    packet = verify_view(signed(federation, JTI), federation.manifest, recipient=None, now=NOW)
    assert packet.jti == JTI


@pytest.mark.parametrize(
    "jti",
    ["' OR 1=1--", "7" * 200, JTI.upper(), JTI.replace("-", ""), "", "x\x00y", "../../etc"],
)
def test_any_other_packet_id_is_refused(federation: Federation, jti: str) -> None:
    with pytest.raises(MalformedPacket, match=r"'jti'.*not a UUID"):
        verify_view(signed(federation, jti), federation.manifest, recipient=None, now=NOW)


def result(federation: Federation, input_issuer: Any) -> VerifiedPacket:
    declared = federation.manifest.participant("dpa").analyzer
    assert declared is not None
    record = result_record(
        analyzer=declared,
        input_jti=JTI,
        input_digest="ab" * 32,
        input_schema="conflict-event/1",
        input_issuer=input_issuer,
        findings=[],
        explanation="nothing found",
    )
    packet = issue_packet(
        record,
        schema="analysis-result/1",
        issuer="dpa",
        key=federation.keys["dpa"],
        kid=federation.kid("dpa"),
        now=NOW,
    )
    return verify_view(packet.sd_jwt, federation.manifest, recipient=None, now=NOW)


@pytest.mark.parametrize("input_issuer", ["mission", "dpa", None])
def test_a_result_about_a_participants_packet_passes(
    federation: Federation, input_issuer: str | None
) -> None:
    check_result(result(federation, input_issuer), federation.manifest)


def test_a_result_about_a_packet_no_participant_issued_is_refused(
    federation: Federation,
) -> None:
    with pytest.raises(ResultInputInvalid, match=r"'nobody'.*cannot have received") as caught:
        check_result(result(federation, "nobody"), federation.manifest)
    assert caught.value.code == "result-input-invalid"


# -- the input against what the receiving node holds (check_result_input) ---------------


def held(issuer: str = "mission", *, sent_to: frozenset[str] = frozenset({"dpa"})) -> HeldInput:
    """What a node holds of the input that :func:`result` names (as its issuer says)."""
    return HeldInput(JTI, "ab" * 32, issuer, "conflict-event/1", sent_to)


@pytest.mark.parametrize(
    ("input_issuer", "holder", "holdings"),
    [
        ("mission", "mission", [held()]),  # issued by mission, sent to dpa
        (None, "mission", [held()]),  # the input's issuer withheld: the packet still says
        ("mission", "unodc", [held()]),  # unodc holds mission's packet: nothing to send
        ("mission", "unodc", []),  # unodc holds nothing of it
        ("dpa", "dpa", []),  # a result of dpa's own packet, come back to dpa
        ("mission", "mission", [held(), replace(held(), digest="cd" * 32)]),  # one agrees
    ],
)
def test_a_result_whose_input_agrees_with_what_is_held_passes(
    federation: Federation, input_issuer: str | None, holder: str, holdings: list[HeldInput]
) -> None:
    check_result_input(result(federation, input_issuer), holdings, holder=holder)


@pytest.mark.parametrize(
    ("input_issuer", "holdings", "message"),
    [
        ("mission", [held(sent_to=frozenset({"unodc"}))], "never sent to 'dpa'"),
        (None, [held(sent_to=frozenset())], "never sent to 'dpa'"),
        ("mission", [], "'mission' issued no such packet"),
        ("mission", [replace(held(), digest="cd" * 32)], "SHA-256 cdcdcdcdcdcd…"),
        ("mission", [held("unodc")], "held here is issued by 'unodc'"),
        (
            "mission",
            [replace(held(), schema="seizure/1")],
            "held here is issued by 'mission' (seizure/1,",
        ),
    ],
    ids=["not sent", "not sent, issuer withheld", "not issued", "digest", "issuer", "schema"],
)
def test_a_result_whose_input_contradicts_what_is_held_is_refused(
    federation: Federation, input_issuer: str | None, holdings: list[HeldInput], message: str
) -> None:
    with pytest.raises(ResultInputInvalid) as caught:
        check_result_input(result(federation, input_issuer), holdings, holder="mission")
    assert caught.value.code == "result-input-invalid"
    assert JTI in caught.value.message and message in caught.value.message, caught.value.message


def test_a_packet_that_is_no_result_names_no_input(federation: Federation) -> None:
    packet = verify_view(signed(federation, JTI), federation.manifest, recipient=None, now=NOW)
    assert result_input(packet) is None
    check_result_input(packet, [], holder="mission")
    assert result_input(result(federation, None)) == ResultInput(
        JTI, "ab" * 32, "conflict-event/1", None
    )
