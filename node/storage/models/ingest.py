"""What local systems submitted: natural keys and idempotent requests.

* ``record_key``: per schema and natural key (a UCDP event id), the packet this node
  issued for it and the digest of what the record said: a record sent again is
  answered with that packet, a revision refused (409).
* ``idempotency_key``: per token and ``Idempotency-Key``, the request's body digest
  and, once answered, the answer, to give again for the same key and body.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import BIG_ID, utc_column

__all__ = ["IdempotencyRecord", "RecordKey"]


class RecordKey(SQLModel, table=True):
    """The packet this node issued for one natural key of one schema (a UCDP event id)."""

    __tablename__ = "record_key"

    schema_id: str = Field(max_length=64, primary_key=True)
    #: SHA-256 (hex) of the natural key, ``SchemaSpec.natural_key`` (any length of id)
    key_sha256: str = Field(max_length=64, primary_key=True)
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False))
    jti: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    #: ``SchemaSpec.record_digest``: what the record said, to tell a revision from a copy
    record_sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column())


class IdempotencyRecord(SQLModel, table=True):
    """A request sent with an ``Idempotency-Key``: its body's digest, and once answered,
    the answer (status and JSON body) to give again."""

    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_expiry", "expires_at"),)

    #: the name of the calling token: keys of different clients never collide
    token: str = Field(max_length=255, primary_key=True)
    key: str = Field(max_length=255, primary_key=True)
    request_sha256: str = Field(max_length=64)
    status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
