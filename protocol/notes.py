"""C2SP signed notes, tlog checkpoints and Ed25519 tlog cosignatures.

- signed-note v1.0.0 (https://c2sp.org/signed-note): a text ending in a newline,
  a blank line, then lines ``— <key name> <base64(key id || signature)>``; key id =
  SHA-256(name || 0x0A || type || public key)[:4]; verifier keys ("vkeys") read
  ``<name>+<hex key id>+<base64(type || public key)>``; type 0x01 is Ed25519.
- tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint): the text
  ``<origin>\n<tree size>\n<base64 root hash>\n`` plus optional extension lines.
- tlog-cosignature v1.0.1 (https://c2sp.org/tlog-cosignature), ``cosignature/v1``
  (type 0x04): Ed25519 over ``cosignature/v1\ntime <t>\n`` + the checkpoint text,
  sent as key id || 8-byte big-endian timestamp || 64-byte signature.

Lines whose (name, key id) match no known key are ignored; a failing line by a known
key (:class:`NoteSignatureInvalid`) or no known signer (:class:`NoteUnverified`)
rejects the note. Time is a parameter (the cosignature timestamp), never read here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clearinghouse.protocol.encoding import b64_encode
from clearinghouse.protocol.errors import (
    CheckpointMalformed,
    KeyUnusable,
    NoteMalformed,
    NoteSignatureInvalid,
    NoteUnverified,
)
from clearinghouse.protocol.keys import Signer

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Kind",
    "Note",
    "NoteSignature",
    "VerifiedSignature",
    "Verifier",
    "add_signatures",
    "checkpoint_text",
    "cosign",
    "cosignature_vkey",
    "ed25519_vkey",
    "parse_checkpoint",
    "parse_note",
    "parse_vkey",
    "sign_note",
    "verify_cosignature",
    "verify_note",
]

ED25519 = 0x01  # signed-note signature type: Ed25519 over the note text
COSIGNATURE_V1 = 0x04  # tlog-cosignature: timestamped Ed25519 witness cosignature
MAX_SIGNATURES = 100  # the spec asks for at least 16; Go's sumdb/note allows 100
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_TIMESTAMP, _MAX_TREE_SIZE = 2**63 - 1, 2**64 - 1  # cosignature u63, RFC 9162 u64
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # 2^64 - 1 has 20 digits
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
# Control characters but newline, and lone surrogates (a str that is not UTF-8).
_NOT_TEXT = re.compile(r"[\x00-\x09\x0b-\x1f\ud800-\udfff]")
_NAME = re.compile(r"[^\s+\x00-\x1f\ud800-\udfff]+")  # no Unicode space, '+' or control

Kind = Literal["ed25519", "cosignature/v1"]
_KINDS: dict[int, Kind] = {ED25519: "ed25519", COSIGNATURE_V1: "cosignature/v1"}


@dataclass(frozen=True, slots=True)
class Verifier:
    """A verifier key: who signs (name, key id) with what (type, 32-byte public key)."""

    name: str
    key_id: int
    type: int
    public_key: bytes

    @property
    def kind(self) -> Kind:
        return _KINDS[self.type]

    @property
    def vkey(self) -> str:  # <name>+<hex key id>+<base64(type || key)>
        return f"{self.name}+{self.key_id:08x}+{b64_encode(bytes([self.type]) + self.public_key)}"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One parsed signature line: key name, key id and the bytes after the key id."""

    name: str
    key_id: int
    signature: bytes
    line: str  # the exact line, without its newline


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed (not verified) signed note."""

    text: str
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """A signature that verified, by a known key; ``timestamp`` for cosignatures only."""

    name: str
    key_id: int
    kind: Kind
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, 32-byte root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _b64decode(text: str, what: str, error: type[Exception]) -> bytes:
    """Standard padded base64, canonical only (no stray bits, no whitespace)."""
    data = base64.b64decode(text, validate=True) if _B64.fullmatch(text) else None
    if data is None or b64_encode(data) != text:  # the regex makes b64decode safe
        raise error(f"{what} is not canonical base64: {text[:24]!r}")
    return data


def _key_id(name: str, sig_type: int, public_key: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: object, error: type[Exception]) -> str:
    """Key names: non-empty UTF-8 without Unicode spaces, '+' or control characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise error(f"invalid key name {name!r}")
    return name


def _check_text(text: object, error: type[Exception] = NoteMalformed) -> str:
    """Note text: UTF-8, ends in a newline, no control character but newline."""
    if not isinstance(text, str) or not text.endswith("\n") or _NOT_TEXT.search(text):
        raise error("note text must be UTF-8 ending in a newline, without control characters")
    return text


def _raw(key: Ed25519PublicKey | Signer) -> bytes:
    public = key if isinstance(key, Ed25519PublicKey) else key.public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _vkey(name: str, sig_type: int, public_key: Ed25519PublicKey | bytes) -> str:
    raw = public_key if isinstance(public_key, bytes) else _raw(public_key)
    if len(raw) != 32:
        raise KeyUnusable("an Ed25519 public key is 32 bytes")
    _check_name(name, KeyUnusable)
    return Verifier(name, _key_id(name, sig_type, raw), sig_type, raw).vkey


def ed25519_vkey(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """The verifier key of a note signer (type 0x01). Raises :class:`KeyUnusable`."""
    return _vkey(name, ED25519, public_key)


def cosignature_vkey(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """The verifier key of a cosignature/v1 witness (type 0x04). Raises :class:`KeyUnusable`."""
    return _vkey(name, COSIGNATURE_V1, public_key)


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``<name>+<hex key id>+<base64(type || key)>`` (types 0x01 and 0x04).

    Raises :class:`KeyUnusable`: malformed, another type, or a key id its name and key do not give.
    """
    if not isinstance(vkey, str):
        raise KeyUnusable("a verifier key is a string")
    name, _, rest = vkey.partition("+")
    hex_id, _, key64 = rest.partition("+")
    _check_name(name, KeyUnusable)
    if not _HEX_ID.fullmatch(hex_id):
        raise KeyUnusable(f"verifier key id must be 8 hex digits: {hex_id!r}")
    key = _b64decode(key64, "verifier key", KeyUnusable)
    if len(key) != 33 or key[0] not in _KINDS:
        raise KeyUnusable("verifier key must be type 0x01 or 0x04 and a 32-byte Ed25519 key")
    verifier = Verifier(name, int(hex_id, 16), key[0], key[1:])
    if _key_id(name, verifier.type, verifier.public_key) != verifier.key_id:
        raise KeyUnusable(f"key id {hex_id} does not match the key of {name!r}")
    return verifier


def _signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteMalformed(f"not a signature line: {line[:40]!r}")
    name, _, sig64 = line[len(_SIG_PREFIX) :].partition(" ")
    _check_name(name, NoteMalformed)
    payload = _b64decode(sig64, f"signature of {name!r}", NoteMalformed)
    if len(payload) < 5:
        raise NoteMalformed(f"signature of {name!r} is shorter than a key id and one byte")
    return NoteSignature(name, int.from_bytes(payload[:4], "big"), payload[4:], line)


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines, strictly (nothing verified).

    Raises :class:`NoteMalformed`: not UTF-8, a control character, no final newline, no
    blank line, no signature, over :data:`MAX_SIGNATURES`, or a malformed signature line.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteMalformed(f"note is not UTF-8: {exc}") from exc
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteMalformed("note has no blank line before its signatures")
    text, lines = note[: split + 1], note[split + 2 : -1]
    if not lines:
        raise NoteMalformed("note has no signature")
    if lines.count("\n") >= MAX_SIGNATURES:
        raise NoteMalformed(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_signature_line(line) for line in lines.split("\n")))


def sign_note(text: str, name: str, private_key: Signer) -> str:
    """The signed note: ``text``, a blank line and one Ed25519 signature line by ``name``.

    Raises :class:`NoteMalformed` for a text or name the spec does not allow."""
    _check_text(text)
    _check_name(name, NoteMalformed)
    key_id = _key_id(name, ED25519, _raw(private_key)).to_bytes(4, "big")
    return f"{text}\n{_SIG_PREFIX}{name} {b64_encode(key_id + private_key.sign(text.encode()))}\n"


def add_signatures(note: str, lines: Iterable[str]) -> str:
    """Append signature lines (newline optional) to a note; repeats are dropped, nothing verified.

    Raises :class:`NoteMalformed` for a malformed note or line, or too many signatures."""
    parsed = parse_note(note)
    existing = [s.line for s in parsed.signatures]
    for line in (line.removesuffix("\n") for line in lines):
        if line not in existing:
            existing.append(line)
    result = parsed.text + "\n" + "".join(line + "\n" for line in existing)
    parse_note(result)  # every line well formed, at most MAX_SIGNATURES
    return result


def _check_cosignature(verifier: Verifier, text: str, sig: NoteSignature) -> int:
    """cosignature/v1: timestamp (8 bytes, big-endian) || Ed25519 over the cosigned message."""
    if len(sig.signature) != 8 + 64:
        raise NoteSignatureInvalid(f"cosignature by {sig.name} is not 8 + 64 bytes")
    timestamp = int.from_bytes(sig.signature[:8], "big")
    if timestamp > _MAX_TIMESTAMP:
        raise NoteSignatureInvalid(f"cosignature by {sig.name} has a timestamp over 2^63 - 1")
    _verify(verifier, sig.signature[8:], _cosigned_message(text, timestamp))
    return timestamp


def _verify(verifier: Verifier, signature: bytes, message: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(signature, message)
    except ValueError as exc:
        raise KeyUnusable(f"not an Ed25519 public key: {exc}") from exc
    except InvalidSignature as exc:
        who = f"{verifier.name}+{verifier.key_id:08x}"
        raise NoteSignatureInvalid(f"signature by known key {who} does not verify") from exc


def verify_note(
    note: str | bytes | Note, verifiers: Iterable[Verifier | str]
) -> list[VerifiedSignature]:
    """The known keys whose signatures verify, in note order (one entry per key).

    Lines by unknown keys are ignored. Raises :class:`NoteMalformed`, :class:`KeyUnusable`
    (a bad or ambiguous verifier), :class:`NoteSignatureInvalid` (a line by a known key,
    same name and key id, fails), :class:`NoteUnverified` (no known key signed).
    """
    # Plan: (1) parse; (2) index verifiers by (name, key id); (3) verify; (4) a known signer.
    parsed = note if isinstance(note, Note) else parse_note(note)  # (1)
    # (2): verifiers by (name, key id); two different keys there would be ambiguous.
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        v = parse_vkey(v) if isinstance(v, str) else v
        if known.setdefault((v.name, v.key_id), v) != v:
            raise KeyUnusable(f"two verifier keys for {v.name}+{v.key_id:08x}")
    # (3): every line by a known key must verify; lines by unknown keys are ignored.
    verified: dict[tuple[str, int], VerifiedSignature] = {}
    for sig in parsed.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is not None:
            timestamp = None
            if verifier.type == COSIGNATURE_V1:
                timestamp = _check_cosignature(verifier, parsed.text, sig)
            else:
                _verify(verifier, sig.signature, parsed.text.encode())
            found = VerifiedSignature(sig.name, sig.key_id, verifier.kind, timestamp)
            verified.setdefault((sig.name, sig.key_id), found)
    # (4): a note that no known key signed vouches for nothing.
    if not verified:
        raise NoteUnverified("no signature by a known key")
    return list(verified.values())


def checkpoint_text(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The tlog-checkpoint note text. Raises :class:`CheckpointMalformed` for bad fields."""
    if type(size) is not int or not 0 <= size <= _MAX_TREE_SIZE or type(root) is not bytes:
        raise CheckpointMalformed(f"tree size {size!r} not in [0, 2^64) or root not bytes")
    if len(root) != 32:
        raise CheckpointMalformed("root hash must be 32 bytes")
    lines = [origin, str(size), b64_encode(root), *extensions]
    if any(not isinstance(line, str) or not line or "\n" in line for line in lines):
        raise CheckpointMalformed("origin and extension lines must be non-empty single lines")
    return _check_text("".join(line + "\n" for line in lines), CheckpointMalformed)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a tlog-checkpoint note text (``Note.text``), strictly.

    Raises :class:`CheckpointMalformed`: under three lines, an empty origin or extension
    line, a size not decimal or with leading zeros, a root not canonical base64 of 32 bytes.
    """
    # Plan: (1) a note text of >= 3 lines; (2) origin; (3) size; (4) root; (5) extensions.
    lines = _check_text(text, CheckpointMalformed)[:-1].split("\n")  # (1)
    if len(lines) < 3:
        raise CheckpointMalformed("a checkpoint has at least three lines")
    origin, size_line, root_line, *extensions = lines
    # (2): a non-empty origin.
    if not origin:
        raise CheckpointMalformed("empty origin line")
    # (3): ASCII decimal, no leading zeros, at most 2^64 - 1 (20 digits).
    if not _DECIMAL.fullmatch(size_line) or int(size_line) > _MAX_TREE_SIZE:
        raise CheckpointMalformed(f"tree size is not a decimal in [0, 2^64): {size_line[:30]!r}")
    # (4): base64 of a 32-byte root hash.
    root = _b64decode(root_line, "root hash", CheckpointMalformed)
    if len(root) != 32:
        raise CheckpointMalformed(f"root hash is {len(root)} bytes, not 32")
    # (5): extension lines, if any, are non-empty.
    if any(not line for line in extensions):
        raise CheckpointMalformed("empty extension line")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(checkpoint_text: str, name: str, private_key: Signer, timestamp: int) -> str:
    """A witness's cosignature/v1 line (with its newline) on a checkpoint, at ``timestamp``.

    The caller has checked consistency; this only signs. Raises :class:`CheckpointMalformed`,
    or :class:`NoteMalformed` for a bad name or a timestamp outside [0, 2^63)."""
    parse_checkpoint(checkpoint_text)
    _check_name(name, NoteMalformed)
    if type(timestamp) is not int or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteMalformed(f"cosignature timestamp {timestamp} is outside [0, 2^63)")
    signature = private_key.sign(_cosigned_message(checkpoint_text, timestamp))
    key_id = _key_id(name, COSIGNATURE_V1, _raw(private_key))
    payload = key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big")
    return f"{_SIG_PREFIX}{name} {b64_encode(payload + signature)}\n"


def verify_cosignature(checkpoint_text: str, line: str, verifier: Verifier | str) -> int:
    """Verify a witness's cosignature/v1 line on a checkpoint; return its timestamp (the
    caller judges it). Raises :class:`KeyUnusable` (not 0x04), :class:`CheckpointMalformed`,
    :class:`NoteMalformed`, :class:`NoteUnverified` (other name or key id), or
    :class:`NoteSignatureInvalid`."""
    # Plan: (1) a 0x04 key; (2) a checkpoint and a line; (3) by this witness; (4) verifies.
    # (1): a cosignature/v1 verifier key.
    verifier = parse_vkey(verifier) if isinstance(verifier, str) else verifier
    if verifier.type != COSIGNATURE_V1:
        raise KeyUnusable(f"{verifier.name} is not a cosignature/v1 (0x04) key")
    # (2): a checkpoint and a well-formed signature line.
    parse_checkpoint(checkpoint_text)
    sig = _signature_line(line.removesuffix("\n"))
    # (3): the line is by this witness (name and key id).
    if (sig.name, sig.key_id) != (verifier.name, verifier.key_id):
        raise NoteUnverified(f"line is by {sig.name}+{sig.key_id:08x}, not {verifier.name}")
    # (4): the timestamped signature verifies.
    return _check_cosignature(verifier, checkpoint_text, sig)
