"""Read a node's whole audit log where it lives: in its database, or from the node itself.

- :func:`open_database`: entries in chunks of seq, every stored checkpoint with its
  witnesses' cosignature lines and the time the node recorded signing it, and an
  RFC 9162 consistency proof from the stored tree (``audit_block``) between
  successive checkpoints. Read only.
- :func:`open_node`: ``/v1/audit`` with a bearer token of role ``auditor``: entries
  in pages of :data:`ENTRY_PAGE`, checkpoints (with the proofs the node serves) in
  pages of :data:`CHECKPOINT_PAGE`; :func:`fetch_checkpoint` gets the latest one.

Both stream: memory does not grow with the log. Failures are
:class:`~node.services._audit_log.AccessFailed` (cannot read) or
:class:`~node.services._audit_log.LogMalformed` (a node's answer that is not the
documented JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session

from clearinghouse.node.services._audit_log import (
    AccessFailed,
    Item,
    Log,
    LogMalformed,
    StoredCheckpoint,
    StoredEntry,
    interleave,
    make_header,
    parse_time,
    participant_of,
    unb64,
    with_lines,
)
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import EncodingError, ManifestRejected, MerkleError
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.merkle import EMPTY_ROOT

__all__ = [
    "CHECKPOINT_PAGE",
    "DB_CHUNK",
    "ENTRY_PAGE",
    "fetch_checkpoint",
    "open_database",
    "open_node",
]

ENTRY_PAGE = 10_000  # the most one /v1/audit/entries request returns
CHECKPOINT_PAGE = 1_000  # the most one /v1/audit/checkpoints request returns
DB_CHUNK = 5_000


# --- the database ------------------------------------------------------------------


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
        page = auditlog.checkpoints_after(session, after, limit=CHECKPOINT_PAGE)
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
        if len(rows) < CHECKPOINT_PAGE:
            return
        after = rows[-1].size


# --- a running node ------------------------------------------------------------------


class _Refused(AccessFailed):
    """The node answered, with an HTTP status other than 200."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _NodeApi:
    """GETs on a node's API; failures become :class:`AccessFailed` or :class:`LogMalformed`."""

    def __init__(self, client: httpx.Client, base: str) -> None:
        self.client, self.base = client, base

    def get(self, path: str, **params: int) -> httpx.Response:
        where = f"{self.base}{path}"
        try:
            response = self.client.get(path, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise AccessFailed(f"cannot reach {where}: {exc}") from exc
        if response.status_code == 200:
            return response
        try:
            detail = str(parse_json(response.content)["detail"])
        except (EncodingError, KeyError, TypeError):
            detail = response.text[:200]
        status = response.status_code
        hint = " (a token of role auditor is needed)" if status in (401, 403) else ""
        raise _Refused(f"{where}: HTTP {status}: {detail}{hint}", status)

    def json(self, path: str, **params: int) -> dict[str, Any]:
        try:
            document = parse_json(self.get(path, **params).content)
        except EncodingError as exc:
            raise LogMalformed(f"{self.base}{path}: the answer is not JSON: {exc.message}") from exc
        if not isinstance(document, dict):
            raise LogMalformed(f"{self.base}{path}: the answer is not a JSON object")
        return document

    def manifest(self) -> Manifest:
        try:
            return parse_manifest(self.get("/v1/manifest").content)
        except ManifestRejected as exc:
            raise LogMalformed(f"the manifest {self.base} serves: {exc.message}") from exc

    def participant(self, manifest: Manifest) -> str:
        """Whose log: the origin of its first checkpoint, else the node's own word."""
        items = self.json("/v1/audit/checkpoints", after=0, limit=1).get("checkpoints")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            note = items[0].get("note")
            if isinstance(note, str):
                return participant_of(note.split("\n", 1)[0], manifest)
        ready = self.json("/readyz").get("participant")
        if not isinstance(ready, str):
            raise LogMalformed(f"{self.base}/readyz names no participant")
        return ready

    def root(self, size: int) -> bytes | None:
        """The root of ``size`` entries by the node's stored tree; None if it cannot say
        (the entries then show what is wrong)."""
        if size == 0:
            return EMPTY_ROOT
        try:
            answer = self.json("/v1/audit/proof/consistency", old=size, new=size)
        except _Refused:
            return None
        return unb64(answer.get("old_root"), f"{self.base}: the root of {size} entries")

    def entries(self, size: int, page: int) -> Iterator[StoredEntry]:
        where = f"{self.base}/v1/audit/entries"
        for start in range(0, size, page):
            document = self.json("/v1/audit/entries", start=start, end=min(start + page, size))
            items = document.get("entries")
            if not isinstance(items, list):
                raise LogMalformed(f"{where}: no entry list")
            for item in items:
                got = item if isinstance(item, dict) else {}
                seq, body = got.get("seq"), got.get("body")
                if type(seq) is not int or not isinstance(body, str):
                    raise LogMalformed(f"{where}: a malformed entry item")
                leaf = unb64(got.get("leaf_hash"), f"{where}: the leaf hash of entry {seq}")
                yield StoredEntry(seq, body.encode("utf-8", "surrogatepass"), leaf)

    def checkpoints(self, size: int, page: int) -> Iterator[StoredCheckpoint]:
        where, after = f"{self.base}/v1/audit/checkpoints", 0
        while True:
            items = self.json("/v1/audit/checkpoints", after=after, limit=page).get("checkpoints")
            if not isinstance(items, list):
                raise LogMalformed(f"{where}: no checkpoint list")
            for item in items:
                got = item if isinstance(item, dict) else {}
                cp, note, proof = got.get("size"), got.get("note"), got.get("consistency")
                if type(cp) is not int or not isinstance(note, str) or not isinstance(proof, list):
                    raise LogMalformed(f"{where}: a malformed checkpoint item")
                if cp > size:  # signed after the entries were counted
                    return
                hashes = tuple(unb64(p, f"{where}: a proof hash of checkpoint {cp}") for p in proof)
                root = unb64(got.get("root"), f"{where}: the root of checkpoint {cp}")
                signed = got.get("signed_at")  # absent from a node that predates it
                signed_at = (
                    None
                    if signed is None
                    else parse_time(signed, f"{where}: when checkpoint {cp} was signed")
                )
                yield StoredCheckpoint(cp, note, hashes, root, signed_at=signed_at)
                after = cp
            if len(items) < page:
                return


def _client(base: str, token: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(120.0, connect=10.0))


@contextmanager
def open_node(
    url: str,
    token: str | None,
    *,
    manifest: Manifest | None = None,
    manifest_source: str = "given",
    participant: str | None = None,
    page: int = ENTRY_PAGE,
    checkpoint_page: int = CHECKPOINT_PAGE,
) -> Iterator[Log]:
    """The log of the node at ``url``, checked with ``manifest`` (else the one it serves).

    Raises :class:`AccessFailed` or :class:`LogMalformed`."""
    base = url.rstrip("/")
    with _client(base, token) as client:
        api = _NodeApi(client, base)
        if manifest is None:
            manifest = api.manifest()
            manifest_source = f"served by {base} (not independently trusted: pass --manifest)"
        size = api.json("/v1/audit/entries", start=0, end=0).get("size")
        if type(size) is not int or size < 0:
            raise LogMalformed(f"{base}/v1/audit/entries: no log size")
        participant = participant or api.participant(manifest)
        root = api.root(size)
        header = make_header(f"node {base}", manifest, manifest_source, participant, size, root)
        items = interleave(api.entries(size, page), api.checkpoints(size, checkpoint_page))
        yield Log(header, items)


def fetch_checkpoint(url: str, token: str | None) -> tuple[str, Manifest]:
    """The node's latest signed checkpoint (with cosignatures) and the manifest it serves.

    Raises :class:`AccessFailed` or :class:`LogMalformed`."""
    base = url.rstrip("/")
    with _client(base, token) as client:
        api = _NodeApi(client, base)
        return api.get("/v1/audit/checkpoint").text, api.manifest()
