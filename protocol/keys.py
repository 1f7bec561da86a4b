"""Ed25519 keys: the signer interface, generation, PKCS#8 PEM, and public keys as JWKs.

Everything in ``protocol`` that signs takes a :class:`Signer`: an object that makes
Ed25519 signatures (RFC 8032) with one key and tells its public key. A
``cryptography`` :class:`Ed25519PrivateKey` is one as it is (a key read from a PEM
file); a key held in a hardware token is another (``node.signers``), whose private
value never leaves the token.

A participant's private key in a file is stored as PKCS#8 PEM, optionally encrypted
with a passphrase (the caller reads the passphrase from wherever the operator keeps
it; this module does no I/O). The public key travels as an OKP JWK (RFC 8037) whose
``kid`` is its RFC 7638 thumbprint, so a key id is bound to the key itself.

Raises :class:`protocol.errors.KeyUnusable` for any key that cannot be used.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearinghouse.protocol.encoding import b64url_decode, b64url_encode, compact_json
from clearinghouse.protocol.errors import EncodingError, KeyUnusable

__all__ = [
    "Signer",
    "generate_private_key",
    "jwk_thumbprint",
    "load_private_key",
    "private_key_to_pem",
    "public_jwk",
    "public_key_from_jwk",
]


class Signer(Protocol):
    """Makes Ed25519 signatures with one private key, wherever that key is kept.

    :meth:`sign` returns the 64-byte signature of ``data`` (RFC 8032 section 5.1.6,
    pure Ed25519: the message itself, not a hash of it). An implementation that
    cannot sign raises; it never returns anything but a signature by the key whose
    public half :meth:`public_key` answers.
    """

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> Ed25519PublicKey: ...


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 signing key from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``passphrase`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key; raises :class:`KeyUnusable`."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as exc:  # encrypted without a passphrase, or the reverse
        raise KeyUnusable(f"private key: {exc}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyUnusable(
            f"private key is not a readable PKCS#8 PEM (or the passphrase is wrong): {exc}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnusable(f"private key is {type(key).__name__}, not Ed25519")
    return key


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an OKP public JWK.

    The required members of an OKP key are ``crv``, ``kty`` and ``x`` (RFC 8037
    §2), hashed as JSON with lexicographically ordered members and no whitespace.
    """
    try:
        members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    except KeyError as exc:
        raise KeyUnusable(f"JWK lacks the member {exc.args[0]!r}") from exc
    return b64url_encode(hashlib.sha256(compact_json(members)).digest())


def public_jwk(key: Ed25519PublicKey | Signer) -> dict[str, str]:
    """The public key (of a signer) as a JWK ``{kty: OKP, crv: Ed25519, x, kid}``."""
    if not isinstance(key, Ed25519PublicKey):
        key = key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    jwk["kid"] = jwk_thumbprint(jwk)
    return jwk


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """An Ed25519 public key from its JWK; a ``kid`` must equal the thumbprint."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyUnusable(f"JWK is kty={jwk.get('kty')!r} crv={jwk.get('crv')!r}, not OKP/Ed25519")
    if "d" in jwk:
        raise KeyUnusable("JWK holds a private key ('d'); only public keys belong here")
    try:
        raw = b64url_decode(jwk["x"])
    except (KeyError, EncodingError) as exc:
        raise KeyUnusable(f"JWK 'x' is missing or not base64url: {exc}") from exc
    if len(raw) != 32:
        raise KeyUnusable(f"JWK 'x' is {len(raw)} bytes, an Ed25519 key is 32")
    kid = jwk.get("kid")
    if kid is not None and kid != jwk_thumbprint(jwk):
        raise KeyUnusable(f"JWK kid {kid!r} is not the key's RFC 7638 thumbprint")
    return Ed25519PublicKey.from_public_bytes(raw)
