"""The node's signing keys: every private key it holds, and which one signs now.

The keys are held in files (setting ``key_file``: :class:`KeyFiles`) or in a PKCS#11
token (setting ``pkcs11``: :class:`TokenKeys`); :func:`open_key_source` picks the one
the settings name. Either way each key is a :class:`~clearinghouse.protocol.keys.Signer`.

A participant rotates its key by placing the new private key beside the old one
(a file ``<participant>.<kid8>.key.pem`` in the directory of ``key_file``, or a key
labelled ``<key_label>.<kid8>`` in the token, as ``clearinghouse key rotate`` makes
them) and getting a manifest accepted that lists it. The node then signs with the
newest key the manifest lets it use at this instant, without a restart; the old key
keeps verifying what it signed while it was valid, because the manifest keeps it
with its validity window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from clearinghouse.node.keyfiles import passphrase_from_env, read_private_key
from clearinghouse.node.settings import Settings
from clearinghouse.node.signers import Pkcs11Token
from clearinghouse.protocol.errors import KeyUnusable, ProtocolError
from clearinghouse.protocol.keys import Signer, public_jwk
from clearinghouse.protocol.manifest import Manifest, signing_key

__all__ = [
    "KeyFiles",
    "KeySource",
    "SigningKey",
    "TokenKeys",
    "candidate_files",
    "load_keys",
    "open_key_source",
    "select_signing_key",
]


@dataclass(frozen=True)
class SigningKey:
    """A private key and its key id, read together so that they always match."""

    key: Signer
    kid: str


class KeySource(Protocol):
    """Where a node's private keys are held."""

    @property
    def setting(self) -> str:
        """The setting that names the source, for messages: ``key_file`` or ``pkcs11``."""
        ...

    def load(self) -> tuple[dict[str, Signer], list[str]]:
        """Every usable key (by kid) and a note for each one skipped; raises
        :class:`KeyUnusable` when the key the setting names cannot be used."""
        ...

    def close(self) -> None:
        """Let go of what the source holds open (a token session)."""
        ...


@dataclass(frozen=True)
class KeyFiles:
    """``key_file`` and the rotated keys beside it (:func:`load_keys`)."""

    key_file: Path
    participant: str
    passphrase: bytes | None
    setting: str = "key_file"

    def load(self) -> tuple[dict[str, Signer], list[str]]:
        return load_keys(self.key_file, self.participant, self.passphrase)

    def close(self) -> None:
        """Files hold nothing open."""


@dataclass(frozen=True)
class TokenKeys:
    """The key labelled ``key_label`` in a PKCS#11 token, and the rotated keys beside it
    (labelled ``key_label.*``)."""

    token: Pkcs11Token
    key_label: str
    setting: str = "pkcs11"

    def load(self) -> tuple[dict[str, Signer], list[str]]:
        """``key_label`` itself must be usable; a rotated key that is not is skipped and named."""
        keys: dict[str, Signer] = {}
        problems: list[str] = []
        rotated = [name for name in self.token.labels() if name.startswith(self.key_label + ".")]
        for label in (self.key_label, *rotated):
            try:
                key = self.token.key(label)
            except ProtocolError as exc:
                if label == self.key_label:
                    raise
                problems.append(f"{label}: {exc}")
                continue
            keys[public_jwk(key)["kid"]] = key
        return keys, problems

    def close(self) -> None:
        self.token.close()


def open_key_source(settings: Settings) -> KeySource:
    """The key source the settings name: ``pkcs11`` (the token opened and logged in
    now), else ``key_file`` (with the passphrase from the environment).

    :raises KeyUnusable: the token cannot be opened (module, token, PIN), or neither
        setting is given.
    """
    if settings.pkcs11 is not None:
        return TokenKeys(Pkcs11Token.from_settings(settings.pkcs11), settings.pkcs11.key_label)
    if settings.key_file is None:
        raise KeyUnusable("no key: set key_file or pkcs11")
    return KeyFiles(settings.key_file, settings.participant, passphrase_from_env())


def candidate_files(key_file: Path, participant: str) -> list[Path]:
    """``key_file`` and every ``<participant>.*.key.pem`` beside it."""
    siblings = sorted(key_file.parent.glob(f"{participant}.*.key.pem"))
    return [key_file, *(p for p in siblings if p.resolve() != key_file.resolve())]


def load_keys(
    key_file: Path, participant: str, passphrase: bytes | None
) -> tuple[dict[str, Signer], list[str]]:
    """Every readable private key (by kid), and a note for each file that is not.

    ``key_file`` itself must be readable (raises :class:`KeyUnusable`); a sibling
    that is not (another passphrase, a partial copy) is skipped and named.
    """
    keys: dict[str, Signer] = {}
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
    manifest: Manifest, participant: str, held: Mapping[str, Signer], now: datetime
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
