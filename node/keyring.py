"""The node's signing keys: every private key it holds, and which one signs now.

A participant rotates its key by placing the new private key beside the old one
(``<participant>.<kid8>.key.pem`` in the directory of ``key_file``, as
``clearinghouse key rotate`` writes it) and getting a manifest accepted that lists
it. The node then signs with the newest key the manifest lets it use at this
instant, without a restart; the old key keeps verifying what it signed while it
was valid, because the manifest keeps it with its validity window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.protocol.errors import KeyUnusable, ProtocolError
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, signing_key

__all__ = ["SigningKey", "candidate_files", "load_keys", "select_signing_key"]


@dataclass(frozen=True)
class SigningKey:
    """A private key and its key id, read together so that they always match."""

    key: Ed25519PrivateKey
    kid: str


def candidate_files(key_file: Path, participant: str) -> list[Path]:
    """``key_file`` and every ``<participant>.*.key.pem`` beside it."""
    siblings = sorted(key_file.parent.glob(f"{participant}.*.key.pem"))
    return [key_file, *(p for p in siblings if p.resolve() != key_file.resolve())]


def load_keys(
    key_file: Path, participant: str, passphrase: bytes | None
) -> tuple[dict[str, Ed25519PrivateKey], list[str]]:
    """Every readable private key (by kid), and a note for each file that is not.

    ``key_file`` itself must be readable (raises :class:`KeyUnusable`); a sibling
    that is not (another passphrase, a partial copy) is skipped and named.
    """
    keys: dict[str, Ed25519PrivateKey] = {}
    problems: list[str] = []
    for path in candidate_files(key_file, participant):
        try:
            key = read_private_key(path, passphrase)
        except ProtocolError as exc:
            if path == key_file:
                raise
            problems.append(f"{path.name}: {exc}")
            continue
        keys[public_jwk(key)["kid"]] = key
    return keys, problems


def select_signing_key(
    manifest: Manifest, participant: str, held: Mapping[str, Ed25519PrivateKey], now: datetime
) -> SigningKey:
    """The held key the manifest lets ``participant`` sign with at ``now``: of those
    usable now, the one valid from the latest instant (the newest after a rotation;
    of two valid from the same instant, the one listed later: the one added later).

    Raises :class:`KeyUnusable` naming each held key and why it may not sign.
    """
    usable: list[tuple[datetime, int, str]] = []
    reasons: list[str] = []
    listed = {k.kid: (i, k) for i, k in enumerate(manifest.participant(participant).keys)}
    for kid in sorted(held):
        found = listed.get(kid)
        if found is None:
            reasons.append(f"{kid} is not in manifest serial {manifest.serial}")
            continue
        position, entry = found
        try:
            signing_key(manifest, participant, kid, now)
        except ProtocolError as exc:
            reasons.append(exc.message)
            continue
        usable.append((entry.not_before, position, kid))
    if not usable:
        raise KeyUnusable(
            f"no key held by {participant!r} may sign at {now.isoformat()}: " + "; ".join(reasons)
        )
    kid = max(usable)[2]
    return SigningKey(held[kid], kid)
