"""JCS (RFC 8785) against the published vectors, and strict base64url / JSON."""

from __future__ import annotations

import csv
import struct

import pytest

from protocol.encoding import b64url_decode, b64url_encode, canonical_json, parse_json
from protocol.errors import EncodingError
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
