"""The audit log, its checkpoints and witnesses, and the logs this node witnesses.

* ``audit_entry``, ``audit_block``, ``audit_head``: the audit log (RFC 9162 leaves,
  the hash of every complete aligned block above them, and the log's size, root and
  right frontier); ``audit_entry_view``: every packet a batch entry covers beyond its
  top-level jti, by jti (searching by jti finds the batch); ``audit_checkpoint`` and
  ``audit_cosignature``: its signed checkpoints and the witnesses' cosignatures on them.
* ``witnessed_log``: the latest checkpoint of each peer's log this node cosigned;
  ``audit_alert``: peers caught showing an inconsistent log, and this node's own log
  gone unwitnessed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import id_column, utc_column

__all__ = [
    "AuditAlert",
    "AuditBlock",
    "AuditCheckpoint",
    "AuditCosignature",
    "AuditEntry",
    "AuditEntryView",
    "AuditHead",
    "WitnessedLog",
]


class AuditEntry(SQLModel, table=True):
    """One audit log entry: its canonical JSON (the leaf input) and leaf hash."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_act", "act", "seq"),
        Index("ix_audit_entry_peer", "peer", "seq"),
        Index("ix_audit_entry_actor", "actor", "seq"),
        Index("ix_audit_entry_jti", "jti"),
        Index("ix_audit_entry_time", "time"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    time: datetime = Field(sa_column=utc_column())
    act: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    peer: str | None = Field(default=None, max_length=64)
    jti: str | None = Field(default=None, max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditEntryView(SQLModel, table=True):
    """A packet an audit entry covers beyond its top-level ``jti``: one of the ``views``
    of a batch entry (:meth:`protocol.audit.Act.covers`). Written with the entry, never
    changed; keyed by ``(jti, seq)`` so the search by jti is an index range. Entries of
    one view (and all entries written before batches) are found by ``audit_entry.jti``."""

    __tablename__ = "audit_entry_view"

    jti: str = Field(max_length=64, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class AuditBlock(SQLModel, table=True):
    """The hash of complete aligned block ``idx`` at ``level`` >= 1 (2**level leaves)."""

    __tablename__ = "audit_block"

    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditHead(SQLModel, table=True):
    """The log's one head row: size, root and right frontier; locked by every append."""

    __tablename__ = "audit_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A checkpoint this node signed: the signed note (without cosignatures)."""

    __tablename__ = "audit_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    signed_at: datetime = Field(sa_column=utc_column())


class AuditCosignature(SQLModel, table=True):
    """A witness's cosignature/v1 line on one of this node's checkpoints."""

    __tablename__ = "audit_cosignature"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness: str = Field(max_length=64, primary_key=True)
    line: str = Field(sa_column=Column(Text, nullable=False))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = Field(sa_column=utc_column())


class WitnessedLog(SQLModel, table=True):
    """The latest checkpoint of ``peer``'s log that this node verified and cosigned."""

    __tablename__ = "witnessed_log"

    peer: str = Field(max_length=64, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column())


class AuditAlert(SQLModel, table=True):
    """A peer caught showing a log inconsistent with one this node cosigned."""

    __tablename__ = "audit_alert"

    id: int | None = Field(default=None, sa_column=id_column())
    peer: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)  # fork | rollback | bad-proof | bad-signature
    detail: str = Field(sa_column=Column(Text, nullable=False))
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    raised_at: datetime = Field(sa_column=utc_column())
