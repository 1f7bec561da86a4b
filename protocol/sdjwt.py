"""SD-JWT mechanics (RFC 9901): disclosures, concealment, compact form, processing.

This module knows SD-JWT and nothing of Clearinghouse's claims; :mod:`protocol.packet`
builds packets on top of it. It implements:

* §4.2.1 / §4.2.2: disclosures for object properties ``[salt, name, value]`` and
  array elements ``[salt, value]``, each digest the base64url SHA-256 of the
  disclosure's ASCII form; ``_sd`` arrays sorted so their order reveals nothing;
* §4.2.4: recursive concealment (every property of every nested object and every
  element of every array gets its own disclosure) and optional decoy digests;
* §4 compact serialisation ``<JWT>~<D1>~...~<Dn>~`` (no Key Binding JWT: packets
  are not held by a wallet, so a trailing KB-JWT is refused);
* §7.1 verification steps 3-5: each disclosure's digest present exactly once,
  no digest twice, no claim name clash, no reserved names, then the processed claims
  (nested at most :data:`MAX_DEPTH` levels deep: a bound on the recursion, far above
  any record schema).

The JWS is EdDSA over Ed25519 (RFC 8037); :func:`sign_jws` and :func:`verify_jws`
are the only code that touches the signature.
"""

from __future__ import annotations

from _json import encode_basestring
from binascii import b2a_base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearinghouse.protocol.encoding import (
    b64url_decode,
    b64url_encode,
    b64url_json,
    compact_json,
)
from clearinghouse.protocol.errors import (
    DisclosureMismatch,
    DuplicateClaim,
    DuplicateDisclosure,
    EncodingError,
    MalformedPacket,
    SignatureInvalid,
)
from clearinghouse.protocol.keys import Signer

__all__ = [
    "MAX_DEPTH",
    "SD_ALG",
    "CompactSdJwt",
    "Disclosure",
    "Jws",
    "Path",
    "conceal",
    "conceal_by_claim",
    "conceal_encoded",
    "digest_of",
    "make_disclosure",
    "numeric_date",
    "parse_disclosure",
    "process",
    "process_encoded",
    "sign_jws",
    "verify_jws",
]

SD_ALG = "sha-256"
#: 144-bit salts (RFC 9901 §9.3 asks for at least 128): 18 bytes are 24 base64url
#: characters exactly, so a block of salts is drawn and encoded at once and sliced.
SALT_BYTES = 18
_SALT_CHARS = SALT_BYTES * 4 // 3
_SALTS_PER_DRAW = 64
_RESERVED_NAMES = frozenset({"_sd", "..."})
#: How deep processed claims may nest (objects and arrays, disclosed or not). Records
#: nest a few levels; the bound keeps :func:`process` far from Python's recursion limit.
MAX_DEPTH = 64

#: Where a disclosure lands: object keys and (original) array positions from the top.
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Disclosure:
    encoded: str
    digest: str
    salt: str
    name: str | None  # None for an array element
    value: Any


def digest_of(encoded: str) -> str:
    """Base64url SHA-256 of a disclosure's ASCII form (RFC 9901 §4.2.3)."""
    return _b64url_sha256(encoded.encode("ascii"))


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64url_sha256(data: bytes) -> str:
    """``b64url_encode(sha256(data).digest())``: a digest's 32 bytes are always 43
    base64 characters and one ``=``, cut off with the newline rather than stripped
    (one digest per disclosure issued or verified)."""
    return b2a_base64(sha256(data).digest())[:43].translate(_TO_URLSAFE).decode()


def make_disclosure(salt: bytes, name: str | None, value: Any) -> Disclosure:
    return Disclosure(*_disclose(b64url_encode(salt), name, value, _scalar_json(value)))


#: A disclosure as the hot paths keep it: ``(encoded, digest, salt, name, value)``, the
#: fields of :class:`Disclosure` without building one (a frozen dataclass costs three
#: times a tuple to construct, and issuing or verifying makes one per claim).
_Entry = tuple[str, str, str, str | None, Any]


def _disclose(salt_text: str, name: str | None, value: Any, value_json: str | None) -> _Entry:
    """The disclosure of ``value`` under ``name`` (None: an array element) with the salt
    ``salt_text`` (base64url). ``value_json`` is ``compact_json(value)`` as text where
    the caller knows it (:func:`_scalar_json`, or a concealed object or array), else
    None.

    With it, and a string name, the disclosure's JSON is written out: for so little
    JSON the C encoder's call, list and join cost twice the writing, and most claims
    are scalars. The salt is base64url, which JSON needs no escape for. Without it, and
    for a lone surrogate that UTF-8 refuses, ``compact_json`` writes the disclosure or
    raises its exact error."""
    data = None
    if value_json is not None and (name is None or type(name) is str):
        if name is None:
            text = f'["{salt_text}",{value_json}]'
        else:
            text = f'["{salt_text}",{encode_basestring(name)},{value_json}]'
        try:
            data = text.encode()
        except UnicodeEncodeError:
            pass
    if data is None:
        data = compact_json([salt_text, value] if name is None else [salt_text, name, value])
    encoded = b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")
    return encoded.decode(), _b64url_sha256(encoded), salt_text, name, value


#: Integers the fast path writes itself: far inside what ``repr`` converts
#: without hitting the interpreter's digit limit (the encoder's error for those).
_FAST_INT = 10**100


def _scalar_json(value: Any) -> str | None:
    """What the C encoder writes for a ``str``, ``int``, ``bool``, ``None`` or finite
    ``float`` (exactly these types, not subclasses); None for anything else."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return repr(value) if -_FAST_INT < value < _FAST_INT else None
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and value - value == 0.0:  # finite: inf - inf and NaN are NaN
        return repr(value)
    return None


def _sd_json(digests: list[str]) -> str:
    """``compact_json({"_sd": digests})`` as text for base64url digests."""
    return '{"_sd":["' + '","'.join(digests) + '"]}' if digests else '{"_sd":[]}'


def _elements_json(digests: list[str]) -> str:
    """``compact_json([{"...": d} for d in digests])`` as text for base64url digests."""
    return '[{"...":"' + '"},{"...":"'.join(digests) + '"}]' if digests else "[]"


def _draw_salts(random_bytes: Callable[[int], bytes]) -> list[str]:
    """:data:`_SALTS_PER_DRAW` salt texts, taken from the end: one ``random_bytes`` call
    and one base64 pass for all of them instead of one each (a tenth of the cost of
    issuing)."""
    block = b64url_encode(random_bytes(SALT_BYTES * _SALTS_PER_DRAW))
    return [block[i : i + _SALT_CHARS] for i in range(0, len(block), _SALT_CHARS)]


def parse_disclosure(encoded: str) -> Disclosure:
    """Decode one disclosure; raise :class:`MalformedPacket` if it is not one."""
    return Disclosure(*_parse_entry(encoded))


def _parse_entry(encoded: str) -> _Entry:
    """:func:`parse_disclosure` without the :class:`Disclosure`. A disclosure that
    decodes to ``[salt, name, value]`` or ``[salt, value]`` as it should is taken in
    one test of its form (JSON decodes to exact types only); anything else goes to
    :func:`_refuse_entry` for the exact error. The digest is taken over ``encoded``
    as UTF-8: it decoded as base64url, so that is its ASCII form."""
    try:
        items = b64url_json(encoded)
    except EncodingError as exc:
        raise MalformedPacket(f"disclosure {encoded[:16]}...: {exc}") from exc
    if type(items) is list:
        if len(items) == 3:
            salt, name, value = items
            if type(salt) is str and type(name) is str and name not in _RESERVED_NAMES:
                return encoded, _b64url_sha256(encoded.encode()), salt, name, value
        elif len(items) == 2:
            salt, value = items
            if type(salt) is str:
                return encoded, _b64url_sha256(encoded.encode()), salt, None, value
    _refuse_entry(encoded, items)


def _refuse_entry(encoded: str, items: Any) -> NoReturn:
    """Raise the :class:`MalformedPacket` that says why ``items``, decoded from
    ``encoded``, is not a disclosure."""
    if not isinstance(items, list) or len(items) not in (2, 3) or not isinstance(items[0], str):
        raise MalformedPacket(
            f"disclosure {encoded[:16]}... is not [salt, name, value] or [salt, value]"
        )
    name = items[1]
    if not isinstance(name, str):
        raise MalformedPacket(f"disclosure {encoded[:16]}... has a non-string claim name")
    raise MalformedPacket(f"disclosure {encoded[:16]}... discloses reserved name {name!r}")


def conceal(
    claims: dict[str, Any],
    random_bytes: Callable[[int], bytes],
    *,
    decoys: int = 0,
) -> tuple[list[str], list[Disclosure]]:
    """Make every claim selectively disclosable, recursively.

    Returns the top-level ``_sd`` digests (sorted, with ``decoys`` decoy digests)
    and every disclosure, children before their parents.
    """
    digests, disclosures, _ = conceal_by_claim(claims, random_bytes, decoys=decoys)
    return digests, disclosures


def conceal_by_claim(
    claims: dict[str, Any],
    random_bytes: Callable[[int], bytes],
    *,
    decoys: int = 0,
) -> tuple[list[str], list[Disclosure], dict[str, tuple[str, ...]]]:
    """Like :func:`conceal`, and also which disclosures belong to each top-level claim.

    That map lets the issuer cut a view without re-processing its packet.
    """
    top, entries, _, owners = _conceal(claims, random_bytes, decoys)
    return top, [Disclosure(*e) for e in entries], owners


def conceal_encoded(
    claims: dict[str, Any],
    random_bytes: Callable[[int], bytes],
    *,
    decoys: int = 0,
) -> tuple[list[str], list[str], dict[str, tuple[str, ...]]]:
    """:func:`conceal_by_claim` with each disclosure in its encoded form only: the same
    digests, disclosures and map from the same random bytes, without building a
    :class:`Disclosure` per claim (what issuing a packet needs)."""
    top, _, encoded, owners = _conceal(claims, random_bytes, decoys)
    return top, encoded, owners


def _conceal(
    claims: dict[str, Any], random_bytes: Callable[[int], bytes], decoys: int
) -> tuple[list[str], list[_Entry], list[str], dict[str, tuple[str, ...]]]:
    """The sorted top-level digests, every disclosure (children before their parents)
    as an entry and in its encoded form alone, and each top-level claim's encoded
    disclosures."""
    entries: list[_Entry] = []
    encoded: list[str] = []
    salts: list[str] = []

    def disclose(name: str | None, value: Any) -> str:
        """Conceal ``value`` (recursively), disclose it under ``name`` (None: as an array
        element), return the digest: :func:`_disclose` with the salt drawn first."""
        if not salts:
            salts.extend(_draw_salts(random_bytes))
        salt = salts.pop()  # drawn before the children's salts
        value_json = _scalar_json(value)
        if value_json is not None:
            pass  # a scalar, the most common claim
        elif isinstance(value, dict):
            digests = sorted([disclose(k, v) for k, v in value.items()])
            value, value_json = {"_sd": digests}, _sd_json(digests)
        elif isinstance(value, list):
            digests = [disclose(None, element) for element in value]
            value, value_json = [{"...": d} for d in digests], _elements_json(digests)
        entry = _disclose(salt, name, value, value_json)
        entries.append(entry)
        encoded.append(entry[0])
        return entry[1]

    top: list[str] = []
    owners: dict[str, tuple[str, ...]] = {}
    for name, value in claims.items():
        first = len(encoded)
        top.append(disclose(name, value))
        owners[name] = tuple(encoded[first:])
    top += [_b64url_sha256(random_bytes(32)) for _ in range(decoys)]
    return sorted(top), entries, encoded, owners


@dataclass(frozen=True)
class Jws:
    """A decoded compact JWS; its signature is not yet verified."""

    compact: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def sign_jws(header: dict[str, Any], payload: dict[str, Any], key: Signer) -> str:
    signing_input = (
        b64url_encode(compact_json(header)) + "." + b64url_encode(compact_json(payload))
    ).encode("ascii")
    return signing_input.decode("ascii") + "." + b64url_encode(key.sign(signing_input))


def decode_jws(compact: str) -> Jws:
    """Split and decode a compact JWS (RFC 7515 §7.1) without verifying it.

    Raises :class:`MalformedPacket` naming the part that fails (header, payload or
    signature): not base64url, not JSON, or not a JSON object.
    """
    parts = compact.split(".")
    if len(parts) != 3:
        raise MalformedPacket(f"issuer-signed JWT has {len(parts)} parts, a JWS has 3")
    header = _json_object(parts[0], "header")
    payload = _json_object(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except EncodingError as exc:
        raise MalformedPacket(f"issuer-signed JWT signature: {exc}") from exc
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return Jws(compact, header, payload, signing_input, signature)


def _json_object(part: str, name: str) -> dict[str, Any]:
    """One base64url JSON part of a JWS, which must be an object."""
    try:
        value = b64url_json(part)
    except EncodingError as exc:
        raise MalformedPacket(f"issuer-signed JWT {name}: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedPacket(f"issuer-signed JWT {name}: not a JSON object")
    return value


def numeric_date(value: object, claim: str) -> datetime:
    """A JWT NumericDate claim (RFC 7519 §2: seconds since the epoch) as a UTC datetime.

    Raises :class:`MalformedPacket` for anything but an integer (a boolean, a float) and
    for an instant a datetime cannot hold (before year 1, after year 9999).
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPacket(f"{claim!r} is not an integer timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedPacket(
            f"{claim!r} {str(value)[:24]} is outside the years 1 to 9999"
        ) from exc


def verify_jws(jws: Jws, key: Ed25519PublicKey) -> None:
    """Check the EdDSA signature; raise :class:`SignatureInvalid`."""
    if jws.header.get("alg") != "EdDSA":
        raise SignatureInvalid(f"JWS alg is {jws.header.get('alg')!r}; only EdDSA is accepted")
    try:
        key.verify(jws.signature, jws.signing_input)
    except InvalidSignature as exc:
        raise SignatureInvalid("issuer signature does not verify over the JWT") from exc


@dataclass(frozen=True)
class CompactSdJwt:
    """``<JWT>~<D1>~...~<Dn>~`` split into its parts (RFC 9901 §4)."""

    jwt: str
    disclosures: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> CompactSdJwt:
        if not isinstance(text, str) or not text.isascii():
            raise MalformedPacket("an SD-JWT is ASCII text")
        text = text.strip()
        parts = text.split("~")
        if len(parts) < 2:
            raise MalformedPacket("not an SD-JWT: no '~' after the issuer-signed JWT")
        if parts[-1] != "":
            raise MalformedPacket("SD-JWT ends with a Key Binding JWT; packets carry none")
        if "" in parts[1:-1]:
            raise MalformedPacket("SD-JWT has an empty disclosure ('~~')")
        return cls(parts[0], tuple(parts[1:-1]))

    def serialize(self) -> str:
        # jwt~d1~...~dn~ in one join: a string per disclosure cost three times as much
        return "~".join((self.jwt, *self.disclosures, ""))

    def with_disclosures(self, disclosures: Iterable[str]) -> CompactSdJwt:
        return CompactSdJwt(self.jwt, tuple(disclosures))


def process(
    payload: dict[str, Any], disclosures: Iterable[Disclosure]
) -> tuple[dict[str, Any], dict[str, Path]]:
    """RFC 9901 §7.1 steps 3-5: replace digests with the disclosed claims.

    Returns the processed claims (``_sd``, ``_sd_alg`` and undisclosed array
    elements removed) and, for every disclosure digest, the path it landed at.
    Raises :class:`DuplicateDisclosure`, :class:`DisclosureMismatch`,
    :class:`DuplicateClaim` or :class:`MalformedPacket` (also for claims nested deeper
    than :data:`MAX_DEPTH`).
    """
    entries = [(d.encoded, d.digest, d.salt, d.name, d.value) for d in disclosures]
    return _process(payload, _by_digest(entries))


def process_encoded(
    payload: dict[str, Any], encoded: Iterable[str]
) -> tuple[dict[str, Any], list[Path]]:
    """:func:`parse_disclosure` on each of ``encoded``, then :func:`process`: the same
    claims and the same errors, with the path each disclosure landed at in the order
    given. Verifying a packet takes this way, which builds no :class:`Disclosure`."""
    entries = [_parse_entry(e) for e in encoded]
    claims, landed = _process(payload, _by_digest(entries))
    return claims, [landed[e[1]] for e in entries]


def _by_digest(entries: list[_Entry]) -> dict[str, _Entry]:
    """``entries`` by digest; raise :class:`DuplicateDisclosure` for the first one sent
    again (looked for only when the index came out short)."""
    by_digest = {e[1]: e for e in entries}
    if len(by_digest) != len(entries):
        seen: set[str] = set()
        for e in entries:
            if e[1] in seen:
                raise DuplicateDisclosure(f"disclosure {e[0][:16]}... is sent twice")
            seen.add(e[1])
    return by_digest


#: ``dict | list`` as a tuple: ``isinstance`` with the ``|`` spelling builds the union
#: at every call, and ``_process`` asks once per claim.
_CONTAINERS = (dict, list)


def _process(
    payload: dict[str, Any], by_digest: dict[str, _Entry]
) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`process` on disclosures indexed by their digests.

    A scalar is placed without a call to ``walk`` where ``walk`` would return it as it
    is (it is not nested too deep), and ``use`` is inlined for ``_sd`` arrays: most
    claims are scalars and most digests in a view are withheld claims', and the calls
    were a fifth of the time taken to process a view.
    """
    seen: set[str] = set()
    landed: dict[str, Path] = {}

    def use(digest: Any, path: Path) -> _Entry | None:
        if not isinstance(digest, str):
            raise MalformedPacket(f"digest at {_show(path)} is not a string")
        if digest in seen:
            raise DuplicateDisclosure(f"digest {digest} appears more than once in the payload")
        seen.add(digest)
        return by_digest.get(digest)

    def walk(value: Any, path: Path) -> Any:
        if len(path) > MAX_DEPTH:
            raise MalformedPacket(f"claims nest deeper than {MAX_DEPTH} levels at {_show(path)}")
        if isinstance(value, dict):
            return walk_object(value, path)
        if isinstance(value, list):
            out = []
            for index, element in enumerate(value):
                if isinstance(element, dict) and set(element) == {"..."}:
                    d = use(element["..."], (*path, index))
                    if d is None:
                        continue  # an element withheld from this view, or a decoy
                    landed[d[1]] = (*path, index)
                    if d[3] is not None:
                        raise MalformedPacket(
                            f"array element at {_show((*path, index))} points to an "
                            f"object-property disclosure ({d[3]!r})"
                        )
                    out.append(walk(d[4], (*path, index)))
                else:
                    out.append(walk(element, (*path, index)))
            return out
        return value

    def walk_object(obj: dict[str, Any], path: Path) -> dict[str, Any]:
        deep = len(path) >= MAX_DEPTH  # a child here is too deep for walk
        out = {}
        for k, v in obj.items():
            if k != "_sd" and k != "_sd_alg":
                out[k] = walk(v, (*path, k)) if deep or isinstance(v, _CONTAINERS) else v
        digests = obj.get("_sd", [])
        if not isinstance(digests, list):
            raise MalformedPacket(f"_sd at {_show(path)} is not an array")
        for digest in digests:
            # use(digest, path), inline: most digests in a view are withheld claims'.
            if not isinstance(digest, str):
                raise MalformedPacket(f"digest at {_show(path)} is not a string")
            if digest in seen:
                raise DuplicateDisclosure(f"digest {digest} appears more than once in the payload")
            seen.add(digest)
            d = by_digest.get(digest)
            if d is None:
                continue
            name, value = d[3], d[4]
            if name is None:
                raise MalformedPacket(f"_sd at {_show(path)} points to an array-element disclosure")
            if name in out:
                raise DuplicateClaim(f"claim {_show((*path, name))} is disclosed twice")
            landed[digest] = (*path, name)
            out[name] = (
                walk(value, (*path, name)) if deep or isinstance(value, _CONTAINERS) else value
            )
        return out

    claims = walk_object(payload, ())
    _check_every_disclosure_landed(by_digest, landed)
    return claims, landed


def _check_every_disclosure_landed(by_digest: dict[str, _Entry], landed: dict[str, Path]) -> None:
    """Raise :class:`DisclosureMismatch` if a disclosure matches no digest in the payload."""
    unused = [e for digest, e in by_digest.items() if digest not in landed]
    if unused:
        raise DisclosureMismatch(
            f"{len(unused)} disclosure(s) match no digest in the signed payload "
            f"(first: {unused[0][0][:16]}...)"
        )


def _show(path: Path) -> str:
    """A claim path for a message, each non-printable character (a NUL, a newline, a
    bidi override: a JSON key may hold any) escaped as in a Python literal."""
    return "/" + "/".join(_escape(str(p)) for p in path)


def _escape(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
