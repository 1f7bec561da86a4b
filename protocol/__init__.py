"""The Clearinghouse wire protocol: pure, with no web, database or network code.

Record schemas (:mod:`protocol.schemas`), SD-JWT packets and views
(:mod:`protocol.packet` over :mod:`protocol.sdjwt`), pseudonyms and their key
epochs (:mod:`protocol.pseudonyms`), sharing policies
(:mod:`protocol.policy`), the signed federation manifest (:mod:`protocol.manifest`),
Ed25519 keys as JWKs (:mod:`protocol.keys`) and the error tree
(:mod:`protocol.errors`). Only the standard library, ``cryptography``, ``rfc8785``
and ``pydantic`` are imported here.
"""

from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.manifest import Manifest, parse_manifest, sign_manifest, verify_manifest
from clearinghouse.protocol.packet import (
    IssuedPacket,
    PacketRef,
    VerifiedPacket,
    issue_packet,
    make_view,
    recipient_view,
    verify_view,
)
from clearinghouse.protocol.policy import SharingPolicy
from clearinghouse.protocol.pseudonyms import PseudonymKey
from clearinghouse.protocol.schemas import SCHEMAS, get_schema

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
