"""The shape a whole audit log is read in, whatever holds it.

A :class:`Log` is a :class:`LogHeader` (whose log, how many entries and which root
the source claims, the manifest to check it with) and its items streamed in log
order: :class:`StoredEntry` for seq 0, 1, ... and each :class:`StoredCheckpoint`
right after the entry that completes its size (:func:`interleave`). The helpers
here (base64, RFC 3339 times, whose log an origin names) raise the audit tool's
errors (:mod:`node.audit_tool.errors`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from clearinghouse.node.audit_tool.errors import AccessFailed, LogMalformed
from clearinghouse.protocol.audit import audit_origin
from clearinghouse.protocol.manifest import Manifest

__all__ = [
    "PROGRESS_EVERY",
    "Item",
    "Log",
    "LogHeader",
    "Progress",
    "StoredCheckpoint",
    "StoredEntry",
    "interleave",
    "make_header",
    "parse_time",
    "participant_of",
    "show_time",
    "unb64",
    "with_lines",
]

PROGRESS_EVERY = 1_000  # entries between two progress reports

#: Called with the number of entries done so far.
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as its source holds it: position, exact bytes, the leaf hash kept with them."""

    seq: int
    body: bytes
    leaf_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint note with its cosignature lines, and the proof that it extends
    the previous checkpoint. ``root``: the store's own root column; ``problem``: why the
    store gave no proof; ``signed_at``: when the node recorded signing it (None: the
    source does not say)."""

    size: int
    note: str
    consistency: tuple[bytes, ...] = ()
    root: bytes | None = None
    problem: str | None = None
    signed_at: datetime | None = None


Item = StoredEntry | StoredCheckpoint


@dataclass(frozen=True, slots=True)
class LogHeader:
    """Whose log (origin, participant), the size and root its source claims (``root``
    None: unknown), and the manifest to check it with (``manifest_source`` says which)."""

    origin: str
    participant: str
    size: int
    root: bytes | None
    manifest: Manifest
    manifest_source: str
    source: str
    exported_at: str | None = None


@dataclass
class Log:
    """A log being read: its header and its items, streamed in log order (read once)."""

    header: LogHeader
    items: Iterator[Item]


def unb64(text: object, what: str) -> bytes:
    """Standard base64; else :class:`LogMalformed` naming ``what``."""
    try:
        if not isinstance(text, str):
            raise TypeError(type(text).__name__)
        return base64.b64decode(text, validate=True)
    except (TypeError, binascii.Error) as exc:
        raise LogMalformed(f"{what} is not base64") from exc


def show_time(at: datetime) -> str:
    """A time as bundles and the node's API carry it: RFC 3339 UTC, to the microsecond."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: object, what: str) -> datetime:
    """An RFC 3339 time with its offset; else :class:`LogMalformed` naming ``what``."""
    try:
        if not isinstance(text, str):
            raise TypeError(type(text).__name__)
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise LogMalformed(f"{what} is not an RFC 3339 time: {text!r}") from exc
    if at.utcoffset() is None:
        raise LogMalformed(f"{what} has no UTC offset: {text!r}")
    return at


def participant_of(origin: str, manifest: Manifest) -> str:
    """The participant whose log ``origin`` (``<federation>/<participant>/audit``) names.

    Raises :class:`AccessFailed`: not a log of a participant of ``manifest``."""
    prefix, suffix = f"{manifest.federation}/", "/audit"
    if origin.startswith(prefix) and origin.endswith(suffix):
        participant = origin[len(prefix) : -len(suffix)]
        if participant in manifest.participant_ids:
            return participant
    raise AccessFailed(
        f"the checkpoints are for {origin!r}, not a participant's log in federation"
        f" {manifest.federation!r} of the manifest; pass --participant or another --manifest"
    )


def make_header(
    source: str,
    manifest: Manifest,
    manifest_source: str,
    participant: str,
    size: int,
    root: bytes | None,
) -> LogHeader:
    """The header of ``participant``'s log. Raises :class:`AccessFailed` for a stranger."""
    if participant not in manifest.participant_ids:
        raise AccessFailed(
            f"{participant!r} is not a participant of the manifest"
            f" ({', '.join(manifest.participant_ids)})"
        )
    origin = audit_origin(manifest.federation, participant)
    return LogHeader(origin, participant, size, root, manifest, manifest_source, source)


def interleave(
    entries: Iterator[StoredEntry], checkpoints: Iterator[StoredCheckpoint]
) -> Iterator[Item]:
    """Entries in order, each checkpoint right after the entry that completes its size."""
    pending = next(checkpoints, None)
    for entry in entries:
        yield entry
        while pending is not None and pending.size <= entry.seq + 1:
            yield pending
            pending = next(checkpoints, None)
    while pending is not None:  # beyond the last entry read: a log cut short
        yield pending
        pending = next(checkpoints, None)


def with_lines(note: str, lines: list[str]) -> str:
    """A note with the witnesses' lines appended as stored, unparsed: a bad line is for
    the verifier to name, not a reason to stop reading."""
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)
