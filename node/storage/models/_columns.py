"""Column types and columns the node's tables share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Dialect, Integer, TypeDecorator

__all__ = ["BIG_ID", "UTCDateTime", "id_column", "utc_column"]


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


def utc_column(nullable: bool = False) -> Any:
    """A timezone-aware UTC timestamp column."""
    return Column(UTCDateTime(), nullable=nullable)


def id_column() -> Any:
    """An auto-incremented 64-bit primary key (an INTEGER one on SQLite)."""
    return Column(BIG_ID, primary_key=True, autoincrement=True)
