"""SQLAlchemy Core pieces the repositories share, typed for ``mypy --strict``.

The repositories write their hot statements in Core (executemany, ``ON CONFLICT``,
``RETURNING``) rather than through the ORM. Three things they need are untyped or
dialect-specific in SQLAlchemy and SQLModel, and are given a typed form here once:

* :func:`table_of` — the :class:`~sqlalchemy.Table` behind a table model (SQLModel
  sets ``__table__`` at class creation but declares no such attribute);
* :func:`upsert_insert` — an ``INSERT`` that can say ``ON CONFLICT``, in the dialect
  of the session's database (PostgreSQL or SQLite: the two the node runs on);
* :func:`rowcount` — the rows a DML statement matched (``Session.execute`` is typed
  to return a plain :class:`~sqlalchemy.engine.Result`, which has no row count).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlmodel import Session, SQLModel

__all__ = ["UpsertInsert", "rowcount", "table_of", "upsert_insert"]

#: An ``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update``.
UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert


def table_of(model: type[SQLModel]) -> Table:
    """The table a ``table=True`` model is mapped to.

    Raises TypeError for a model that is not mapped to one table (a programming error).
    """
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def upsert_insert(session: Session, target: type[SQLModel] | Table) -> UpsertInsert:
    """``INSERT INTO target`` in the dialect of ``session``'s database, so that the
    statement can say ``ON CONFLICT`` (both PostgreSQL and SQLite understand it)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


def rowcount(result: Result[Any]) -> int:
    """How many rows the ``UPDATE`` or ``DELETE`` that gave ``result`` matched (0 when
    the driver does not say).

    Raises TypeError if ``result`` came from a statement that returns rows instead.
    """
    if not isinstance(result, CursorResult):
        raise TypeError("a row count needs the result of an UPDATE or DELETE")
    return int(result.rowcount or 0)
