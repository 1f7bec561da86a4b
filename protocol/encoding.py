"""Byte encodings used on the wire: base64url without padding and canonical JSON.

One function turns JSON data into the bytes we sign (:func:`canonical_json`, RFC
8785 JCS through the ``rfc8785`` package); every decoder here is strict and raises
:class:`protocol.errors.EncodingError`.
"""

from __future__ import annotations

import binascii
import json
import re
from _json import encode_basestring, make_encoder
from collections.abc import Callable, Iterable
from typing import Any

import rfc8785

from clearinghouse.protocol.errors import EncodingError

__all__ = [
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "b64url_json",
    "canonical_json",
    "compact_json",
    "parse_canonical_json",
    "parse_json",
]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Bits of the last character that carry no data, by length mod 4 (1 is invalid).
_UNUSED_BITS = {0: 0, 2: 0b1111, 3: 0b11}


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4): how C2SP signed notes and checkpoints,
    and the audit log's API and bundles, write keys, hashes and signatures."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    # binascii directly: base64.urlsafe_b64encode costs twice as much (hot: three
    # calls per disclosure issued, one per disclosure verified).
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; refuse padding, other alphabets and bad lengths."""
    if (
        not isinstance(text, str)
        or len(text) % 4 == 1
        or "+" in text
        or "/" in text
        or "=" in text
        or not text.isascii()
    ):
        raise EncodingError(f"not unpadded base64url: {str(text)[:40]!r}")
    # The unused low bits of the last character must be zero (RFC 4648 §3.5), so
    # that every byte string has exactly one encoding and no flipped bit goes unseen.
    unused = _UNUSED_BITS[len(text) % 4]
    last = _ALPHABET.find(text[-1]) if unused else -1  # -1: not base64url at all
    if last >= 0 and last & unused:
        raise EncodingError(
            f"non-canonical base64url (stray bits in the last character): {text[-4:]!r}"
        )
    # Strict mode refuses every character outside the (translated) alphabet.
    padded = text.encode().translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise EncodingError(f"not unpadded base64url: {text[:40]!r} ({exc})") from exc


_SAFE_INT = 2**53 - 1
_SORTED_COMPACT = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


#: What :func:`_stdlib_verdict` finds: the stdlib's sorted compact encoding is not the
#: RFC 8785 form; it is; it is once every integral float is made an int.
_NOT_JCS, _AS_IS, _INTEGRAL_FLOATS = 0, 1, 2
#: Floats whose shortest round-trip ``repr`` has no exponent (Python switches to one
#: at a decimal exponent below -4 or from 16); non-integral ones print alike in JCS.
_FIXED_LOW, _FIXED_HIGH = 1e-4, 1e16
_EXACT_FLOAT = 2.0**53


def _stdlib_verdict(value: Any) -> tuple[int, bool]:
    r"""Whether the stdlib's sorted compact encoding of ``value`` is its RFC 8785 form,
    and whether ``value`` holds a float.

    It is when every integer is exact in a double, every key is ASCII (JCS sorts keys
    by UTF-16 code units, Python by code points: the same for ASCII), only JSON types
    occur, and every float prints as JCS prints it. Strings then encode alike: raw
    UTF-8, the two-character escapes for \b \t \n \f \r, and lowercase ``\u00xx``
    for the other control characters (a lone surrogate fails to encode and falls back).

    Floats (coordinates in most records) follow ECMAScript's Number-to-String, which
    ``rfc8785`` writes as Python's shortest round-trip ``repr`` without a trailing
    ``.0`` when that ``repr`` has no exponent. A non-integral float with
    1e-4 <= abs(f) < 1e16 has such a ``repr`` (its shortest digits round to it, so by
    monotonic rounding they lie in the same range) and no ``.0``: the C encoder's
    ``float.__repr__`` is its JCS form. An integral float below 2**53 in magnitude is
    written by JCS as the integer it equals, which is what the encoder writes for
    ``int(f)``: :data:`_INTEGRAL_FLOATS`. Every other float (an exponent, NaN,
    infinity) goes to ``rfc8785``. ``tests/protocol/test_encoding.py`` checks all
    this against ``rfc8785`` and the published JCS vectors.
    """
    verdict, floats = _AS_IS, False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -_SAFE_INT <= item <= _SAFE_INT:
                continue
            return _NOT_JCS, floats
        if kind is float:
            floats = True
            magnitude = abs(item)  # NaN fails every comparison below
            if item.is_integer():
                if magnitude < _EXACT_FLOAT:
                    verdict = _INTEGRAL_FLOATS
                    continue
            elif _FIXED_LOW <= magnitude < _FIXED_HIGH:
                continue
            return _NOT_JCS, floats
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return _NOT_JCS, floats
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return _NOT_JCS, floats
    return verdict, floats


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with each float that equals an integer replaced by that integer (JCS
    writes 35.0 as 35); only for values :func:`_stdlib_verdict` accepted."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_integral_floats_as_ints(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical form: the only bytes we ever sign for JSON documents.

    The stdlib's C encoder where it provably gives the same bytes (most documents
    here: ASCII keys, integers and floats of everyday size), the ``rfc8785`` library
    for everything else."""
    verdict, floats = _stdlib_verdict(value)
    if verdict != _NOT_JCS:
        try:
            doc = _integral_floats_as_ints(value) if verdict == _INTEGRAL_FLOATS else value
            return "".join(_sorted_compact_chunks(doc, 0)).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: let rfc8785 refuse it with its own message
        except RecursionError:
            # Nested too deeply. A document without floats always came here and met
            # the C encoder's error; one with floats went to rfc8785: it still does.
            if not floats:
                raise
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"cannot canonicalise: {exc}") from exc


def compact_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces), key order preserved; NaN and Infinity refused."""
    try:
        return "".join(_compact_chunks(value, 0)).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"not JSON data: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
#: The stdlib's C encoder (``json.encoder.c_make_encoder`` is ``_json.make_encoder``)
#: made once with _COMPACT's settings (JSONEncoder.encode builds a new one per call,
#: three times the cost of encoding a disclosure). No circular check: JSON data from
#: the wire or a record cannot be circular; if a caller's is, the RecursionError is
#: refused like any other non-JSON value.
_compact_chunks: Callable[[Any, int], Iterable[str]] = make_encoder(
    None, _COMPACT.default, encode_basestring, None, ":", ",", False, False, False
)
_sorted_compact_chunks: Callable[[Any, int], Iterable[str]] = make_encoder(
    None, _SORTED_COMPACT.default, encode_basestring, None, ":", ",", True, False, False
)
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
#: The decoder's C scanner. typeshed declares no ``JSONDecoder.scan_once``, and types
#: ``_json.make_scanner``'s argument as a scanner rather than the decoder it reads its
#: hooks from, so no typed spelling of this exists.
_SCAN: Callable[[str, int], tuple[Any, int]] = _STRICT.scan_once  # type: ignore[attr-defined]
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8 only, no NaN/Infinity, no duplicate object keys."""
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        # JSONDecoder.decode, without its Python-level wrapping (a third of the time).
        # The pattern matches the empty string, so ``match`` never gives None.
        leading = _WHITESPACE.match(data)
        start = leading.end() if leading else 0
        try:
            value, end = _SCAN(data, start)
        except StopIteration as exc:
            raise json.JSONDecodeError("Expecting value", data, exc.value) from None
        trailing = _WHITESPACE.match(data, end)
        end = trailing.end() if trailing else end
        if end != len(data):
            raise json.JSONDecodeError("Extra data", data, end)
        return value
    except (UnicodeDecodeError, ValueError) as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        # The C scanner recurses once per level; how many levels it can follow depends
        # on the Python version and on the caller's stack, so no exact number is given.
        raise EncodingError(
            "not valid JSON: nested too deeply (more levels of arrays and objects "
            "than the parser follows)"
        ) from exc


#: What the last character of unpadded base64url may be, by length mod 4, so that the
#: bits it carries beyond the data are zero (any character for 0, none for 1).
_CANONICAL_LAST = (_ALPHABET, "", "AQgw", "AEIMQUYcgkosw048")
_PADDING = (b"", b"", b"==", b"=")


def b64url_json(text: str) -> Any:
    """``parse_json(b64url_decode(text))``: the same value or the same error, faster.

    Every disclosure and JWS part is decoded this way. What we and any careful issuer
    send takes a short path: unpadded base64url (its alphabet, length and unused bits
    checked with C-level string tests and a strict ``a2b_base64``) holding JSON that the
    C scanner consumes whole from its first character. Anything else, even what is
    merely unusual (whitespace around the JSON, an error of any kind), is decoded again
    the long way, which raises the exact error. A disclosure decodes in about half the
    time of the two calls (their Python-level checks outweigh its C work).
    """
    if (
        type(text) is str
        and "+" not in text
        and "/" not in text
        and "=" not in text
        and text[-1:] in _CANONICAL_LAST[len(text) & 3]
    ):
        try:
            data = binascii.a2b_base64(
                text.encode().translate(_FROM_URLSAFE) + _PADDING[len(text) & 3],
                strict_mode=True,
            ).decode("utf-8")
            value, end = _SCAN(data, 0)
            if end == len(data):
                return value
        except (binascii.Error, ValueError, StopIteration, RecursionError):
            pass  # not the common case: the long way below gives the exact error
    return parse_json(b64url_decode(text))


def parse_canonical_json(data: bytes) -> Any:
    """Parse ``data``, which must be exactly the RFC 8785 form of what it holds.

    Raises :class:`EncodingError` for bytes that are not JSON, or JSON in another form
    (spacing, key order, escapes, number format, a repeated key). Fast for the common
    case: ASCII text without floats is re-encoded with the stdlib's C encoder."""
    unsafe = False

    def number(text: str) -> Any:
        nonlocal unsafe
        unsafe = True  # a float, or an integer JCS cannot hold exactly: the full check
        return float(text)

    def integer(text: str) -> int | float:
        nonlocal unsafe
        value = int(text)
        if -_SAFE_INT <= value <= _SAFE_INT:
            return value
        unsafe = True  # a JSON number is a double: JCS writes 2**53 as 9007199254740992
        return float(value)

    try:
        value = json.loads(
            data, parse_float=number, parse_int=integer, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"not JSON: {type(exc).__name__}: {exc}"[:300]) from exc
    if not unsafe and data.isascii():
        canonical = "".join(_sorted_compact_chunks(value, 0)).encode()
    else:
        canonical = canonical_json(value)
    if canonical != data:
        raise EncodingError("not in canonical (RFC 8785) form")
    return value
