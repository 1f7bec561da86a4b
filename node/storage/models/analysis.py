"""This node's analyzer: its queue, its runs, its state, and its findings' heads.

* ``analysis_queue``: packets waiting for the analyzer; ``analysis_run``: each packet
  it analysed, with the result it issued (if any) or the error.
* ``analyzer_state``: the analyzer's state, one JSON value per key, persisted with the
  results it led to.
* ``finding_head``: per finding identity (analyzer, kind, subject, period), the result
  of this node that last reported it: what the next version names in ``supersedes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import BIG_ID, id_column, utc_column

__all__ = ["AnalysisQueue", "AnalysisRun", "AnalyzerStateEntry", "FindingHead"]


class AnalysisQueue(SQLModel, table=True):
    """Packets waiting for this node's analyzer, in the order they were stored."""

    __tablename__ = "analysis_queue"

    id: int | None = Field(default=None, sa_column=id_column())
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False, unique=True))
    enqueued_at: datetime = Field(sa_column=utc_column())


class AnalysisRun(SQLModel, table=True):
    """One analysis of one packet: what ran, what it found, which result it issued."""

    __tablename__ = "analysis_run"
    __table_args__ = (Index("ix_analysis_run_packet", "packet_id"),)

    id: int | None = Field(default=None, sa_column=id_column())
    packet_id: int = Field(sa_column=Column(BIG_ID, nullable=False))
    analyzer_id: str = Field(max_length=128)
    analyzer_version: str = Field(max_length=64)
    findings: int = 0
    result_packet_id: int | None = Field(default=None, sa_column=Column(BIG_ID, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text))
    ran_at: datetime = Field(sa_column=utc_column())


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
