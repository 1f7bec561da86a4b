"""Natural keys: which records of a batch are new, and which repeat a packet held.

A record whose schema has a natural key (:meth:`protocol.schemas.SchemaSpec.natural_key`)
and whose key names a packet this node issued already is not issued again: it is a
duplicate of that packet if it says the same
(:meth:`~protocol.schemas.SchemaSpec.record_digest`), and a revision, refused with 409,
if it says something else. Within a batch the first record of a key counts as held for
the later ones (its *followers*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearinghouse.node.errors import RecordConflict
from clearinghouse.node.services.ingest._result import IngestResult, RecordRejected
from clearinghouse.node.storage import record_keys
from clearinghouse.node.storage.record_keys import HeldKey
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.schemas import SchemaSpec

__all__ = ["Candidate", "answer_followers", "answer_held", "key_records", "partition"]


@dataclass
class Candidate:
    """A record of the batch that is a JSON object, with its index in the batch."""

    index: int
    record: Mapping[str, Any]
    #: the stored form of its natural key (None: the schema has none)
    key: str | None = None
    record_sha256: str = ""
    #: the record as the schema validated it, if it was validated to key it (it is
    #: then issued as it is, not validated again)
    claims: dict[str, Any] | None = None


def key_records(
    spec: SchemaSpec,
    records: Sequence[Any],
    *,
    hc: str,
    hcr: str | None,
    result: IngestResult,
) -> list[Candidate]:
    """Each record that is an object, with its natural key and digest if the schema has
    a key (validating it for that, and keeping the validated claims for issuing); the
    others go to ``result.rejected``."""
    out: list[Candidate] = []
    for index, record in enumerate(records):
        try:
            if not isinstance(record, Mapping):
                raise ProtocolError(f"record {index} is not a JSON object")
            item = Candidate(index, record)
            if spec.natural_key_fields:
                claims = spec.validate_record(record)
                key = spec.natural_key(claims)
                item.key = record_keys.key_sha256(key) if key is not None else None
                item.record_sha256 = spec.record_digest(claims, hc=hc, hcr=hcr)
                item.claims = claims
        except ProtocolError as exc:
            result.rejected.append(RecordRejected(index, exc.code, exc.message))
            continue
        out.append(item)
    return out


def partition(
    spec: SchemaSpec,
    candidates: Sequence[Candidate],
    held: Mapping[str, HeldKey],
    result: IngestResult,
) -> tuple[list[Candidate], list[Candidate]]:
    """The records to issue, and those whose key an earlier record of the batch has;
    those whose key is held are answered in ``result``."""
    fresh: list[Candidate] = []
    followers: list[Candidate] = []
    leading: set[str] = set()
    for c in candidates:
        if c.key is None:
            fresh.append(c)
        elif c.key in held:
            answer_held(spec, c, held[c.key], result)
        elif c.key in leading:
            followers.append(c)
        else:
            leading.add(c.key)
            fresh.append(c)
    return fresh, followers


def answer_held(spec: SchemaSpec, record: Candidate, held: HeldKey, result: IngestResult) -> None:
    """A record whose natural key names a packet issued already: a duplicate of it, or
    (other content) a revision, refused with 409 naming the packet held."""
    if held.record_sha256 == record.record_sha256:
        result.accepted.append(
            {"index": record.index, "jti": held.jti, "sha256": held.digest, "outcome": "duplicate"}
        )
        return
    key = ", ".join(spec.natural_key_fields)
    result.rejected.append(
        RecordRejected(
            record.index,
            RecordConflict.code,
            f"a {spec.id} record with this {key} is held as packet {held.jti} with other "
            "content (a revision): it is not issued again; correct the packet held or "
            "give the revision a new key",
            status=RecordConflict.status,
            jti=held.jti,
        )
    )


def answer_followers(
    spec: SchemaSpec,
    followers: Sequence[Candidate],
    packet_of_key: Mapping[str, HeldKey],
    leaders: Sequence[Candidate],
    refused: Sequence[RecordRejected],
    result: IngestResult,
) -> None:
    """Answer each later record of a key seen earlier in the batch like a held one: by the
    packet now held for its key, or, if the first record of its key (among ``leaders``)
    was ``refused`` at issue, refused the same way."""
    key_of = {c.index: c.key for c in leaders}
    refused_leader = {key_of[r.index]: r for r in refused}
    for follower in followers:
        held = packet_of_key.get(follower.key) if follower.key is not None else None
        if held is not None:
            answer_held(spec, follower, held, result)
        else:
            leader = refused_leader[follower.key]
            result.rejected.append(RecordRejected(follower.index, leader.code, leader.detail))
