"""The Clearinghouse wire protocol: pure, with no web, database or network code.

Record schemas (:mod:`protocol.schemas`), SD-JWT packets and views
(:mod:`protocol.packet` over :mod:`protocol.sdjwt`), pseudonyms and their key
epochs (:mod:`protocol.pseudonyms`), sharing policies
(:mod:`protocol.policy`), the signed federation manifest (:mod:`protocol.manifest`),
Ed25519 keys as JWKs (:mod:`protocol.keys`) and the error tree
(:mod:`protocol.errors`). Only the standard library, ``cryptography``, ``rfc8785``
and ``pydantic`` are imported here.
"""

from protocol.errors import ProtocolError
from protocol.manifest import Manifest, parse_manifest, sign_manifest, verify_manifest
from protocol.packet import (
    IssuedPacket,
    PacketRef,
    VerifiedPacket,
    issue_packet,
    make_view,
    recipient_view,
    verify_view,
)
from protocol.policy import SharingPolicy
from protocol.pseudonyms import PseudonymKey
from protocol.schemas import SCHEMAS, get_schema

__all__ = [
    "SCHEMAS",
    "IssuedPacket",
    "Manifest",
    "PacketRef",
    "ProtocolError",
    "PseudonymKey",
    "SharingPolicy",
    "VerifiedPacket",
    "get_schema",
    "issue_packet",
    "make_view",
    "parse_manifest",
    "recipient_view",
    "sign_manifest",
    "verify_manifest",
    "verify_view",
]
