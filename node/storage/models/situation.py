"""The situation index, derived from ``packet`` in the same transaction.

``situation_finding``, ``packet_place``, ``packet_actor``: for the common situation to
answer from the database at any size: each finding held, flat, its latest version
marked; where each held record took place and which actors it names
(:mod:`node.storage.situation_index`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import BIG_ID, id_column, utc_column

__all__ = ["PacketActor", "PacketPlace", "SituationFinding"]


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

    id: int | None = Field(default=None, sa_column=id_column())
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
    issued_at: datetime = Field(sa_column=utc_column())
    #: when this node stored the result (the as-of view replays this)
    held_at: datetime = Field(sa_column=utc_column())
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
