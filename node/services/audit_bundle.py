"""A node's whole audit log: read it, write it to one bundle file, check it end to end.

A log is read, streamed (memory does not grow with the log), as a :class:`Log`: a
header and its entries and checkpoints in log order. It comes from the node's
database (:func:`open_database`), from the running node (:func:`open_node`), or
from a bundle file, offline (:func:`open_bundle`). :func:`write_bundle` writes a log
as a bundle; :func:`verify_log` checks one with :class:`protocol.audit.LogVerifier`
against a manifest's keys, and judges with :class:`protocol.key_use.KeyUseCheck`
whether each key was valid and unrevoked when it signed; :func:`check_checkpoint`
checks a single signed note.

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

Errors, each with the exit code the CLI gives it::

    AuditToolError           exit_code
    ├── AccessFailed         2  a database, node or file that cannot be read or written
    ├── LogMalformed         1  readable, but not a log in the expected format (``.line``)
    └── VerificationFailed   1  the log does not verify (``.seq``: the first bad entry)
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clearinghouse.node.services._audit_log import (
    AccessFailed,
    AuditToolError,
    Item,
    Log,
    LogHeader,
    LogMalformed,
    StoredCheckpoint,
    StoredEntry,
    VerificationFailed,
    b64,
    parse_time,
    participant_of,
    show_time,
    unb64,
)
from clearinghouse.node.services._audit_sources import fetch_checkpoint, open_database, open_node
from clearinghouse.protocol.audit import (
    CheckpointCheck,
    LogVerifier,
    audit_origin,
    format_time,
    log_keys,
    witness_keys,
    witness_name,
)
from clearinghouse.protocol.encoding import parse_json
from clearinghouse.protocol.errors import (
    AuditLogInvalid,
    EncodingError,
    ManifestRejected,
    NoteError,
    NoteUnverified,
)
from clearinghouse.protocol.key_use import KeyUse, KeyUseCheck, KeyUseReport
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest, verify_manifest
from clearinghouse.protocol.notes import parse_checkpoint, parse_note, verify_note

__all__ = [
    "FORMAT",
    "AccessFailed",
    "AuditToolError",
    "CheckedNote",
    "ExportSummary",
    "KeyUse",
    "KeyUseReport",
    "Log",
    "LogHeader",
    "LogMalformed",
    "StoredCheckpoint",
    "StoredEntry",
    "Summary",
    "VerificationFailed",
    "check_checkpoint",
    "fetch_checkpoint",
    "open_bundle",
    "open_database",
    "open_node",
    "read_manifest",
    "verify_log",
    "write_bundle",
]

FORMAT = "clearinghouse-audit-bundle/1"
MAX_LINE = 16 << 20  # a longer bundle line is refused (the header carries a manifest)
PROGRESS_EVERY = 1_000  # entries between two progress reports

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Summary:
    """What checked out: entries, root, checkpoints and who cosigned how many of them."""

    header: LogHeader
    entries: int
    root: bytes
    checkpoints: int
    last_checkpoint: int | None
    cosignatures: dict[str, int]  # witness (participant id, else key name) -> checkpoints
    uncosigned: int  # checkpoints without a valid witness cosignature
    uncosigned_last: tuple[int, ...]  # the sizes of the last few of those
    keys: KeyUseReport  # each key's validity when it signed; violations make a log INVALID


@dataclass
class ExportSummary:
    path: Path
    entries: int = 0
    checkpoints: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def read_manifest(path: Path) -> Manifest:
    """A manifest file, parsed (:func:`verify_log` checks its signatures).

    Raises :class:`AccessFailed`: unreadable, or not a manifest."""
    try:
        return parse_manifest(path.read_bytes())
    except OSError as exc:
        raise AccessFailed(f"cannot read the manifest {path}: {exc.strerror or exc}") from exc
    except ManifestRejected as exc:
        raise AccessFailed(f"{path}: {exc.message}") from exc


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
                entry["leaf_hash"] = b64(item.leaf_hash)
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
            "consistency": [b64(p) for p in item.consistency],
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
        "root": None if h.root is None else b64(h.root),
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


# --- verifying -------------------------------------------------------------------------


def _witness(name: str, manifest: Manifest) -> str:
    """The participant a witness key name belongs to (the name itself if none)."""
    for pid in manifest.participant_ids:
        if witness_name(manifest.federation, pid) == name:
            return pid
    return name


def verify_log(
    log: Log, *, min_cosignatures: int = 0, on_progress: Progress | None = None
) -> Summary:
    """Check the whole log; return what checked out or raise :class:`VerificationFailed`
    (or what reading raises: :class:`AccessFailed`, :class:`LogMalformed`).

    A log whose keys signed outside their validity or after their revocation still
    verifies here (its history is intact): ``Summary.keys`` names those uses, and the
    CLI fails on them."""
    # Plan: (1) a quorum of the manifest's own participants signed it (keys valid when
    # it was issued); (2) the log is the participant's (origin); its keys: the
    # participant's Ed25519 keys, every other participant's witness key; (3) each entry
    # in order: position, canonical JSON, the leaf hash kept with it; (4) each checkpoint
    # when its size is reached: signature, cosignatures, root, consistency with the
    # previous one (LogVerifier), the store's root column and proof, at least
    # ``min_cosignatures`` witnesses; (5) the end: the size and root the source claims;
    # (6) alongside (3) and (4), each use of a key judged against its validity at the
    # time it signed (KeyUseCheck): the checkpoint's own signature, each cosignature,
    # each entry recording a packet signed.
    h = log.header
    # (1): the manifest.
    try:
        verify_manifest(h.manifest, now=h.manifest.issued_at)
    except ManifestRejected as exc:
        raise VerificationFailed(f"the manifest ({h.manifest_source}): {exc.message}") from exc
    # (2): whose log, checked with which keys.
    expected = audit_origin(h.manifest.federation, h.participant)
    if h.origin != expected or h.participant not in h.manifest.participant_ids:
        raise VerificationFailed(
            f"the log is {h.origin!r}, but the manifest has no participant {h.participant!r}"
            f" logging as that (expected {expected!r})"
        )
    witnesses = witness_keys(h.manifest, besides=h.participant)
    verifier = LogVerifier(expected, log_keys(h.manifest, h.participant), witnesses)
    keys = KeyUseCheck(h.manifest, h.participant)
    cosigned: Counter[str] = Counter()
    uncosigned, uncosigned_last = 0, deque[int](maxlen=5)
    last: int | None = None
    try:
        for item in log.items:
            # (3): an entry.
            if isinstance(item, StoredEntry):
                keys.entry(verifier.entry(item.seq, item.body, item.leaf_hash))  # (3), (6)
                if on_progress and verifier.size % PROGRESS_EVERY == 0:
                    on_progress(verifier.size)
                continue
            # (4): a checkpoint.
            check = _check_checkpoint(verifier, item, last, min_cosignatures, h.manifest_source)
            keys.checkpoint(check, item.signed_at)  # (6)
            names = list(check.cosigners)
            cosigned.update(_witness(name, h.manifest) for name in names)
            if not names:
                uncosigned += 1
                uncosigned_last.append(item.size)
            last = item.size
        # (5): the end.
        verifier.finish(h.size)
        if h.root is not None and h.root != verifier.root:
            raise AuditLogInvalid(
                f"the {h.source} claims root {b64(h.root)} for its {h.size} entries, they give"
                f" {b64(verifier.root)}: an entry after the last checkpoint, in"
                f" [{last or 0}, {h.size}), was changed after it was hashed",
                seq=last or 0,
            )
    except AuditLogInvalid as exc:
        raise VerificationFailed(
            exc.message,
            seq=exc.seq,
            entries_checked=verifier.size,
            checkpoints_checked=verifier.checkpoints,
        ) from exc
    if on_progress:
        on_progress(verifier.size)
    cosignatures = dict(sorted(cosigned.items()))
    return Summary(
        header=h,
        entries=verifier.size,
        root=verifier.root,
        checkpoints=verifier.checkpoints,
        last_checkpoint=last,
        cosignatures=cosignatures,
        uncosigned=uncosigned,
        uncosigned_last=tuple(uncosigned_last),
        keys=keys.report(),
    )


def _check_checkpoint(
    verifier: LogVerifier,
    item: StoredCheckpoint,
    last: int | None,
    min_cosignatures: int,
    manifest_source: str,
) -> CheckpointCheck:
    """(4) for one checkpoint; what verified (its signer, the witnesses' cosignatures)."""
    where = f"checkpoint {item.size}"
    if item.size > verifier.size:
        raise AuditLogInvalid(
            f"entry {verifier.size} is missing: {where} covers {item.size} entries, the log"
            f" has {verifier.size}",
            seq=verifier.size,
        )
    try:
        check = verifier.checkpoint(item.note, item.consistency)
    except AuditLogInvalid as exc:
        message = exc.message.replace("a checkpoint is malformed", f"{where} is malformed")
        if where not in message:
            message = f"{where}: {message}"
        if isinstance(exc.__cause__, NoteUnverified):
            message += f" (the keys of the manifest {manifest_source})"
        raise AuditLogInvalid(message, seq=exc.seq) from exc
    first = last or 0
    if item.root is not None and item.root != check.checkpoint.root:
        raise AuditLogInvalid(f"{where}: the store's root column is not the signed root", first)
    if item.problem is not None:
        raise AuditLogInvalid(
            f"{where}: the store cannot prove it extends checkpoint {last}: {item.problem}", first
        )
    if len(check.cosigners) < min_cosignatures:
        raise AuditLogInvalid(
            f"{where} has {len(check.cosigners)} valid witness cosignature(s) of the"
            f" {min_cosignatures} required: entries [{first}, {item.size}) are not witnessed",
            first,
        )
    return check


# --- one checkpoint --------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedNote:
    """A checkpoint whose signature verified: whose log, its size and root, its cosigners."""

    origin: str
    participant: str
    size: int
    root: bytes
    cosigners: tuple[str, ...]


def check_checkpoint(note: str, manifest: Manifest) -> CheckedNote:
    """Check one signed checkpoint: signed by its participant's log key; every cosignature
    by a known witness verifies. Raises :class:`VerificationFailed`."""
    try:
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
        participant = participant_of(checkpoint.origin, manifest)
        keys = [*log_keys(manifest, participant), *witness_keys(manifest, besides=participant)]
        verified = verify_note(parsed, keys)
    except (NoteError, AccessFailed) as exc:
        raise VerificationFailed(f"the checkpoint does not verify: {exc.message}") from exc
    if not any(v.kind == "ed25519" for v in verified):
        raise VerificationFailed(f"the checkpoint is not signed by {checkpoint.origin}")
    cosigners = tuple(_witness(v.name, manifest) for v in verified if v.kind != "ed25519")
    return CheckedNote(checkpoint.origin, participant, checkpoint.size, checkpoint.root, cosigners)
