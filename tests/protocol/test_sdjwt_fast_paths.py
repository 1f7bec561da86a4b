"""The hand-written fast paths of issuing and verifying against the general forms they
stand in for: the same bytes, digests and ``_sd`` arrays, the same errors.

Each reference below is the code the fast path replaced, kept here verbatim in what
it does: ``compact_json`` for every disclosure, ``b64url_encode`` of ``hashlib``'s
digest, ``uuid.UUID`` for packet ids, one ``isinstance`` after another to parse a
disclosure.
"""

from __future__ import annotations

import enum
import hashlib
import math
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.encoding import (
    _compact_chunks,
    b64url_encode,
    b64url_json,
    compact_json,
)
from clearinghouse.protocol.errors import (
    DuplicateDisclosure,
    EncodingError,
    MalformedPacket,
    ProtocolError,
)
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.sdjwt import (
    _by_digest,
    _disclose,
    _elements_json,
    _parse_entry,
    _scalar_json,
    _sd_json,
    conceal_by_claim,
    conceal_encoded,
    digest_of,
    make_disclosure,
)

# -- references: the general forms ------------------------------------------------------


def _reference_digest(encoded: str) -> str:
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


def _reference_disclose(salt_text: str, name: Any, value: Any) -> tuple[Any, ...]:
    encoded = b64url_encode(
        compact_json([salt_text, value] if name is None else [salt_text, name, value])
    )
    return encoded, _reference_digest(encoded), salt_text, name, value


def _reference_conceal(
    claims: dict[Any, Any], random_bytes: Callable[[int], bytes], decoys: int
) -> tuple[list[str], list[tuple[Any, ...]], dict[Any, tuple[str, ...]]]:
    """``_conceal`` as it was: every disclosure through ``compact_json``."""
    entries: list[tuple[Any, ...]] = []
    salts: list[str] = []

    def disclose(name: Any, value: Any) -> str:
        if not salts:
            block = b64url_encode(random_bytes(18 * 64))
            salts.extend(block[i : i + 24] for i in range(0, len(block), 24))
        salt = salts.pop()
        if isinstance(value, dict):
            value = {"_sd": sorted([disclose(k, v) for k, v in value.items()])}
        elif isinstance(value, list):
            value = [{"...": disclose(None, element)} for element in value]
        entry = _reference_disclose(salt, name, value)
        entries.append(entry)
        return str(entry[1])

    top: list[str] = []
    owners: dict[Any, tuple[str, ...]] = {}
    for name, value in claims.items():
        first = len(entries)
        top.append(disclose(name, value))
        owners[name] = tuple([e[0] for e in entries[first:]])
    top += [b64url_encode(hashlib.sha256(random_bytes(32)).digest()) for _ in range(decoys)]
    return sorted(top), entries, owners


def _reference_parse_entry(encoded: str) -> tuple[Any, ...]:
    try:
        items = b64url_json(encoded)
    except EncodingError as exc:
        raise MalformedPacket(f"disclosure {encoded[:16]}...: {exc}") from exc
    if not isinstance(items, list) or len(items) not in (2, 3) or not isinstance(items[0], str):
        raise MalformedPacket(
            f"disclosure {encoded[:16]}... is not [salt, name, value] or [salt, value]"
        )
    if len(items) == 3:
        name = items[1]
        if not isinstance(name, str):
            raise MalformedPacket(f"disclosure {encoded[:16]}... has a non-string claim name")
        if name in ("_sd", "..."):
            raise MalformedPacket(f"disclosure {encoded[:16]}... discloses reserved name {name!r}")
        return encoded, _reference_digest(encoded), items[0], name, items[2]
    return encoded, _reference_digest(encoded), items[0], None, items[1]


def _reference_uuid7(now: datetime, random_bytes: Callable[[int], bytes]) -> str:
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(random_bytes(10), "big")
    rand_a = rand >> 68 & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", call()
    except (ProtocolError, EncodingError, ValueError) as exc:
        return type(exc).__name__, str(exc)


# -- strategies: JSON values at their edges, and what is not JSON ---------------------------

#: Any code point, lone surrogates included (UTF-8 refuses them: an error path).
_any_text = st.text(st.characters(exclude_categories=()), max_size=8)
_edgy_text = st.sampled_from(
    ['"', "\\", "\n", "\x00", "\x1f", "\x7f", "é", "名前", "\u2028", "😀", "\ud800", "_sd", "..."]
)
_names = _any_text | _edgy_text
_floats = st.floats() | st.sampled_from(
    [-0.0, 0.0, 1e16, 1e-5, 1.5e300, -2.5e-300, 5e-324, 1e22, 123456789012345680.0]
)
_ints = (
    st.integers()
    | st.integers(-(2**80), 2**80)
    | st.sampled_from([10**99, -(10**99), 10**100, -(10**100), 2**53, -(2**53)])
    # beyond the interpreter's 4,300 digits for int-to-text: the encoder's error
    | st.sampled_from([1, -1]).map(lambda sign: sign * 10**4400)
)
_scalars = st.none() | st.booleans() | _ints | _floats | _names
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(_names, children, max_size=3)
        | st.tuples(children)  # not JSON's own type: the general path
    ),
    max_leaves=10,
)
_claims = st.dictionaries(_names, _values, max_size=5)
_salt_texts = st.binary(min_size=1, max_size=24).map(b64url_encode)
_digests = st.lists(st.binary(min_size=32, max_size=32).map(b64url_encode), max_size=5)


# -- issuing ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(_scalars | _values)
@example(float("nan"))
@example(float("-inf"))
@example(True)
def test_scalar_json_is_what_compact_json_writes(value: Any) -> None:
    """Written out for exactly a str, bool, None, finite float or int of fewer than 100
    digits (the C encoder's text, a lone surrogate included), left to it otherwise."""
    text = _scalar_json(value)
    kind = type(value)
    fast = (
        kind in (str, bool, type(None))
        or (kind is float and math.isfinite(value))
        or (kind is int and abs(value) < 10**100)
    )
    assert (text is not None) == fast
    if text is not None:
        assert text == "".join(_compact_chunks(value, 0))


@settings(max_examples=500, deadline=None)
@given(_salt_texts, st.none() | _names | st.integers(), _values)
@example("c2FsdA", "n", float("nan"))
@example("c2FsdA", None, float("inf"))
@example("c2FsdA", "\ud800", 1)
@example("c2FsdA", "n", "\udfff")
@example("c2FsdA", 7, -0.0)
def test_a_disclosure_is_byte_identical_to_compact_json(salt: str, name: Any, value: Any) -> None:
    """The same encoded disclosure and digest, or the same error, with the value's JSON
    known (a scalar) or not (the general path)."""
    expected = _outcome(lambda: _reference_disclose(salt, name, value))
    assert _outcome(lambda: _disclose(salt, name, value, _scalar_json(value))) == expected
    assert _outcome(lambda: _disclose(salt, name, value, None)) == expected


class _Text(str):
    pass


class _Real(float):
    pass


class _Level(enum.IntEnum):
    LOW = 1


@pytest.mark.parametrize(
    "value",
    [_Text("x"), _Level.LOW, _Real(2.5), ("t", 1)],
    ids=["str-subclass", "int-enum", "float-subclass", "tuple"],
)
def test_other_types_take_the_general_path(value: Any) -> None:
    """Subclasses of JSON's scalar types (the encoder writes them by their base type's
    rules) are left to ``compact_json``: the same bytes."""
    assert _scalar_json(value) is None
    assert _disclose("c2FsdA", "n", value, None) == _reference_disclose("c2FsdA", "n", value)
    concealed = conceal_by_claim({"n": value}, random.Random(1).randbytes)
    assert [d.encoded for d in concealed[1]] == [
        e[0] for e in _reference_conceal({"n": value}, random.Random(1).randbytes, 0)[1]
    ]


@given(_digests)
def test_concealed_object_and_array_json_is_compact_json(digests: list[str]) -> None:
    assert _sd_json(digests).encode() == compact_json({"_sd": digests})
    assert _elements_json(digests).encode() == compact_json([{"...": d} for d in digests])


@settings(max_examples=500, deadline=None)
@given(_claims, st.integers(0, 3), st.integers(0, 2**32))
def test_conceal_is_byte_identical_to_the_general_path(
    claims: dict, decoys: int, seed: int
) -> None:
    """The same ``_sd`` digests, disclosures and map per claim from the same random bytes,
    or the same error."""
    expected = _outcome(lambda: _reference_conceal(claims, random.Random(seed).randbytes, decoys))
    got = _outcome(lambda: conceal_by_claim(claims, random.Random(seed).randbytes, decoys=decoys))
    if expected[0] != "value":
        assert got == expected
        return
    top, entries, owners = expected[1]
    assert got[0] == "value"
    got_top, disclosures, got_owners = got[1]
    assert (got_top, got_owners) == (top, owners)
    assert [(d.encoded, d.digest, d.salt, d.name, d.value) for d in disclosures] == entries
    assert conceal_encoded(claims, random.Random(seed).randbytes, decoys=decoys) == (
        top,
        [e[0] for e in entries],
        owners,
    )


@given(st.binary(min_size=16, max_size=32), st.none() | _names, _values)
def test_make_disclosure_is_the_general_form(salt: bytes, name: Any, value: Any) -> None:
    expected = _outcome(lambda: _reference_disclose(b64url_encode(salt), name, value))
    got = _outcome(lambda: make_disclosure(salt, name, value))
    if expected[0] == "value":
        d = got[1]
        assert (d.encoded, d.digest, d.salt, d.name, d.value) == expected[1]
    else:
        assert got == expected


_instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
) | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30))]))


@settings(max_examples=500)
@given(_instants, st.binary(min_size=10, max_size=10))
def test_uuid7_is_the_uuid_module_s_string(now: datetime, rand: bytes) -> None:
    def draw(n: int) -> bytes:
        assert n == 10
        return rand

    assert uuid7(now, draw) == _reference_uuid7(now, draw)


# -- verifying ----------------------------------------------------------------------------


@st.composite
def _encoded_disclosures(draw: st.DrawFn) -> str:
    """A disclosure as issued, or JSON of another form, or text that is not base64url."""
    kind = draw(st.sampled_from(["issued", "json", "text"]))
    if kind == "issued":
        salt = b64url_encode(draw(st.binary(min_size=16, max_size=18)))
        name, value = draw(st.none() | _names), draw(_values)
        issued = _outcome(lambda: _reference_disclose(salt, name, value))
        assume(issued[0] == "value")
        return str(issued[1][0])
    if kind == "json":
        items = draw(
            st.lists(_scalars | st.lists(_scalars, max_size=2), max_size=4)
            | _scalars
            | st.dictionaries(_names, _scalars, max_size=2)
        )
        text = _outcome(lambda: compact_json(items))
        data = text[1] if text[0] == "value" else b"[1,2"
        return b64url_encode(data)
    return draw(st.text(max_size=12) | _edgy_text)


@settings(max_examples=800, deadline=None)
@given(_encoded_disclosures())
@example(b64url_encode(b'["s","_sd",1]'))
@example(b64url_encode(b'["s","...",1]'))
@example(b64url_encode(b'["s",1,2]'))
@example(b64url_encode(b'[1,"a",2]'))
@example(b64url_encode(b"[1,2]"))
@example(b64url_encode(b'["s"]'))
@example(b64url_encode(b'{"a":1}'))
@example(b64url_encode(b' ["s",2]'))
def test_parse_entry_is_the_general_parse(encoded: str) -> None:
    assert _outcome(lambda: _parse_entry(encoded)) == _outcome(
        lambda: _reference_parse_entry(encoded)
    )


@given(_encoded_disclosures())
def test_digest_of_is_b64url_sha256(encoded: str) -> None:
    assert _outcome(lambda: digest_of(encoded)) == _outcome(lambda: _reference_digest(encoded))


def test_digest_of_refuses_non_ascii_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        digest_of("é")


def test_a_disclosure_sent_twice_is_named_by_its_first_repeat() -> None:
    a, b, c = (make_disclosure(bytes([i]) * 16, "n", i) for i in range(3))
    entries = [(d.encoded, d.digest, d.salt, d.name, d.value) for d in (a, b, c, b, a)]
    with pytest.raises(DuplicateDisclosure, match=f"disclosure {b.encoded[:16]}"):
        _by_digest(entries)
    assert list(_by_digest(entries[:3])) == [a.digest, b.digest, c.digest]
