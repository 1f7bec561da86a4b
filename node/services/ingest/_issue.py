"""Signing: each new record of a batch issued as a packet, with one key for the batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.services.ingest._keys import Candidate
from clearinghouse.node.services.ingest._result import RecordRejected
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.packet import IssuedPacket, issue_packet
from clearinghouse.protocol.pseudonyms import PseudonymKey

__all__ = ["issue_records"]


def issue_records(
    fresh: Sequence[Candidate],
    *,
    schema: str,
    issuer: str,
    signing: SigningKey,
    pseudonym_key: PseudonymKey | None,
    now: datetime,
    hc: str,
    hc_restriction: str | None,
) -> tuple[list[tuple[Candidate, IssuedPacket]], list[RecordRejected]]:
    """The packets issued for ``fresh`` (signed by ``issuer`` with ``signing``, fields
    pseudonymised with ``pseudonym_key``), and the records refused at issue."""
    issued: list[tuple[Candidate, IssuedPacket]] = []
    failed: list[RecordRejected] = []
    for item in fresh:
        try:
            packet = issue_packet(
                item.record if item.claims is None else item.claims,
                schema=schema,
                issuer=issuer,
                key=signing.key,
                kid=signing.kid,
                now=now,
                pseudonym_key=pseudonym_key.key if pseudonym_key else None,
                pseudonym_epoch=pseudonym_key.epoch if pseudonym_key else None,
                hc=hc,
                hc_restriction=hc_restriction,
                validated=item.claims is not None,  # validated once, by key_records
            )
        except ProtocolError as exc:
            failed.append(RecordRejected(item.index, exc.code, exc.message))
            continue
        issued.append((item, packet))
    return issued, failed
