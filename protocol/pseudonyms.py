"""Pseudonyms: keyed hashes of normalised identifiers, under a key of a named epoch.

DESIGN.md, "Packets" (pseudonymised fields). The data-originating participants
share a pseudonymisation key; a pseudonymised claim (``side_a_ref``, ...) is
HMAC-SHA-256 under that key of the normalised identifier, so the same actor gets
the same reference in every packet. A key belongs to an **epoch**: a new epoch is
a new key, so references link within an epoch and never across. The epoch's name
travels in each packet that carries pseudonyms (the always-visible claim ``pse``,
see :mod:`protocol.packet`), so a recipient knows which references may be linked.

An epoch name matches ``[A-Za-z0-9._-]{1,64}``. A key stored without a name (the
format before epochs) gets a stable derived one, :func:`derived_epoch`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from clearinghouse.protocol.encoding import b64url_encode
from clearinghouse.protocol.errors import ProtocolError

__all__ = [
    "EPOCH_PATTERN",
    "PseudonymKey",
    "check_epoch",
    "derived_epoch",
    "is_epoch_name",
    "normalise_identifier",
    "pseudonym",
]

#: What an epoch name may be: short, printable, no separator of the key file format.
EPOCH_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DERIVED_EPOCH_LABEL = b"clearinghouse pseudonym epoch\x00"


def is_epoch_name(value: object) -> bool:
    """Whether ``value`` is a well-formed epoch name (a string of ``EPOCH_PATTERN``)."""
    return isinstance(value, str) and EPOCH_PATTERN.fullmatch(value) is not None


def check_epoch(name: str) -> str:
    """``name`` if it is a well-formed epoch name; else raise :class:`ProtocolError`."""
    if not is_epoch_name(name):
        raise ProtocolError(f"pseudonym epoch {name!r} is not 1-64 characters of A-Z a-z 0-9 . _ -")
    return name


def derived_epoch(key: bytes) -> str:
    """The epoch name of a key stored without one: ``e-`` + 10 characters of
    base64url(SHA-256(label ‖ key)); stable, and reveals nothing useful of the key."""
    digest = hashlib.sha256(_DERIVED_EPOCH_LABEL + key).digest()
    return "e-" + b64url_encode(digest)[:10]


def normalise_identifier(identifier: str) -> str:
    """The form hashed for a pseudonym: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", identifier).casefold().split())


def pseudonym(key: bytes, identifier: str) -> str:
    """HMAC-SHA-256 of the normalised identifier under ``key``, base64url."""
    mac = hmac.new(key, normalise_identifier(identifier).encode("utf-8"), hashlib.sha256)
    return b64url_encode(mac.digest())


@dataclass(frozen=True, repr=False)
class PseudonymKey:
    """A pseudonymisation key and the name of its epoch.

    Raises :class:`ProtocolError` for a malformed epoch name or an empty key. The
    ``repr`` names the epoch only, so the key never lands in a log by accident.
    """

    epoch: str
    key: bytes

    def __post_init__(self) -> None:
        check_epoch(self.epoch)
        if not self.key:
            raise ProtocolError("a pseudonymisation key cannot be empty")

    @classmethod
    def unnamed(cls, key: bytes) -> PseudonymKey:
        """A key with no stored epoch name: its epoch is :func:`derived_epoch`."""
        return cls(derived_epoch(key), key)

    def pseudonym(self, identifier: str) -> str:
        return pseudonym(self.key, identifier)

    def __repr__(self) -> str:
        return f"PseudonymKey(epoch={self.epoch!r})"
