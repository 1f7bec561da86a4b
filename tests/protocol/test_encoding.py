"""JCS (RFC 8785) against the published vectors, and strict base64url / JSON."""

from __future__ import annotations

import csv
import json
import math
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.protocol import encoding
from clearinghouse.protocol.encoding import (
    b64url_decode,
    b64url_encode,
    b64url_json,
    canonical_json,
    parse_canonical_json,
    parse_json,
)
from clearinghouse.protocol.errors import EncodingError
from tests.support import VECTORS

JCS = VECTORS / "jcs-rfc8785"


@pytest.mark.parametrize("name", sorted(p.name for p in (JCS / "input").glob("*.json")))
def test_jcs_vectors(name: str) -> None:
    value = parse_json((JCS / "input" / name).read_bytes())
    assert canonical_json(value) == (JCS / "output" / name).read_bytes()


def _appendix_b_rows() -> list[dict[str, str]]:
    with (JCS / "rfc8785_appendix_b_numbers.csv").open() as fh:
        return [row for row in csv.DictReader(fh) if row.get("ieee754_hex")]


@pytest.mark.parametrize("row", _appendix_b_rows(), ids=lambda r: r["ieee754_hex"])
def test_jcs_appendix_b_numbers(row: dict[str, str]) -> None:
    value = struct.unpack(">d", bytes.fromhex(row["ieee754_hex"]))[0]
    if row["expected"] == "ERROR":
        with pytest.raises(EncodingError):
            canonical_json(value)
    else:
        assert canonical_json(value) == row["expected"].encode()


def test_b64url_round_trip_and_strictness() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    for bad in ("-_8=", "+/8", "a", "é"):
        with pytest.raises(EncodingError):
            b64url_decode(bad)


def test_parse_json_refuses_duplicates_and_constants() -> None:
    with pytest.raises(EncodingError, match="duplicate key"):
        parse_json('{"a": 1, "a": 2}')
    with pytest.raises(EncodingError):
        parse_json("[NaN]")
    with pytest.raises(EncodingError):
        parse_json(b"\xff")


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_parse_json_says_a_too_deep_document_is_nested_too_deeply(opener: str) -> None:
    with pytest.raises(EncodingError) as caught:
        parse_json(opener * 100_000)
    assert caught.value.message.startswith("not valid JSON: nested too deeply")
    assert "recursion" not in caught.value.message
    shallow = parse_json("[" * 100 + "]" * 100)  # far from the limit: parsed
    for _ in range(99):
        (shallow,) = shallow
    assert shallow == []


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=2000, deadline=None)
@given(_json_values)
def test_canonical_json_is_exactly_rfc8785(value: object) -> None:
    """The stdlib fast path never gives other bytes than the ``rfc8785`` library."""
    _assert_as_rfc8785(value)


def _assert_as_rfc8785(value: object) -> None:
    """``canonical_json(value)`` gives ``rfc8785``'s bytes, or refuses what it refuses."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        with pytest.raises(EncodingError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"b": "\x00\x1f\x7f\u2028\ud7ff\ue000\U0001f600", "a": [1, -(2**53) + 1, 2**53 - 1]},
        {"\u00e9": 1, "z": 2, "\U0001f600": 3, "\ue000": 4},  # non-ASCII keys: library path
        {"f": 1.0, "g": 1e21, "h": -0.0},  # integral floats; one beyond the fast path
        ['\b\t\n\f\r"\\/'],
    ],
)
def test_canonical_json_edge_cases_match_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=1000, deadline=None)
@given(_json_values)
def test_parse_canonical_json_takes_exactly_the_rfc8785_bytes(value: object) -> None:
    try:
        canonical = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return
    assert parse_canonical_json(canonical) == value
    for other in (b" " + canonical, canonical + b"\n"):
        with pytest.raises(EncodingError, match=r"canonical|not JSON"):
            parse_canonical_json(other)


@pytest.mark.parametrize(
    "data",
    [b'{"b":1,"a":2}', b'{"a":1,"a":1}', b'{"a":1.0}', b'{"a":-0}', b'["\\u0041"]', b"[1e2]"],
)
def test_parse_canonical_json_refuses_other_forms(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_canonical_json(data)


# -- the fast paths against the reference forms -------------------------------------------

#: Floats where the fixed-point ``repr``, the integral and the exponent forms meet.
_FLOAT_EDGES = [
    0.0,
    -0.0,
    5e-324,
    1e-7,
    9.999999999999999e-05,
    1e-4,
    1.0000000000000002e-4,
    0.5,
    1.0,
    35.0,
    34.802462,
    123456789012345.67,
    2.0**52 + 0.5,
    2.0**53 - 1,
    2.0**53,
    9999999999999998.0,
    1e16,
    1e21,
    1.7976931348623157e308,
    math.inf,
    math.nan,
]


@settings(max_examples=3000, deadline=None)
@given(st.floats() | st.sampled_from(_FLOAT_EDGES), st.booleans())
def test_canonical_json_writes_every_float_as_rfc8785(value: float, negate: bool) -> None:
    value = -value if negate else value
    for doc in (value, [value], {"lat": value, "n": [1, {"x": value}]}):
        _assert_as_rfc8785(doc)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(_FLOAT_EDGES[:-2]))
def test_the_float_fast_path_covers_what_it_claims(value: float) -> None:
    """Where ``_stdlib_verdict`` takes a float, ``repr`` has no exponent (the premise of
    the proof in its docstring); coordinates and integral values of everyday size are
    taken."""
    verdict, floats = encoding._stdlib_verdict([value])
    assert floats
    fixed = "e" not in repr(value)
    if verdict != encoding._NOT_JCS:
        assert fixed
    if value.is_integer():
        assert (verdict == encoding._INTEGRAL_FLOATS) == (abs(value) < 2**53)
    else:
        assert (verdict == encoding._AS_IS) == (1e-4 <= abs(value) < 1e16) == fixed


def test_canonical_json_of_records_with_coordinates_does_not_need_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = {"latitude": 34.802462, "longitude": 36.0, "deaths": {"best": 4}, "place": "Teir Maaleh"}
    expected = rfc8785.dumps(doc)

    def refuse(value: object) -> bytes:
        raise AssertionError("rfc8785 called")

    monkeypatch.setattr(encoding.rfc8785, "dumps", refuse)
    assert (
        canonical_json(doc)
        == expected
        == b'{"deaths":{"best":4},"latitude":34.802462,'
        + (b'"longitude":36,"place":"Teir Maaleh"}')
    )


def _outcome(call: object) -> tuple[str, object]:
    try:
        return "value", call()  # type: ignore[operator]
    except EncodingError as exc:
        return "error", exc.message


_base64url_texts = (
    st.text()
    | st.text(st.sampled_from("AQgwEIMZaz09-_+/= \n~"))
    | st.binary().map(b64url_encode)
    | st.binary().map(lambda b: b64url_encode(b) + "=")
    | st.text().map(lambda t: b64url_encode(t.encode("utf-8", "surrogatepass")))
    | _json_values.map(
        lambda v: b64url_encode(json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    )
    | st.tuples(
        _json_values, st.sampled_from(["", " ", "\n", "\t", "\r\n", "x"]), st.booleans()
    ).map(
        lambda t: b64url_encode(
            ((t[1] if t[2] else "") + json.dumps(t[0]) + t[1]).encode("utf-8", "surrogatepass")
        )
    )
)


@settings(max_examples=3000, deadline=None)
@given(_base64url_texts)
def test_b64url_json_is_exactly_decode_then_parse(text: str) -> None:
    """The same value, or the same error message, as the two steps it fuses."""
    assert _outcome(lambda: b64url_json(text)) == _outcome(lambda: parse_json(b64url_decode(text)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A",
        "AB",
        "AQ",
        "AR",  # a stray bit in the last character
        "ABC",
        "ABE",
        "WzFd",  # [1]
        "IFsxXSA",  # " [1] "
        "WzFdWzJd",  # [1][2]
        "WzFd=",
        "Wz+d",
        "WzFd\n",
        "W\u00e9Fd",
        b64url_encode(b"[" * 100_000),
        b64url_encode(b'{"a":1,"a":2}'),
        b64url_encode(b"[NaN]"),
        b64url_encode(b"\xff"),
    ],
)
def test_b64url_json_edge_cases(text: str) -> None:
    assert _outcome(lambda: b64url_json(text)) == _outcome(lambda: parse_json(b64url_decode(text)))
