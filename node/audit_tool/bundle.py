"""An audit log in one bundle file: write it, read it back offline.

:func:`write_bundle` writes a :class:`~node.audit_tool.log.Log` (from a database, a
node or another bundle) to a file; :func:`open_bundle` reads one as a ``Log`` for
:func:`~node.audit_tool.verify.verify_log`, streamed (memory does not grow with the
log).

Bundle format ``clearinghouse-audit-bundle/1``: JSON Lines, ASCII (non-ASCII is
escaped), gzip-compressed if the file name ends in ``.gz``::

    {"format": "clearinghouse-audit-bundle/1", "origin": "<federation>/<participant>/audit",
     "participant": ..., "size": N, "root": "<b64>", "manifest": {...}, "exported_at": ...}
    {"seq": 0, "body": "<the entry's exact canonical JSON>", "leaf_hash": "<b64>"}
    ...
    {"checkpoint": 10, "note": "<signed note and cosignature lines>", "consistency": ["<b64>"],
     "signed_at": "<RFC 3339>"}
    ...
    {"end": N}

Entry lines come in seq order; a checkpoint line right after the entry that
completes its size, its ``consistency`` the RFC 9162 proof from the previous
checkpoint (empty for the first), ``signed_at`` (optional when reading) the time the
node recorded signing it. ``leaf_hash`` (optional when reading) is the
hash the store kept with the entry: with it an entry changed after it was hashed
is named exactly; without it the signed checkpoints still catch the change, naming
a range of entries. ``root`` is null when the exporter could not learn it.

Failures are :class:`~node.audit_tool.errors.AccessFailed` (a file that cannot be
read or written) and :class:`~node.audit_tool.errors.LogMalformed` (not a bundle,
naming its line).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clearinghouse.node.audit_tool.errors import AccessFailed, LogMalformed
from clearinghouse.node.audit_tool.log import (
    PROGRESS_EVERY,
    Item,
    Log,
    LogHeader,
    Progress,
    StoredCheckpoint,
    StoredEntry,
    parse_time,
    show_time,
    unb64,
)
from clearinghouse.protocol.audit import format_time
from clearinghouse.protocol.encoding import b64_encode, parse_json
from clearinghouse.protocol.errors import EncodingError, ManifestRejected
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest

__all__ = ["FORMAT", "MAX_LINE", "ExportSummary", "open_bundle", "write_bundle"]

FORMAT = "clearinghouse-audit-bundle/1"
MAX_LINE = 16 << 20  # a longer bundle line is refused (the header carries a manifest)


@dataclass
class ExportSummary:
    """What :func:`write_bundle` wrote: where, how many entries and checkpoints, how many
    bytes, and what the store could not prove (each checkpoint it gave no proof for)."""

    path: Path
    entries: int = 0
    checkpoints: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


# --- reading a bundle ------------------------------------------------------------------


class _Lines:
    """A bundle's JSON lines, numbered from 1; every failure names its line."""

    def __init__(self, stream: io.BufferedIOBase, path: Path) -> None:
        self.stream, self.path, self.number = stream, path, 0

    def fail(self, message: str) -> LogMalformed:
        return LogMalformed(f"{self.path} line {self.number}: {message}", line=self.number)

    def next(self) -> dict[str, Any] | None:
        """The next line's JSON object; None at the end of the file."""
        try:
            line = self.stream.readline(MAX_LINE + 1)
        except EOFError as exc:
            raise LogMalformed(
                f"{self.path} is truncated: its gzip stream ends early, after line {self.number}",
                line=self.number + 1,
            ) from exc
        except zlib.error as exc:
            raise LogMalformed(f"{self.path}: corrupt gzip data after line {self.number}") from exc
        except OSError as exc:  # gzip.BadGzipFile: not gzip at all
            raise AccessFailed(f"cannot read {self.path}: {exc}") from exc
        if not line:
            return None
        self.number += 1
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise self.fail(f"longer than {MAX_LINE} bytes")
            raise LogMalformed(
                f"{self.path} is truncated: line {self.number} is cut off", line=self.number
            )
        try:
            value = parse_json(line)
        except EncodingError as exc:
            raise LogMalformed(
                f"{self.path} line {self.number} is not JSON: {exc.message}", line=self.number
            ) from exc
        if not isinstance(value, dict):
            raise self.fail("not a JSON object")
        return value

    def items(self, size: int) -> Iterator[Item]:
        """Entry and checkpoint lines up to the end line, which must say ``size``."""
        while True:
            doc = self.next()
            if doc is None:
                raise LogMalformed(
                    f"{self.path} is truncated: it ends after line {self.number} without its"
                    " end line",
                    line=self.number + 1,
                )
            if "end" in doc:
                if type(doc["end"]) is not int or doc["end"] != size:
                    raise self.fail(f"the end line says {doc['end']!r}, the header {size}")
                if self.next() is not None:
                    raise self.fail("a line after the end line")
                return
            try:
                yield self._item(doc)
            except LogMalformed as exc:
                raise self.fail(exc.message) from exc

    @staticmethod
    def _item(doc: dict[str, Any]) -> Item:
        if "checkpoint" in doc:
            size, note, proof = doc["checkpoint"], doc.get("note"), doc.get("consistency")
            if type(size) is not int or not isinstance(note, str) or not isinstance(proof, list):
                raise LogMalformed("a checkpoint line needs checkpoint, note and consistency")
            signed = doc.get("signed_at")  # absent from a bundle that predates it
            return StoredCheckpoint(
                size,
                note,
                tuple(unb64(p, "a proof hash") for p in proof),
                signed_at=None if signed is None else parse_time(signed, "signed_at"),
            )
        if "seq" in doc:
            seq, body, leaf = doc["seq"], doc.get("body"), doc.get("leaf_hash")
            if type(seq) is not int or not isinstance(body, str):
                raise LogMalformed("an entry line needs an integer seq and a body string")
            leaf_hash = None if leaf is None else unb64(leaf, "leaf_hash")
            return StoredEntry(seq, body.encode("utf-8", "surrogatepass"), leaf_hash)
        raise LogMalformed("neither an entry, a checkpoint nor the end line")


@contextmanager
def open_bundle(
    path: Path, *, manifest: Manifest | None = None, manifest_source: str = "given"
) -> Iterator[Log]:
    """The log in a bundle, checked with ``manifest`` (trusted) if given, else with the
    manifest the bundle carries. Raises :class:`AccessFailed` or :class:`LogMalformed`."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise AccessFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
    stream: io.BufferedIOBase = (
        gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
    )
    try:
        lines = _Lines(stream, path)
        doc = lines.next()
        if doc is None or doc.get("format") != FORMAT:
            raise LogMalformed(f"{path} line 1 is not a {FORMAT} header", line=1)
        origin, participant, size = doc.get("origin"), doc.get("participant"), doc.get("size")
        root, exported_at = doc.get("root"), doc.get("exported_at")
        if not isinstance(origin, str) or not isinstance(participant, str):
            raise lines.fail("the header needs an origin and a participant")
        if type(size) is not int or size < 0:
            raise lines.fail("the header needs a size")
        if not isinstance(doc.get("manifest"), dict):
            raise lines.fail("the header needs a manifest object")
        try:
            carried = parse_manifest(doc["manifest"])
            root = None if root is None else unb64(root, "the header's root")
        except ManifestRejected as exc:
            raise lines.fail(f"the manifest in the header: {exc.message}") from exc
        except LogMalformed as exc:
            raise lines.fail(exc.message) from exc
        if manifest is None:
            manifest = carried
            manifest_source = "carried in the bundle (not independently trusted: pass --manifest)"
        elif carried.signing_input() != manifest.signing_input():
            manifest_source += f"; the bundle carries another one (serial {carried.serial})"
        header = LogHeader(
            origin,
            participant,
            size,
            root,
            manifest,
            manifest_source,
            f"bundle {path}",
            exported_at if isinstance(exported_at, str) else None,
        )
        yield Log(header, lines.items(size))
    finally:
        stream.close()
        raw.close()


# --- writing a bundle ------------------------------------------------------------------


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


def _write_items(
    log: Log, f: io.BufferedIOBase, summary: ExportSummary, progress: Progress | None
) -> None:
    for item in log.items:
        if isinstance(item, StoredEntry):
            body = item.body.decode("utf-8", "surrogatepass")
            entry: dict[str, Any] = {"seq": item.seq, "body": body}
            if item.leaf_hash is not None:
                entry["leaf_hash"] = b64_encode(item.leaf_hash)
            f.write(_line(entry))
            summary.entries += 1
            if progress and summary.entries % PROGRESS_EVERY == 0:
                progress(summary.entries)
            continue
        if item.problem is not None and len(summary.warnings) < 20:
            summary.warnings.append(
                f"checkpoint {item.size}: the store gave no consistency proof: {item.problem}"
            )
        line: dict[str, Any] = {
            "checkpoint": item.size,
            "note": item.note,
            "consistency": [b64_encode(p) for p in item.consistency],
        }
        if item.signed_at is not None:
            line["signed_at"] = show_time(item.signed_at)
        f.write(_line(line))
        summary.checkpoints += 1


def write_bundle(
    log: Log, out: Path, *, now: datetime, on_progress: Progress | None = None
) -> ExportSummary:
    """Write ``log`` to ``out`` (gzip for ``*.gz``), atomically: a partial file is removed.

    Nothing is verified here: the bundle of a tampered store shows the tampering to
    :func:`verify_log`. Raises :class:`AccessFailed` (cannot write), or what reading raises.
    """
    h, summary = log.header, ExportSummary(out)
    partial = out.with_name(f".{out.name}.partial")
    header = {
        "format": FORMAT,
        "origin": h.origin,
        "participant": h.participant,
        "size": h.size,
        "root": None if h.root is None else b64_encode(h.root),
        "manifest": json.loads(manifest_json(h.manifest)),
        "exported_at": format_time(now),
    }
    written = False
    try:
        with partial.open("wb") as raw:
            gz = out.name.endswith(".gz")
            f: io.BufferedIOBase = gzip.GzipFile(fileobj=raw, mode="wb") if gz else raw
            f.write(_line(header))
            _write_items(log, f, summary, on_progress)
            f.write(_line({"end": h.size}))
            f.close()
        os.replace(partial, out)
        written = True
    except OSError as exc:
        raise AccessFailed(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        if not written:
            partial.unlink(missing_ok=True)
    if on_progress:
        on_progress(summary.entries)
    summary.bytes = out.stat().st_size
    return summary
