"""Check a whole audit log end to end, or one signed checkpoint, against a manifest.

:func:`verify_log` checks a :class:`~node.audit_tool.log.Log` with
:class:`protocol.audit.LogVerifier` against the manifest's keys, and judges with
:class:`protocol.key_use.KeyUseCheck` whether each key was valid and unrevoked when it
signed; :func:`check_checkpoint` checks a single signed note; :func:`read_manifest`
reads the manifest an auditor trusts.

Failures are :class:`~node.audit_tool.errors.VerificationFailed` (with the first bad
entry), or what reading the log raises.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from clearinghouse.node.audit_tool.errors import AccessFailed, CannotBeMet, VerificationFailed
from clearinghouse.node.audit_tool.log import (
    PROGRESS_EVERY,
    Log,
    LogHeader,
    Progress,
    StoredCheckpoint,
    StoredEntry,
    participant_of,
)
from clearinghouse.protocol.audit import (
    CheckpointCheck,
    LogVerifier,
    audit_origin,
    log_keys,
    witness_keys,
    witness_name,
)
from clearinghouse.protocol.encoding import b64_encode
from clearinghouse.protocol.errors import (
    AuditLogInvalid,
    ManifestRejected,
    NoteError,
    NoteUnverified,
)
from clearinghouse.protocol.key_use import KeyUseCheck, KeyUseReport
from clearinghouse.protocol.manifest import Manifest, parse_manifest, verify_manifest
from clearinghouse.protocol.notes import parse_checkpoint, parse_note, verify_note
from clearinghouse.protocol.witnessing import witnesses_of

__all__ = [
    "ALL_WITNESSES",
    "CheckedNote",
    "Summary",
    "check_checkpoint",
    "read_manifest",
    "verify_log",
]

#: ``min_cosignatures`` meaning "as many as the manifest assigns the log witnesses".
ALL_WITNESSES: Literal["all"] = "all"


@dataclass(frozen=True)
class Summary:
    """What checked out: entries, root, checkpoints and who cosigned how many of them."""

    header: LogHeader
    entries: int
    root: bytes
    checkpoints: int
    last_checkpoint: int | None
    cosignatures: dict[str, int]  # witness (participant id, else key name) -> checkpoints
    witnesses: tuple[str, ...]  # the log's witnesses under the manifest (protocol.witnessing)
    uncosigned: int  # checkpoints without a valid witness cosignature
    uncosigned_last: tuple[int, ...]  # the sizes of the last few of those
    keys: KeyUseReport  # each key's validity when it signed; violations make a log INVALID


def read_manifest(path: Path) -> Manifest:
    """A manifest file, parsed (:func:`verify_log` checks its signatures).

    Raises :class:`AccessFailed`: unreadable, or not a manifest."""
    try:
        return parse_manifest(path.read_bytes())
    except OSError as exc:
        raise AccessFailed(f"cannot read the manifest {path}: {exc.strerror or exc}") from exc
    except ManifestRejected as exc:
        raise AccessFailed(f"{path}: {exc.message}") from exc


def _witness(name: str, manifest: Manifest) -> str:
    """The participant a witness key name belongs to (the name itself if none)."""
    for pid in manifest.participant_ids:
        if witness_name(manifest.federation, pid) == name:
            return pid
    return name


@dataclass
class _Witnessed:
    """Who cosigned the checkpoints seen so far, and which had no witness."""

    cosigned: Counter[str] = field(default_factory=Counter)
    uncosigned: int = 0
    uncosigned_last: deque[int] = field(default_factory=lambda: deque(maxlen=5))
    last: int | None = None  # the size of the last checkpoint


def verify_log(
    log: Log,
    *,
    min_cosignatures: int | Literal["all"] = 0,
    on_progress: Progress | None = None,
) -> Summary:
    """Check the whole log; return what checked out or raise :class:`VerificationFailed`
    (or what reading raises: :class:`AccessFailed`, :class:`LogMalformed`).

    ``min_cosignatures`` valid witness cosignatures are required on every checkpoint
    (any participant's counts); :data:`ALL_WITNESSES`: as many as the manifest assigns
    the log witnesses (k, :func:`protocol.witnessing.witnesses_of`). More than k is
    refused at once with :class:`CannotBeMet`, naming k: only k nodes witness the log.

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
    verifier = _verifier(h)  # (1), (2)
    witnesses = witnesses_of(h.manifest, h.participant)
    required = _required(h, witnesses, min_cosignatures)
    keys = KeyUseCheck(h.manifest, h.participant)
    seen = _Witnessed()
    try:
        _walk(log, verifier, keys, seen, required, on_progress)  # (3), (4), (6)
        _check_end(h, verifier, seen.last)  # (5)
    except AuditLogInvalid as exc:
        raise VerificationFailed(
            exc.message,
            seq=exc.seq,
            entries_checked=verifier.size,
            checkpoints_checked=verifier.checkpoints,
        ) from exc
    if on_progress:
        on_progress(verifier.size)
    return Summary(
        header=h,
        entries=verifier.size,
        root=verifier.root,
        checkpoints=verifier.checkpoints,
        last_checkpoint=seen.last,
        cosignatures=dict(sorted(seen.cosigned.items())),
        witnesses=witnesses,
        uncosigned=seen.uncosigned,
        uncosigned_last=tuple(seen.uncosigned_last),
        keys=keys.report(),
    )


def _required(
    h: LogHeader, witnesses: tuple[str, ...], min_cosignatures: int | Literal["all"]
) -> int:
    """The cosignatures each checkpoint needs; :class:`CannotBeMet` beyond the witnesses."""
    k = len(witnesses)
    if min_cosignatures == ALL_WITNESSES:
        return k
    if min_cosignatures > k:
        named = ", ".join(witnesses) or "none"
        raise CannotBeMet(
            f"{min_cosignatures} witness cosignatures cannot be required of {h.participant}'s"
            f" log: the manifest ({h.manifest_source}, serial {h.manifest.serial}) assigns it"
            f" {k} witness(es) ({named}); require at most {k}, or all"
        )
    return min_cosignatures


def _verifier(h: LogHeader) -> LogVerifier:
    """(1) the manifest, (2) whose log it is: a verifier with that participant's keys."""
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
    return LogVerifier(expected, log_keys(h.manifest, h.participant), witnesses)


def _walk(
    log: Log,
    verifier: LogVerifier,
    keys: KeyUseCheck,
    seen: _Witnessed,
    min_cosignatures: int,
    on_progress: Progress | None,
) -> None:
    """(3) each entry and (4) each checkpoint in log order, (6) judging each key's use."""
    h = log.header
    for item in log.items:
        # (3): an entry.
        if isinstance(item, StoredEntry):
            keys.entry(verifier.entry(item.seq, item.body, item.leaf_hash))  # (3), (6)
            if on_progress and verifier.size % PROGRESS_EVERY == 0:
                on_progress(verifier.size)
            continue
        # (4): a checkpoint.
        check = _check_checkpoint(verifier, item, seen.last, min_cosignatures, h.manifest_source)
        keys.checkpoint(check, item.signed_at)  # (6)
        names = list(check.cosigners)
        seen.cosigned.update(_witness(name, h.manifest) for name in names)
        if not names:
            seen.uncosigned += 1
            seen.uncosigned_last.append(item.size)
        seen.last = item.size


def _check_end(h: LogHeader, verifier: LogVerifier, last: int | None) -> None:
    """(5): the size and the root the source claims for the whole log."""
    verifier.finish(h.size)
    if h.root is not None and h.root != verifier.root:
        raise AuditLogInvalid(
            f"the {h.source} claims root {b64_encode(h.root)} for its {h.size} entries, they give"
            f" {b64_encode(verifier.root)}: an entry after the last checkpoint, in"
            f" [{last or 0}, {h.size}), was changed after it was hashed",
            seq=last or 0,
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
