"""SD-JWT mechanics against RFC 9901's examples and the reference implementation's cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, parse_json
from clearinghouse.protocol.errors import (
    DisclosureMismatch,
    DuplicateClaim,
    DuplicateDisclosure,
    MalformedPacket,
    ProtocolError,
)
from clearinghouse.protocol.sdjwt import (
    SALT_BYTES,
    CompactSdJwt,
    conceal,
    conceal_by_claim,
    conceal_encoded,
    decode_jws,
    digest_of,
    make_disclosure,
    parse_disclosure,
    process,
    process_encoded,
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


# -- the fast paths against the reference forms -------------------------------------------

_claim_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)
_claims = st.dictionaries(st.text(max_size=6), _claim_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(_claims, st.integers(0, 3), st.integers(0, 2**32))
def test_conceal_encoded_is_conceal_by_claim(claims: dict, decoys: int, seed: int) -> None:
    top, disclosures, owners = conceal_by_claim(
        claims, random.Random(seed).randbytes, decoys=decoys
    )
    assert conceal_encoded(claims, random.Random(seed).randbytes, decoys=decoys) == (
        top,
        [d.encoded for d in disclosures],
        owners,
    )
    for d in disclosures:  # and each disclosure is what make_disclosure would write
        again = make_disclosure(b64url_decode(d.salt), d.name, d.value)
        assert again == d


def _outcome(call: object) -> tuple[str, object]:
    try:
        return "value", call()  # type: ignore[operator]
    except ProtocolError as exc:
        return type(exc).__name__, exc.message


@st.composite
def _presentations(draw: st.DrawFn) -> tuple[dict, list[str]]:
    """A concealed payload and its disclosures, perhaps damaged: some withheld, repeated,
    reordered, replaced by odd text or by other disclosures, or the payload's digests
    shuffled into other places."""
    claims = draw(_claims)
    top, disclosures, _ = conceal_by_claim(claims, random.Random(draw(st.integers())).randbytes)
    encoded = [d.encoded for d in disclosures]
    payload: dict = {"iss": "x", "_sd": top}
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "repeat", "swap", "odd", "foreign", "digest"]))
        if action == "drop" and encoded:
            encoded.pop(draw(st.integers(0, len(encoded) - 1)))
        elif action == "repeat" and encoded:
            encoded.append(draw(st.sampled_from(encoded)))
        elif action == "swap" and len(encoded) > 1:
            i, j = draw(st.permutations(range(len(encoded))))[:2]
            encoded[i], encoded[j] = encoded[j], encoded[i]
        elif action == "odd":
            text = draw(
                st.sampled_from(
                    ['["s","_sd",1]', '["s",1,2]', "[1,2]", '["s"]', "{}", ' ["s",2]', '["s",2] ']
                )
                | st.text(max_size=8)
            )
            encoded.append(b64url_encode(text.encode("utf-8", "surrogatepass")))
        elif action == "foreign":
            name = draw(st.none() | st.sampled_from(["iss", "a", ""]))
            encoded.append(make_disclosure(b"\x05" * 16, name, draw(_claim_values)).encoded)
        elif action == "digest" and encoded:
            where = draw(st.sampled_from(["_sd", "list", "plain"]))
            digest = digest_of(draw(st.sampled_from(encoded)))
            if where == "_sd":
                payload["_sd"] = [*payload["_sd"], digest]
            else:
                payload["z"] = [{"...": digest}] if where == "list" else {"_sd": [digest, 5]}
    return payload, encoded


@settings(max_examples=500, deadline=None)
@given(_presentations())
def test_process_encoded_is_parse_disclosure_then_process(case: tuple[dict, list[str]]) -> None:
    """The same claims and paths, or the same error, as the two public steps it fuses."""
    payload, encoded = case

    def reference() -> tuple[dict, list]:
        disclosures = [parse_disclosure(e) for e in encoded]
        claims, landed = process(payload, disclosures)
        return claims, [landed[d.digest] for d in disclosures]

    assert _outcome(lambda: process_encoded(payload, encoded)) == _outcome(reference)
