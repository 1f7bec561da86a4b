"""Key material on disk: private keys (PKCS#8 PEM, mode 0600), JWKs, pseudonym keys.

The protocol package turns keys into bytes and back; this module is the only one
that reads and writes them as files. A private key may be encrypted with a
passphrase read from the environment variable named by the caller (by default
``CLEARINGHOUSE_KEY_PASSPHRASE``) or from the file that the same name with ``_FILE``
appended names (``CLEARINGHOUSE_KEY_PASSPHRASE_FILE``, :func:`secret_from_env`), never
from a command-line argument.

A pseudonymisation key file is one line ``EPOCH KEY``: the epoch's name, a space,
the key in base64url (:mod:`protocol.pseudonyms`). A file holding the key alone
(written before epochs) is read with the epoch name derived from the key, so an
existing deployment keeps one stable epoch until it makes a new key.

Secret files (private keys, pseudonymisation keys, bearer-token files, and every file
named by a ``…_FILE`` variable: :func:`read_secret_file`) are written
0600 and refused when others may read them (the "other" read bit, as ``chmod o-r``
clears): a world-readable secret is one any local account could have copied.
Group-readable stays allowed, since Kubernetes mounts secrets for the pod's
``fsGroup`` (``defaultMode: 0440`` in ``deploy/k8s``).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode
from clearinghouse.protocol.errors import EncodingError, KeyUnusable, ProtocolError
from clearinghouse.protocol.keys import (
    Signer,
    load_private_key,
    private_key_to_pem,
    public_jwk,
    public_key_from_jwk,
)
from clearinghouse.protocol.pseudonyms import PseudonymKey, derived_epoch

__all__ = [
    "PASSPHRASE_ENV",
    "passphrase_from_env",
    "read_jwk",
    "read_private_key",
    "read_pseudonym_key",
    "read_secret_file",
    "read_token_file",
    "refuse_world_readable",
    "secret_from_env",
    "write_jwk",
    "write_private_key",
    "write_pseudonym_key",
    "write_secret",
]

PASSPHRASE_ENV = "CLEARINGHOUSE_KEY_PASSPHRASE"
PSEUDONYM_KEY_BYTES = 32


def passphrase_from_env(variable: str = PASSPHRASE_ENV) -> bytes | None:
    """The passphrase in ``variable``, or in the file ``{variable}_FILE`` names; None if
    neither is set. Raises :class:`KeyUnusable` as :func:`secret_from_env`."""
    value = secret_from_env(variable)
    return value.encode("utf-8") if value else None


def read_secret_file(path: Path, what: str) -> str:
    """The text of a file holding one secret, without its trailing line breaks.

    Raises :class:`KeyUnusable`, naming ``what`` and the path, if every local account
    may read the file (:func:`refuse_world_readable`), or it cannot be read, is not
    UTF-8 text or is empty."""
    refuse_world_readable(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyUnusable(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KeyUnusable(f"{what} {path} is not UTF-8 text") from exc
    value = text.rstrip("\r\n")
    if not value:
        raise KeyUnusable(f"{what} {path} is empty")
    return value


def secret_from_env(variable: str) -> str | None:
    """The secret in the environment variable ``variable``, or in the file named by
    ``{variable}_FILE`` (:func:`read_secret_file`); None if neither is set (an empty
    variable counts as unset).

    Raises :class:`KeyUnusable` if both are set, or if the file cannot be used."""
    value = os.environ.get(variable)
    file = os.environ.get(f"{variable}_FILE")
    if value and file:
        raise KeyUnusable(f"both {variable} and {variable}_FILE are set; set only one")
    if file:
        return read_secret_file(Path(file), f"{variable}_FILE")
    return value or None


def write_secret(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Create ``path`` with mode 0600 (never readable by others, even briefly).

    An existing file is refused (:class:`FileExistsError`) unless ``replace``: then
    the data goes to a new 0600 file beside it, which takes its place atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if replace:
            os.replace(target, path)
    except BaseException:
        if replace:
            target.unlink(missing_ok=True)
        raise


def refuse_world_readable(path: Path, what: str) -> None:
    """Raise :class:`KeyUnusable` if others may read ``path`` (mode ``o+r``).

    Missing files are left to the reader, which names them."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & stat.S_IROTH:
        raise KeyUnusable(
            f"{what} {path} is readable by every local account (mode {mode:04o}); "
            f"restrict it with 'chmod o-rwx {path}' (owner or group read is enough)"
        )


def write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    write_secret(path, private_key_to_pem(key, passphrase))


def read_private_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load a private key file; raises :class:`KeyUnusable` with the path in the message."""
    refuse_world_readable(path, "private key")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyUnusable(f"cannot read private key {path}: {exc.strerror}") from exc
    try:
        return load_private_key(data, passphrase)
    except KeyUnusable as exc:
        hint = (
            ""
            if passphrase
            else f" (if it is encrypted, set {PASSPHRASE_ENV}_FILE or {PASSPHRASE_ENV})"
        )
        raise KeyUnusable(f"{path}: {exc.message}{hint}") from exc


def write_jwk(path: Path, key: Signer) -> dict[str, str]:
    """Write the public JWK of ``key`` (a private key file's or a token's) to ``path``."""
    jwk = public_jwk(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jwk, indent=2) + "\n")
    return jwk


def read_jwk(path: Path) -> dict[str, Any]:
    try:
        jwk = json.loads(path.read_text())
    except OSError as exc:
        raise KeyUnusable(f"cannot read public key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyUnusable(f"{path} is not JSON: {exc}") from exc
    if not isinstance(jwk, dict):
        raise KeyUnusable(f"{path} is not a JWK object")
    public_key_from_jwk(jwk)
    return jwk


def write_pseudonym_key(path: Path, epoch: str | None = None) -> PseudonymKey:
    """A new random pseudonymisation key for ``epoch``, stored as one line ``EPOCH KEY``.

    With no ``epoch``, the name is derived from the key (as for a file without
    one). Raises :class:`ProtocolError` for a malformed epoch name; refuses to
    overwrite ``path`` (:class:`FileExistsError`).
    """
    key = secrets.token_bytes(PSEUDONYM_KEY_BYTES)
    made = PseudonymKey(derived_epoch(key) if epoch is None else epoch, key)
    write_secret(path, f"{made.epoch} {b64url_encode(made.key)}\n".encode())
    return made


def read_pseudonym_key(path: Path) -> PseudonymKey:
    """The key and epoch in ``path`` (``EPOCH KEY``, or ``KEY`` alone: derived epoch).

    Raises :class:`KeyUnusable` naming the file.
    """
    refuse_world_readable(path, "pseudonymisation key")
    try:
        lines = path.read_text().strip().splitlines()
    except OSError as exc:
        raise KeyUnusable(f"cannot read pseudonymisation key {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KeyUnusable(f"{path} is not a pseudonymisation key file (not text)") from exc
    fields = lines[0].split() if len(lines) == 1 else []
    if len(fields) not in (1, 2):
        raise KeyUnusable(
            f"{path}: a pseudonymisation key file is one line 'EPOCH KEY' (or the key alone)"
        )
    try:
        key = b64url_decode(fields[-1])
    except EncodingError as exc:
        raise KeyUnusable(f"{path} does not hold a base64url pseudonymisation key") from exc
    if len(key) < PSEUDONYM_KEY_BYTES:
        raise KeyUnusable(
            f"{path}: pseudonymisation key has {len(key)} bytes; at least "
            f"{PSEUDONYM_KEY_BYTES} are required"
        )
    try:
        return PseudonymKey(fields[0], key) if len(fields) == 2 else PseudonymKey.unnamed(key)
    except ProtocolError as exc:
        raise KeyUnusable(f"{path}: {exc.message}") from exc


def read_token_file(path: Path, role: str) -> str:
    """The bearer token for ``role`` in ``path``, refused if others may read it.

    The file is either one line, the token, or the ``tokens.json`` that
    ``clearinghouse node init`` writes (a JSON object, one token per role)."""
    refuse_world_readable(path, "token file")
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise KeyUnusable(f"cannot read token file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KeyUnusable(f"{path} is not a token file (not text)") from exc
    if text.startswith("{"):
        try:
            by_role = json.loads(text)
        except ValueError as exc:
            raise KeyUnusable(f"{path} is not JSON: {exc}") from exc
        token = by_role.get(role) if isinstance(by_role, dict) else None
        if not isinstance(token, str) or not token:
            raise KeyUnusable(f"{path} holds no token for role {role!r}")
        return token
    if not text or len(text.split()) != 1:
        raise KeyUnusable(
            f"{path}: a token file holds one line, the bearer token, or a JSON object by role"
        )
    return text
