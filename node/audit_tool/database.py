"""Read a node's whole audit log from its database, read only.

:func:`open_database`: entries in chunks of seq, every stored checkpoint with its
witnesses' cosignature lines and the time the node recorded signing it, and an
RFC 9162 consistency proof from the stored tree (``audit_block``) between
successive checkpoints. It streams: memory does not grow with the log. Failures
are :class:`~node.audit_tool.errors.AccessFailed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session

from clearinghouse.node.audit_tool.errors import AccessFailed
from clearinghouse.node.audit_tool.log import (
    Item,
    Log,
    StoredCheckpoint,
    StoredEntry,
    interleave,
    make_header,
    participant_of,
    with_lines,
)
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine
from clearinghouse.protocol.errors import MerkleError
from clearinghouse.protocol.manifest import Manifest

__all__ = ["CHECKPOINT_CHUNK", "DB_CHUNK", "open_database"]

DB_CHUNK = 5_000  # entries read in one query
CHECKPOINT_CHUNK = 1_000  # checkpoints read in one query


def _db_error(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


@contextmanager
def open_database(
    url: str,
    *,
    manifest: Manifest,
    manifest_source: str,
    participant: str | None = None,
    chunk: int = DB_CHUNK,
) -> Iterator[Log]:
    """The log in the database at ``url``; ``participant`` deduced from the checkpoints'
    origin if not given. Raises :class:`AccessFailed`."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise AccessFailed(f"not a database URL: {url!r}") from exc
    shown = parsed.render_as_string(hide_password=True)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:":
        if not Path(path).is_file():  # connecting would create an empty database
            raise AccessFailed(f"no SQLite database at {path}")
    try:
        engine = make_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise AccessFailed(f"cannot open {shown}: {exc}") from exc
    try:
        with Session(engine) as session:
            try:
                head = auditlog.head(session)
                first = auditlog.checkpoints_after(session, 0, limit=1)
            except SQLAlchemyError as exc:
                raise AccessFailed(
                    f"cannot read an audit log in {shown}: {_db_error(exc)} (is it a node's"
                    " database? 'clearinghouse db upgrade' migrates one)"
                ) from exc
            if participant is None:
                if not first:
                    raise AccessFailed("no checkpoint tells whose log this is: pass --participant")
                participant = participant_of(first[0].note.split("\n", 1)[0], manifest)
            source = f"database {shown}"
            header = make_header(
                source, manifest, manifest_source, participant, head.size, head.root
            )
            yield Log(header, _database_items(session, head.size, chunk, shown))
    finally:
        engine.dispose()


def _database_items(session: Session, size: int, chunk: int, shown: str) -> Iterator[Item]:
    try:
        yield from interleave(_db_entries(session, size, chunk), _db_checkpoints(session, size))
    except SQLAlchemyError as exc:
        raise AccessFailed(f"reading {shown} failed: {_db_error(exc)}") from exc


def _db_entries(session: Session, size: int, chunk: int) -> Iterator[StoredEntry]:
    for row in auditlog.iter_entries(session, end=size, chunk=chunk):
        body = row.body.encode("utf-8", "surrogatepass")
        yield StoredEntry(int(row.seq), body, bytes(row.leaf_hash))


def _db_checkpoints(session: Session, size: int) -> Iterator[StoredCheckpoint]:
    previous = after = 0
    while True:
        page = auditlog.checkpoints_after(session, after, limit=CHECKPOINT_CHUNK)
        rows = [r for r in page if r.size <= size]
        lines = auditlog.cosignatures(session, [r.size for r in rows])
        for row in rows:
            proof: list[bytes] = []
            problem = None
            if previous:
                try:
                    proof = auditlog.consistency_proof(session, previous, row.size)
                except MerkleError as exc:  # the stored tree lacks a hash it needs
                    problem = exc.message
            note = with_lines(row.note, [c.line for c in lines[row.size]])
            yield StoredCheckpoint(
                row.size, note, tuple(proof), bytes(row.root), problem, row.signed_at
            )
            previous = row.size
        if len(rows) < CHECKPOINT_CHUNK:
            return
        after = rows[-1].size
