"""The node's tables (SQLModel). Storage models, not wire models.

* ``packet``: every packet this node holds — issued here (``origin = 'local'``,
  the full SD-JWT) or received (``origin`` = the peer it came from, the exact
  view text received) — with what was parsed from it. One row per (jti, digest).
* ``outbox``: one row per view owed to a peer, written with the packet before
  any network I/O; its id is the catch-up cursor.
* ``delivery_receipt``: the receipts peers signed for the views pushed to them, each
  kept once (a batch receipt covers many outbox rows: ``receipt_id``, ``receipt_index``).
* ``inbound_refusal``: views refused at receipt (rejected, quarantined for
  over-disclosure, or deferred as issued in the future) with the reason: never their
  text (it may hold values the policy withholds), only its SHA-256 and its JWS header.
  Never processed; bounded per peer and purged after a retention period.
* ``seen_nonce``: RFC 9421 nonces of peers' requests, against replays.
* ``peer_cursor``: how far this node has pulled each peer's catch-up feed.
* ``node_counter``: exact counters kept in the same transaction as their act.
* ``audit_entry``, ``audit_block``, ``audit_head``: the audit log (RFC 9162 leaves,
  the hash of every complete aligned block above them, and the log's size, root and
  right frontier); ``audit_entry_view``: every packet a batch entry covers beyond its
  top-level jti, by jti (searching by jti finds the batch); ``audit_checkpoint`` and
  ``audit_cosignature``: its signed checkpoints and the witnesses' cosignatures on them.
* ``witnessed_log``: the latest checkpoint of each peer's log this node cosigned;
  ``audit_alert``: peers caught showing an inconsistent log.
* ``manifest``: every manifest this node accepted, as received (signatures too); the
  highest serial is the one in force (replicas of a node share it).
* ``finding_head``: per finding identity (analyzer, kind, subject, period), the result
  of this node that last reported it: what the next version names in ``supersedes``.
* ``authorisation``: oversight authorisations this node took on, as originator (it
  sends the unlocked fields) or as recipient (they came with a view).
* ``record_key``: per schema and natural key (a UCDP event id), the packet this node
  issued for it and the digest of what the record said: a record sent again is
  answered with that packet, a revision refused (409).
* ``idempotency_key``: per token and ``Idempotency-Key``, the request's body digest
  and, once answered, the answer, to give again for the same key and body.
* ``situation_finding``, ``packet_place``, ``packet_actor``: derived from ``packet``
  in the same transaction, for the common situation to answer from the database at any
  size: each finding held, flat, its latest version marked; where each held record
  took place and which actors it names (:mod:`node.storage.situation_index`).

The tables of who may read (people, sessions, pending sign-ins, node secrets) are in
:mod:`node.storage.access_models`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "AnalysisQueue",
    "AnalysisRun",
    "AnalyzerStateEntry",
    "AuditAlert",
    "AuditBlock",
    "AuditCheckpoint",
    "AuditCosignature",
    "AuditEntry",
    "AuditEntryView",
    "AuditHead",
    "DeliveryReceipt",
    "FindingHead",
    "HeldManifest",
    "IdempotencyRecord",
    "InboundRefusal",
    "NodeCounter",
    "OutboxItem",
    "OutboxView",
    "OversightAuthorisation",
    "PacketActor",
    "PacketPlace",
    "PeerCursor",
    "RecordKey",
    "SeenNonce",
    "SituationFinding",
    "StoredPacket",
    "WitnessedLog",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use UTC-aware datetimes")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # PostgreSQL answers in the session's TimeZone (server default, PGTZ): make it UTC.
        return value.astimezone(UTC)


#: 64-bit ids on PostgreSQL; SQLite auto-increments only an INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _utc(nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


def _id() -> Any:
    return Column(BIG_ID, primary_key=True, autoincrement=True)


class StoredPacket(SQLModel, table=True):
    __tablename__ = "packet"
    __table_args__ = (
        UniqueConstraint("jti", "digest", name="uq_packet_ref"),
        Index("ix_packet_schema_stored", "schema_id", "id"),
        Index("ix_packet_origin", "origin", "id"),
        Index("ix_packet_schema_origin", "schema_id", "origin"),  # the stats' counts
    )

    id: int | None = Field(default=None, sa_column=_id())
    jti: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    issuer: str = Field(max_length=64, index=True)
    kid: str = Field(max_length=64)
    schema_id: str = Field(max_length=64)
    hc: str = Field(max_length=2)
    hcr: str | None = Field(default=None, sa_column=Column(Text))
    issued_at: datetime = Field(sa_column=_utc())
    origin: str = Field(max_length=64)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    claims: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    stored_at: datetime = Field(sa_column=_utc())


class OutboxItem(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "recipient", "state", "next_attempt_at"),
        Index("ix_outbox_feed", "recipient", "id"),
        Index("ix_outbox_packet", "jti", "recipient"),  # which views of a packet went where
    )

    id: int | None = Field(default=None, sa_column=_id())
    recipient: str = Field(max_length=64)
    packet_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    jti: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    state: str = Field(max_length=16, default="pending")  # pending | delivered | refused
    attempts: int = 0
    created_at: datetime = Field(sa_column=_utc())
    next_attempt_at: datetime = Field(sa_column=_utc())
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    delivered_via: str | None = Field(default=None, max_length=8)  # push | pull
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    #: the peer's signed receipt for the view (a :class:`DeliveryReceipt`, kept once per
    #: batch) and the view's position in it: the evidence per view
    receipt_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    receipt_index: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    #: when the view was last offered to its recipient in a catch-up page
    offered_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    #: the oversight authorisation that unlocked more than the policy grants (its id)
    authorisation_id: str | None = Field(default=None, max_length=64)
    #: when the recipient first deferred the view (receipt status 'deferred'), if it did
    deferred_since: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class OutboxView(SQLModel, table=True):
    """The text of an outbox row's view (:class:`OutboxItem`, by its id), kept apart from
    the row: a view is about 5 KB, and SQLite writes a whole row again, overflow pages
    included, each time delivery leases it and settles it."""

    __tablename__ = "outbox_view"

    item_id: int = Field(sa_column=Column(BIG_ID, primary_key=True, autoincrement=False))
    view: str = Field(sa_column=Column(Text, nullable=False))


class DeliveryReceipt(SQLModel, table=True):
    """A receipt a peer signed for views this node pushed, kept once: a batch receipt
    (one per delivered batch) or an older peer's per-view receipt."""

    __tablename__ = "delivery_receipt"

    id: int | None = Field(default=None, sa_column=_id())
    recipient: str = Field(max_length=64)
    jws: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=_utc())


class InboundRefusal(SQLModel, table=True):
    __tablename__ = "inbound_refusal"
    __table_args__ = (
        Index("ix_inbound_refusal_peer_id", "peer", "id"),  # the newest rows of a peer
        Index("ix_inbound_refusal_received", "received_at"),  # the retention purge
    )

    id: int | None = Field(default=None, sa_column=_id())
    peer: str = Field(max_length=64)
    disposition: str = Field(max_length=16)  # rejected | quarantined | deferred
    code: str = Field(max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    jti: str | None = Field(default=None, max_length=64)
    digest: str | None = Field(default=None, max_length=64)
    #: SHA-256 (hex) of the view's text as received (UTF-8): names it without holding it
    sha256: str = Field(max_length=64)
    #: the view's start up to its first '.' or '~' (the JWS protected header of a
    #: well-formed view: alg, typ, kid), at most 200 characters, NULs escaped
    prefix: str = Field(sa_column=Column(Text, nullable=False))
    #: the view's length in characters
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = Field(sa_column=_utc())


class SeenNonce(SQLModel, table=True):
    __tablename__ = "seen_nonce"

    peer: str = Field(max_length=64, primary_key=True)
    nonce: str = Field(max_length=128, primary_key=True)
    seen_at: datetime = Field(sa_column=_utc())


class PeerCursor(SQLModel, table=True):
    __tablename__ = "peer_cursor"

    peer: str = Field(max_length=64, primary_key=True)
    cursor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=_utc())


class NodeCounter(SQLModel, table=True):
    __tablename__ = "node_counter"

    name: str = Field(max_length=64, primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class AnalysisQueue(SQLModel, table=True):
    """Packets waiting for this node's analyzer, in the order they were stored."""

    __tablename__ = "analysis_queue"

    id: int | None = Field(default=None, sa_column=_id())
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False, unique=True))
    enqueued_at: datetime = Field(sa_column=_utc())


class AnalysisRun(SQLModel, table=True):
    """One analysis of one packet: what ran, what it found, which result it issued."""

    __tablename__ = "analysis_run"
    __table_args__ = (Index("ix_analysis_run_packet", "packet_id"),)

    id: int | None = Field(default=None, sa_column=_id())
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False))
    analyzer_id: str = Field(max_length=128)
    analyzer_version: str = Field(max_length=64)
    findings: int = 0
    result_packet_id: int | None = Field(default=None, sa_column=Column(BIG_ID, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text))
    ran_at: datetime = Field(sa_column=_utc())


class AnalyzerStateEntry(SQLModel, table=True):
    """One key of an analyzer's state (JSON), persisted with the results it led to."""

    __tablename__ = "analyzer_state"

    analyzer_id: str = Field(max_length=128, primary_key=True)
    key: str = Field(max_length=512, primary_key=True)
    value: Any = Field(sa_column=Column(JSON, nullable=True))


class FindingHead(SQLModel, table=True):
    """The result of this node that carries the latest version of one finding."""

    __tablename__ = "finding_head"

    analyzer_id: str = Field(max_length=128, primary_key=True)
    #: SHA-256 (hex) of the finding's identity, ``analyzers.converge.finding_key``
    key_sha256: str = Field(max_length=64, primary_key=True)
    finding_key: str = Field(sa_column=Column(Text, nullable=False))
    result_jti: str = Field(max_length=36)
    result_digest: str = Field(max_length=64)
    withdrawn: bool = False


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
    time: datetime = Field(sa_column=_utc())
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
    signed_at: datetime = Field(sa_column=_utc())


class AuditCosignature(SQLModel, table=True):
    """A witness's cosignature/v1 line on one of this node's checkpoints."""

    __tablename__ = "audit_cosignature"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness: str = Field(max_length=64, primary_key=True)
    line: str = Field(sa_column=Column(Text, nullable=False))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = Field(sa_column=_utc())


class WitnessedLog(SQLModel, table=True):
    """The latest checkpoint of ``peer``'s log that this node verified and cosigned."""

    __tablename__ = "witnessed_log"

    peer: str = Field(max_length=64, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_utc())


class AuditAlert(SQLModel, table=True):
    """A peer caught showing a log inconsistent with one this node cosigned."""

    __tablename__ = "audit_alert"

    id: int | None = Field(default=None, sa_column=_id())
    peer: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)  # fork | rollback | bad-proof | bad-signature
    detail: str = Field(sa_column=Column(Text, nullable=False))
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    raised_at: datetime = Field(sa_column=_utc())


class HeldManifest(SQLModel, table=True):
    """A manifest this node accepted: the document as received, and where from."""

    __tablename__ = "manifest"

    serial: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    federation: str = Field(max_length=128)
    sha256: str = Field(max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=128)  # file | token:<name> | peer:<id>
    accepted_at: datetime = Field(sa_column=_utc())


class OversightAuthorisation(SQLModel, table=True):
    """An oversight authorisation this node took on (signed document as received)."""

    __tablename__ = "authorisation"
    __table_args__ = (Index("ix_authorisation_expiry", "expires_at"),)

    id: str = Field(max_length=64, primary_key=True)
    issuer: str = Field(max_length=64)
    recipient: str = Field(max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = Field(sa_column=_utc())
    source: str = Field(max_length=128)  # token:<name> | peer:<id>
    accepted_at: datetime = Field(sa_column=_utc())


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
    created_at: datetime = Field(sa_column=_utc())


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
    created_at: datetime = Field(sa_column=_utc())
    expires_at: datetime = Field(sa_column=_utc())


class SituationFinding(SQLModel, table=True):
    """One finding of one result held, flat, for the common situation to query.

    Derived from the result packets (``packet``), in the same transaction that stores
    them: nothing here is evidence, everything can be rebuilt from ``packet``.
    ``latest`` marks, per finding identity (issuer, analyzer, kind, subject, period),
    the version the situation shows (:mod:`node.storage.situation_index`).
    """

    __tablename__ = "situation_finding"
    __table_args__ = (
        UniqueConstraint("packet_id", "finding_no", name="uq_situation_finding"),
        Index("ix_situation_finding_identity", "identity_sha256", "supersedes_jti"),
        Index("ix_situation_finding_latest", "latest", "period_last", "period_first"),
        Index("ix_situation_finding_area", "country", "admin1"),
        Index("ix_situation_finding_actor", "actor_key"),
        Index("ix_situation_finding_held", "held_at"),
    )

    id: int | None = Field(default=None, sa_column=_id())
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False))
    finding_no: int
    result_jti: str = Field(max_length=64)
    result_sha256: str = Field(max_length=64)
    participant: str = Field(max_length=64)
    analyzer: str = Field(max_length=128)
    analyzer_version: str = Field(max_length=64)
    #: SHA-256 (hex) of the finding's identity: JSON [issuer, analyzer, kind, subject, period]
    identity_sha256: str = Field(max_length=64)
    supersedes_jti: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=128)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    #: the actor the finding is about, as named, and casefolded (for pages and filters)
    actor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor_key: str | None = Field(default=None, max_length=255)
    country: str | None = Field(default=None, max_length=255)
    admin1: str | None = Field(default=None, max_length=255)
    period: str | None = Field(default=None, max_length=64)
    #: the first and last month (YYYY-MM) the period covers, for month-range filters
    period_first: str | None = Field(default=None, max_length=7)
    period_last: str | None = Field(default=None, max_length=7)
    level: str | None = Field(default=None, max_length=32)
    #: 0 low .. 3 critical; -1 without a level (for sorting and "at least" filters)
    level_rank: int = -1
    score: float | None = None
    events: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    fatalities: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    withdrawn: bool = False
    latest: bool = False
    hc: str = Field(max_length=2)
    hcr: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    issued_at: datetime = Field(sa_column=_utc())
    #: when this node stored the result (the as-of view replays this)
    held_at: datetime = Field(sa_column=_utc())
    finding: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    input: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class PacketPlace(SQLModel, table=True):
    """Where a held record (an event, a market price, a seizure) took place, as far as
    the view this node holds discloses it: what the map places findings with."""

    __tablename__ = "packet_place"
    __table_args__ = (
        # covering the two aggregates per area: records and deaths per month; centroids
        Index("ix_packet_place_area_month", "country", "admin1", "month", "fatalities"),
        Index("ix_packet_place_area_point", "country", "admin1", "precision", "lat", "lon"),
    )

    packet_id: int = Field(sa_column=Column(BIG_ID, primary_key=True, autoincrement=False))
    country: str | None = Field(default=None, max_length=255)
    admin1: str | None = Field(default=None, max_length=255)
    lat: float | None = None
    lon: float | None = None
    #: "coordinates" or "cell" (the 0.5-degree cell of generalised coordinates)
    precision: str | None = Field(default=None, max_length=16)
    month: str | None = Field(default=None, max_length=7)
    fatalities: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class PacketActor(SQLModel, table=True):
    """An actor a held record names (a conflict event's sides), for the actor pages."""

    __tablename__ = "packet_actor"

    packet_id: int = Field(sa_column=Column(BIG_ID, primary_key=True, autoincrement=False))
    actor_key: str = Field(max_length=255, primary_key=True, index=True)
    actor: str = Field(sa_column=Column(Text, nullable=False))
