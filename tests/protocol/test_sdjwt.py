"""SD-JWT mechanics against RFC 9901's examples and the reference implementation's cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, parse_json
from clearinghouse.protocol.errors import (
    DisclosureMismatch,
    DuplicateClaim,
    DuplicateDisclosure,
    MalformedPacket,
)
from clearinghouse.protocol.sdjwt import (
    SALT_BYTES,
    CompactSdJwt,
    conceal,
    decode_jws,
    digest_of,
    make_disclosure,
    parse_disclosure,
    process,
)
from tests.support import VECTORS

SD = VECTORS / "sd-jwt"
RFC = json.loads((SD / "rfc9901_examples.json").read_text())
CASES = sorted(p for p in (SD / "sd-jwt-python-testcases").iterdir() if p.is_dir())


@pytest.mark.parametrize("example", RFC["disclosure_digest_examples"], ids=lambda e: e["section"])
def test_rfc9901_disclosure_digests(example: dict) -> None:
    assert digest_of(example["disclosure"]) == example["sha256_b64url"]
    d = parse_disclosure(example["disclosure"])
    assert [d.salt, *([d.name] if d.name is not None else []), d.value] == example["decoded"]


def test_rfc9901_example_5_1_processes_to_its_claims() -> None:
    ex = RFC["example_5_1"]
    payload = parse_json(b64url_decode(ex["issuer_signed_jwt"].split(".")[1]))
    assert payload == ex["issuer_jwt_payload"]
    disclosures = [
        parse_disclosure(d) for d in CompactSdJwt.parse(ex["sd_jwt_all_disclosures"]).disclosures
    ]
    claims, landed = process(payload, disclosures)
    # RFC 9901 §5.1: the claims the example's disclosures reveal.
    assert claims["family_name"] == "Doe"
    assert claims["given_name"] == "John"
    assert claims["address"] == {
        "street_address": "123 Main St",
        "locality": "Anytown",
        "region": "Anystate",
        "country": "US",
    }
    assert claims["nationalities"] == ["US", "DE"]
    assert len(landed) == len(disclosures)
    assert "_sd" not in json.dumps(claims)


def _presentation(case: Path) -> tuple[dict, list]:
    text = (case / "sd_jwt_presentation.txt").read_text().strip()
    parts = text.split("~")
    payload = parse_json(b64url_decode(parts[0].split(".")[1]))
    return payload, [parse_disclosure(p) for p in parts[1:-1] if p]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_reference_testcases_process_to_verified_contents(case: Path) -> None:
    payload, disclosures = _presentation(case)
    claims, _ = process(payload, disclosures)
    expected = json.loads((case / "verified_contents.json").read_text())
    assert claims == expected


def test_conceal_makes_every_property_and_element_disclosable() -> None:
    claims = {"a": 1, "obj": {"x": [1, {"y": 2}]}, "arr": ["p", "q"]}
    digests, disclosures = conceal(claims, random.Random(7).randbytes, decoys=3)
    assert len(digests) == 3 + 3  # a, obj, arr + decoys
    assert digests == sorted(digests)
    # a, obj, obj.x, x[0], x[1], x[1].y, arr, arr[0], arr[1]
    assert len(disclosures) == 9
    assert all(len(b64url_decode(d.salt)) == SALT_BYTES >= 16 for d in disclosures)
    assert len({d.salt for d in disclosures}) == len(disclosures)
    got, landed = process({"_sd": digests}, disclosures)
    assert got == claims
    assert sorted(landed.values()) == sorted(
        [
            ("a",),
            ("obj",),
            ("obj", "x"),
            ("obj", "x", 0),
            ("obj", "x", 1),
            ("obj", "x", 1, "y"),
            ("arr",),
            ("arr", 0),
            ("arr", 1),
        ]
    )


def test_process_refuses_unknown_duplicate_and_clashing_disclosures() -> None:
    d = make_disclosure(b"\x01" * 16, "name", "value")
    other = make_disclosure(b"\x02" * 16, "name", "again")
    with pytest.raises(DisclosureMismatch):
        process({"_sd": []}, [d])
    with pytest.raises(DuplicateDisclosure, match="sent twice"):
        process({"_sd": [d.digest]}, [d, d])
    with pytest.raises(DuplicateDisclosure, match="more than once"):
        process({"_sd": [d.digest, d.digest]}, [d])
    with pytest.raises(DuplicateClaim):
        process({"_sd": [d.digest, other.digest]}, [d, other])
    with pytest.raises(DuplicateClaim):
        process({"name": "plain", "_sd": [d.digest]}, [d])
    element = make_disclosure(b"\x03" * 16, None, "x")
    with pytest.raises(MalformedPacket, match="array-element"):
        process({"_sd": [element.digest]}, [element])


def test_claim_paths_in_messages_escape_control_characters() -> None:
    # A NUL in a payload key reached the refusal record (PostgreSQL refuses NUL in text).
    with pytest.raises(MalformedPacket) as caught:
        process({"x\x00\n\u202e": {"_sd": 5}, "_sd": []}, [])
    assert caught.value.message == "_sd at /x\\x00\\n\\u202e is not an array"
    with pytest.raises(MalformedPacket, match="at /café/0 is not a string"):
        process({"café": [{"...": 5}], "_sd": []}, [])


@pytest.mark.parametrize(
    ("index", "replacement", "message"),
    [
        (0, b64url_encode(b"\x00not json"), "issuer-signed JWT header: not valid JSON"),
        (0, b64url_encode(b"[1]"), "issuer-signed JWT header: not a JSON object"),
        (0, "!!", "issuer-signed JWT header: not unpadded base64url"),
        (1, b64url_encode(b"{"), "issuer-signed JWT payload: not valid JSON"),
        (1, b64url_encode(b'"x"'), "issuer-signed JWT payload: not a JSON object"),
        (2, "!!", "issuer-signed JWT signature: not unpadded base64url"),
    ],
)
def test_decode_jws_names_the_part_that_fails(index: int, replacement: str, message: str) -> None:
    parts = [b64url_encode(b'{"alg":"EdDSA"}'), b64url_encode(b"{}"), b64url_encode(b"sig")]
    assert decode_jws(".".join(parts)).payload == {}
    parts[index] = replacement
    with pytest.raises(MalformedPacket) as caught:
        decode_jws(".".join(parts))
    assert caught.value.message.startswith(message), caught.value.message


def test_parse_disclosure_refuses_malformed() -> None:
    from clearinghouse.protocol.encoding import b64url_encode

    for bad in (["salt"], ["salt", 1, 2], [1, "n", 2], {"a": 1}, ["s", "_sd", 1], ["s", "...", 1]):
        with pytest.raises(MalformedPacket):
            parse_disclosure(b64url_encode(json.dumps(bad).encode()))
    with pytest.raises(MalformedPacket):
        parse_disclosure("!!!")


def test_compact_parse_refuses_key_binding_and_empty_parts() -> None:
    with pytest.raises(MalformedPacket, match="Key Binding"):
        CompactSdJwt.parse("a.b.c~d~kb.jwt.sig")
    with pytest.raises(MalformedPacket, match="empty"):
        CompactSdJwt.parse("a.b.c~d~~")
    with pytest.raises(MalformedPacket):
        CompactSdJwt.parse("a.b.c")
    assert CompactSdJwt.parse("a.b.c~d~e~").disclosures == ("d", "e")
