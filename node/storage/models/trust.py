"""The federation's trust: the manifests accepted and the oversight authorisations.

* ``manifest``: every manifest this node accepted, as received (signatures too); the
  highest serial is the one in force (replicas of a node share it).
* ``authorisation``: oversight authorisations this node took on, as originator (it
  sends the unlocked fields) or as recipient (they came with a view).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from clearinghouse.node.storage.models._columns import utc_column

__all__ = ["HeldManifest", "OversightAuthorisation"]


class HeldManifest(SQLModel, table=True):
    """A manifest this node accepted: the document as received, and where from."""

    __tablename__ = "manifest"

    serial: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    federation: str = Field(max_length=128)
    sha256: str = Field(max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=128)  # file | token:<name> | peer:<id>
    accepted_at: datetime = Field(sa_column=utc_column())


class OversightAuthorisation(SQLModel, table=True):
    """An oversight authorisation this node took on (signed document as received)."""

    __tablename__ = "authorisation"
    __table_args__ = (Index("ix_authorisation_expiry", "expires_at"),)

    id: str = Field(max_length=64, primary_key=True)
    issuer: str = Field(max_length=64)
    recipient: str = Field(max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = Field(sa_column=utc_column())
    source: str = Field(max_length=128)  # token:<name> | peer:<id>
    accepted_at: datetime = Field(sa_column=utc_column())
