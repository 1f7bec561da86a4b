"""The objects of a PKCS#11 token that hold an Ed25519 key: finding, checking and making them.

Called by :class:`~clearinghouse.node.signers.pkcs11.Pkcs11Token` on its session, under
its lock; each refusal is a :class:`~clearinghouse.protocol.errors.KeyUnusable` naming
the token and the key label. PKCS#11 v3.0 "EdDSA": a key of type ``CKK_EC_EDWARDS``
whose ``CKA_EC_PARAMS`` name edwards25519; its public key in ``CKA_EC_POINT``.
"""

from __future__ import annotations

import os
from typing import Any, Final

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from clearinghouse.protocol.errors import KeyUnusable

__all__ = [
    "ED25519_NAME",
    "ED25519_OID",
    "attribute",
    "find_private",
    "find_public",
    "generate",
    "raw",
]

#: CKA_EC_PARAMS of edwards25519: the DER of the OID 1.3.101.112 (id-Ed25519, RFC 8410),
#: or of the printable string "edwards25519" (PKCS#11 v3.0 allows both).
ED25519_OID: Final = bytes.fromhex("06032b6570")
ED25519_NAME: Final = b"\x13\x0c" + b"edwards25519"


def find_private(session: pkcs11.Session, token: str, label: str) -> pkcs11.SignMixin:
    """The one private key labelled ``label``, if it is an Ed25519 key that may sign and
    cannot leave the token (not extractable, sensitive)."""
    where = f"PKCS#11 token {token!r}"
    found = list(
        session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
    )
    if not found:
        raise KeyUnusable(f"{where} has no private key labelled {label!r}")
    if len(found) > 1:
        raise KeyUnusable(f"{where} has {len(found)} private keys labelled {label!r}")
    private = found[0]
    what = f"key {label!r} in {where}"
    if not isinstance(private, pkcs11.PrivateKey) or not isinstance(private, pkcs11.SignMixin):
        raise KeyUnusable(f"{what} is a {type(private).__name__}, not a signing key")
    if private.key_type != KeyType.EC_EDWARDS:
        raise KeyUnusable(f"{what} is of key type {_name(private.key_type)}, not Ed25519")
    if attribute(private, Attribute.EC_PARAMS) not in (ED25519_OID, ED25519_NAME):
        raise KeyUnusable(f"{what} is an Edwards key on another curve than edwards25519")
    if not attribute(private, Attribute.SIGN):
        raise KeyUnusable(f"{what} may not sign (CKA_SIGN is false)")
    if attribute(private, Attribute.EXTRACTABLE) or not attribute(private, Attribute.SENSITIVE):
        raise KeyUnusable(
            f"{what} could leave the token (extractable, or not sensitive); make a key "
            "that cannot, e.g. with 'clearinghouse hsm keygen'"
        )
    return private


def find_public(session: pkcs11.Session, token: str, label: str) -> Ed25519PublicKey:
    """The public key labelled ``label``, from its ``CKA_EC_POINT``: a DER OCTET STRING of
    the 32-byte key (PKCS#11 v3.0), or the raw 32 bytes some tokens answer."""
    where = f"key {label!r} in PKCS#11 token {token!r}"
    found = list(
        session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: label})
    )
    if len(found) != 1:
        raise KeyUnusable(f"{where} has {len(found)} public keys of that label, not one")
    point = bytes(attribute(found[0], Attribute.EC_POINT))
    key = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point
    if len(key) != 32:
        raise KeyUnusable(f"{where}: its public key has {len(key)} bytes, not 32 (Ed25519)")
    return Ed25519PublicKey.from_public_bytes(key)


def generate(session: pkcs11.Session, token: str, label: str) -> None:
    """A sensitive, non-extractable Ed25519 key pair labelled ``label`` (see
    :meth:`Pkcs11Token.generate_key`)."""
    if any(session.get_objects({Attribute.LABEL: label})):
        raise KeyUnusable(
            f"PKCS#11 token {token!r} already holds a key labelled {label!r}; choose another label"
        )
    try:
        parameters = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ED25519_OID}, local=True
        )
        parameters.generate_keypair(
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            label=label,
            id=os.urandom(16),  # pairs the two halves (CKA_ID), as other tools expect
            public_template={Attribute.VERIFY: True, Attribute.PRIVATE: False},
            private_template={
                Attribute.SIGN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.DECRYPT: False,
                Attribute.DERIVE: False,
                Attribute.UNWRAP: False,
            },
        )
    except (p11.MechanismInvalid, p11.DomainParamsInvalid, p11.TemplateInconsistent) as exc:
        raise KeyUnusable(
            f"PKCS#11 token {token!r} cannot make Ed25519 keys "
            f"(CKM_EC_EDWARDS_KEY_PAIR_GEN on edwards25519): {type(exc).__name__}"
        ) from exc
    except (p11.SessionReadOnly, p11.TokenWriteProtected) as exc:
        raise KeyUnusable(
            f"PKCS#11 token {token!r} does not let this session store keys "
            f"({type(exc).__name__}); open it writable"
        ) from exc


def attribute(obj: pkcs11.Object, name: Attribute) -> Any:
    """The value of attribute ``name`` of ``obj``; raises :class:`KeyUnusable`."""
    try:
        return obj[name]
    except p11.PKCS11Error as exc:
        raise KeyUnusable(f"the token cannot tell {name.name}: {type(exc).__name__}") from exc


def raw(public: Ed25519PublicKey) -> bytes:
    """The 32 bytes of an Ed25519 public key."""
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _name(key_type: object) -> str:
    return key_type.name if isinstance(key_type, KeyType) else str(key_type)
