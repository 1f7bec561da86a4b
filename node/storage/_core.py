"""SQLAlchemy Core pieces the repositories share, typed for ``mypy --strict``.

The repositories write their hot statements in Core (executemany, ``ON CONFLICT``,
``RETURNING``) rather than through the ORM. Three things they need are untyped or
dialect-specific in SQLAlchemy and SQLModel, and are given a typed form here once:

* :func:`table_of` — the :class:`~sqlalchemy.Table` behind a table model (SQLModel
  sets ``__table__`` at class creation but declares no such attribute);
* :func:`upsert_insert` — an ``INSERT`` that can say ``ON CONFLICT``, in the dialect
  of the session's database (PostgreSQL or SQLite: the two the node runs on);
* :func:`rowcount` — the rows a DML statement matched (``Session.execute`` is typed
  to return a plain :class:`~sqlalchemy.engine.Result`, which has no row count);
* :func:`driver_executemany` — an executemany handed to the driver with each value
  converted as SQLAlchemy converts it, the values every row shares once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Dialect, Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session, SQLModel

__all__ = ["UpsertInsert", "driver_executemany", "rowcount", "table_of", "upsert_insert"]

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


#: SQLite's dialect with named parameters (``:name``): the rows :func:`driver_executemany`
#: hands the driver are the same dicts on both databases (psycopg's are named too).
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


@dataclass(frozen=True)
class _DriverForm:
    """A statement as :func:`driver_executemany` runs it on one kind of database: its SQL,
    and how SQLAlchemy would convert each bound value that it converts (by name)."""

    sql: str
    conversions: Mapping[str, Callable[[Any], Any]]


#: Each statement's form, per engine's dialect (forgotten with the engine).
_DRIVER_FORMS: WeakKeyDictionary[Dialect, dict[UpdateBase, _DriverForm]] = WeakKeyDictionary()


def _driver_form(statement: UpdateBase, dialect: Dialect) -> _DriverForm:
    """``statement`` compiled for an executemany on ``dialect``'s database, once."""
    forms = _DRIVER_FORMS.setdefault(dialect, {})
    form = forms.get(statement)
    if form is None:
        compiling = _SQLITE_NAMED if dialect.name == "sqlite" else dialect
        compiled = statement.compile(dialect=compiling, for_executemany=True)
        conversions = {
            name: convert
            for name, bind in compiled.binds.items()
            if (convert := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        form = forms[statement] = _DriverForm(compiled.string, conversions)
    return form


def driver_executemany(
    connection: Connection,
    statement: UpdateBase,
    rows: Sequence[Mapping[str, Any]],
    *,
    shared: Mapping[str, Any],
) -> CursorResult[Any]:
    """Run ``statement`` once per row of ``rows`` with the values ``shared`` by every row
    (in the place of the rows' own): one executemany, handed to the driver as SQLAlchemy
    would hand it.

    SQLAlchemy's executemany goes over every bound value of every row in Python and
    converts each timestamp again, row after row: for a batch of views that cost about
    as much as the driver's work. Here the statement is compiled once per database kind
    (the SQL SQLAlchemy runs, with named parameters on SQLite), each value is converted
    as SQLAlchemy converts it (:func:`_driver_rows`), and a shared one once per batch. A
    value SQLAlchemy refuses (a naive time) is left to it to refuse, in its own words.
    Errors are SQLAlchemy's (the connection runs the SQL, with its events and
    ``hide_parameters``)."""
    form = _driver_form(statement, connection.dialect)
    try:
        params = _driver_rows(form.conversions, rows, shared)
    except Exception:  # SQLAlchemy refuses it: let it say so
        return connection.execute(statement, [{**row, **shared} for row in rows])
    return connection.exec_driver_sql(form.sql, params)


def _driver_rows(
    conversions: Mapping[str, Callable[[Any], Any]],
    rows: Sequence[Mapping[str, Any]],
    shared: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Each row with the ``shared`` values, every value converted as its column's type
    converts it for the driver (the shared ones once, not once per row)."""
    same = {
        name: conversions[name](value) if name in conversions else value
        for name, value in shared.items()
    }
    own = [(name, convert) for name, convert in conversions.items() if name not in shared]
    if not own:
        return [{**row, **same} for row in rows]
    return [{**row, **same, **{name: convert(row[name]) for name, convert in own}} for row in rows]
