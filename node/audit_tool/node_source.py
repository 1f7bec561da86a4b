"""Read a node's whole audit log from the running node, as an auditor would.

:func:`open_node_log` reads ``/v1/audit`` with a bearer token of role ``auditor``
(through the typed :class:`~node.transport.api_client.NodeApiClient`): entries in pages of
:data:`ENTRY_PAGE`, checkpoints (with the proofs the node serves) in pages of
:data:`CHECKPOINT_PAGE`; :func:`fetch_checkpoint` gets the latest one. Reading
streams: memory does not grow with the log. The client checks each answer for the
shape the API documents (its models), this module the hashes' base64; whether they
verify is :mod:`node.audit_tool.verify`'s job.

Failures are :class:`~node.audit_tool.errors.AccessFailed` (the node cannot be
reached or refuses) or :class:`~node.audit_tool.errors.LogMalformed` (an answer
that is not the documented JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clearinghouse.node.api.models import AuditCheckpoint, AuditEntry
from clearinghouse.node.audit_tool.errors import AccessFailed, LogMalformed
from clearinghouse.node.audit_tool.log import (
    Log,
    StoredCheckpoint,
    StoredEntry,
    interleave,
    make_header,
    parse_time,
    participant_of,
    unb64,
)
from clearinghouse.node.transport.api_client import NodeApiClient
from clearinghouse.node.transport.audit_client import open_audit_client
from clearinghouse.node.transport.local_api import (
    AnswerMalformed,
    NodeRefused,
    NodeUnreachable,
)
from clearinghouse.protocol.errors import ManifestRejected
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.merkle import EMPTY_ROOT

__all__ = ["CHECKPOINT_PAGE", "ENTRY_PAGE", "fetch_checkpoint", "open_node_log"]

ENTRY_PAGE = 10_000  # the most one /v1/audit/entries request returns
CHECKPOINT_PAGE = 1_000  # the most one /v1/audit/checkpoints request returns


class _Refused(AccessFailed):
    """The node answered, with an HTTP status other than 200."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def _translated() -> Iterator[None]:
    """The transport's errors as the audit tool's, with the same message."""
    try:
        yield
    except NodeRefused as exc:
        hint = " (a token of role auditor is needed)" if exc.status in (401, 403) else ""
        raise _Refused(exc.message + hint, exc.status) from exc
    except NodeUnreachable as exc:
        raise AccessFailed(exc.message) from exc
    except AnswerMalformed as exc:
        raise LogMalformed(exc.message) from exc


class _NodeLog:
    """The log's pieces read over a :class:`NodeApiClient`, as the audit tool's types."""

    def __init__(self, api: NodeApiClient) -> None:
        self.api, self.base = api, api.base

    def manifest(self) -> Manifest:
        with _translated():
            served = self.api.manifest()
        try:
            return parse_manifest(served)
        except ManifestRejected as exc:
            raise LogMalformed(f"the manifest {self.base} serves: {exc.message}") from exc

    def size(self) -> int:
        with _translated():
            return self.api.audit_size()

    def participant(self, manifest: Manifest) -> str:
        """Whose log: the origin of its first checkpoint, else the node's own word."""
        with _translated():
            items = self.api.checkpoints(after=0, limit=1).checkpoints
            if items:
                return participant_of(items[0].note.split("\n", 1)[0], manifest)
            return self.api.readiness().participant

    def root(self, size: int) -> bytes | None:
        """The root of ``size`` entries by the node's stored tree; None if it cannot say
        (the entries then show what is wrong)."""
        if size == 0:
            return EMPTY_ROOT
        try:
            with _translated():
                answer = self.api.consistency(old=size, new=size)
        except _Refused:
            return None
        return unb64(answer.old_root, f"{self.base}: the root of {size} entries")

    def entries(self, size: int, page: int) -> Iterator[StoredEntry]:
        where = f"{self.base}/v1/audit/entries"
        for start in range(0, size, page):
            with _translated():
                items = self.api.entries(start=start, end=min(start + page, size)).entries
            for item in items:
                yield _entry(item, where)

    def checkpoints(self, size: int, page: int) -> Iterator[StoredCheckpoint]:
        where, after = f"{self.base}/v1/audit/checkpoints", 0
        while True:
            with _translated():
                items = self.api.checkpoints(after=after, limit=page).checkpoints
            for item in items:
                checkpoint = _checkpoint(item, where, size)
                if checkpoint is None:  # signed after the entries were counted
                    return
                yield checkpoint
                after = checkpoint.size
            if len(items) < page:
                return


def _entry(item: AuditEntry, where: str) -> StoredEntry:
    """The entry ``item`` describes (``seq``, ``body``, ``leaf_hash``)."""
    leaf = unb64(item.leaf_hash, f"{where}: the leaf hash of entry {item.seq}")
    return StoredEntry(item.seq, item.body.encode("utf-8", "surrogatepass"), leaf)


def _checkpoint(item: AuditCheckpoint, where: str, limit: int) -> StoredCheckpoint | None:
    """The checkpoint ``item`` describes; None if it covers more than ``limit`` entries."""
    size, note = item.size, item.note
    if size > limit:
        return None
    hashes = tuple(
        unb64(p, f"{where}: a proof hash of checkpoint {size}") for p in item.consistency
    )
    root = unb64(item.root, f"{where}: the root of checkpoint {size}")
    signed = item.signed_at  # absent from a node that predates it
    signed_at = (
        None
        if signed is None
        else parse_time(signed, f"{where}: when checkpoint {size} was signed")
    )
    return StoredCheckpoint(size, note, hashes, root, signed_at=signed_at)


@contextmanager
def open_node_log(
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
    with open_audit_client(base, token) as api:
        node = _NodeLog(api)
        if manifest is None:
            manifest = node.manifest()
            manifest_source = f"served by {base} (not independently trusted: pass --manifest)"
        size = node.size()
        participant = participant or node.participant(manifest)
        root = node.root(size)
        header = make_header(f"node {base}", manifest, manifest_source, participant, size, root)
        items = interleave(node.entries(size, page), node.checkpoints(size, checkpoint_page))
        yield Log(header, items)


def fetch_checkpoint(url: str, token: str | None) -> tuple[str, Manifest]:
    """The node's latest signed checkpoint (with cosignatures) and the manifest it serves.

    Raises :class:`AccessFailed` or :class:`LogMalformed`."""
    base = url.rstrip("/")
    with open_audit_client(base, token) as api:
        with _translated():
            note = api.latest_checkpoint()
        return note, _NodeLog(api).manifest()
