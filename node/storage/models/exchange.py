"""Packets and their exchange with peers.

* ``packet``: every packet this node holds — issued here (``origin = 'local'``,
  the full SD-JWT) or received (``origin`` = the peer it came from, the exact
  view text received) — with what was parsed from it. One row per (jti, digest).
* ``outbox``: one row per view owed to a peer, written with the packet before
  any network I/O; its id is the catch-up cursor. ``outbox_view``: each row's view
  text, apart (a row changes twice in delivery; its text never does).
* ``delivery_receipt``: the receipts peers signed for the views pushed to them, each
  kept once (a batch receipt covers many outbox rows: ``receipt_id``, ``receipt_index``).
* ``inbound_refusal``: views refused at receipt (rejected, quarantined for
  over-disclosure, or deferred as issued in the future) with the reason: never their
  text (it may hold values the policy withholds), only its SHA-256 and its JWS header.
  Never processed; bounded per peer and purged after a retention period.
* ``seen_nonce``: RFC 9421 nonces of peers' requests, against replays.
* ``peer_cursor``: how far this node has pulled each peer's catch-up feed.
* ``node_counter``: exact counters kept in the same transaction as their act.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import BIG_ID, id_column, utc_column

__all__ = [
    "DeliveryReceipt",
    "InboundRefusal",
    "NodeCounter",
    "OutboxItem",
    "OutboxView",
    "PeerCursor",
    "SeenNonce",
    "StoredPacket",
]


class StoredPacket(SQLModel, table=True):
    __tablename__ = "packet"
    __table_args__ = (
        UniqueConstraint("jti", "digest", name="uq_packet_ref"),
        Index("ix_packet_schema_stored", "schema_id", "id"),
        Index("ix_packet_origin", "origin", "id"),
        Index("ix_packet_schema_origin", "schema_id", "origin"),  # the stats' counts
    )

    id: int | None = Field(default=None, sa_column=id_column())
    jti: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    issuer: str = Field(max_length=64, index=True)
    kid: str = Field(max_length=64)
    schema_id: str = Field(max_length=64)
    hc: str = Field(max_length=2)
    hcr: str | None = Field(default=None, sa_column=Column(Text))
    issued_at: datetime = Field(sa_column=utc_column())
    origin: str = Field(max_length=64)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    claims: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    stored_at: datetime = Field(sa_column=utc_column())


class OutboxItem(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "recipient", "state", "next_attempt_at"),
        Index("ix_outbox_feed", "recipient", "id"),
        Index("ix_outbox_packet", "jti", "recipient"),  # which views of a packet went where
    )

    id: int | None = Field(default=None, sa_column=id_column())
    recipient: str = Field(max_length=64)
    packet_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    jti: str = Field(max_length=64)
    digest: str = Field(max_length=64)
    state: str = Field(max_length=16, default="pending")  # pending | delivered | refused
    attempts: int = 0
    created_at: datetime = Field(sa_column=utc_column())
    next_attempt_at: datetime = Field(sa_column=utc_column())
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    delivered_via: str | None = Field(default=None, max_length=8)  # push | pull
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    #: the peer's signed receipt for the view (a :class:`DeliveryReceipt`, kept once per
    #: batch) and the view's position in it: the evidence per view
    receipt_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    receipt_index: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    #: when the view was last offered to its recipient in a catch-up page
    offered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    #: the oversight authorisation that unlocked more than the policy grants (its id)
    authorisation_id: str | None = Field(default=None, max_length=64)
    #: when the recipient first deferred the view (receipt status 'deferred'), if it did
    deferred_since: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


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

    id: int | None = Field(default=None, sa_column=id_column())
    recipient: str = Field(max_length=64)
    jws: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=utc_column())


class InboundRefusal(SQLModel, table=True):
    __tablename__ = "inbound_refusal"
    __table_args__ = (
        Index("ix_inbound_refusal_peer_id", "peer", "id"),  # the newest rows of a peer
        Index("ix_inbound_refusal_received", "received_at"),  # the retention purge
    )

    id: int | None = Field(default=None, sa_column=id_column())
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
    received_at: datetime = Field(sa_column=utc_column())


class SeenNonce(SQLModel, table=True):
    __tablename__ = "seen_nonce"

    peer: str = Field(max_length=64, primary_key=True)
    nonce: str = Field(max_length=128, primary_key=True)
    seen_at: datetime = Field(sa_column=utc_column())


class PeerCursor(SQLModel, table=True):
    __tablename__ = "peer_cursor"

    peer: str = Field(max_length=64, primary_key=True)
    cursor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column())


class NodeCounter(SQLModel, table=True):
    __tablename__ = "node_counter"

    name: str = Field(max_length=64, primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
