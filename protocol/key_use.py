"""Whether each key was usable when it signed: the audit log's key-use check.

DESIGN.md, "Federation manifest": a participant's key is valid from ``not_before``
to ``not_after`` and may be marked revoked (from ``revoked_at`` on); rotation and
revocation come with new manifests. :class:`protocol.audit.LogVerifier` checks a
log's signatures with every key the manifest lists, revoked or expired, so that
history signed while a key was valid still verifies after the key rotated out. This
module is the separate check ("Audit log": the audit tools report anything signed
after revocation): every use of a key in a log is dated and judged against that
key's window in the manifest.

When each use happened (:class:`KeyUseCheck`):

- a checkpoint's own signature (the log participant's key): the time the node
  recorded signing it, bounded above by the earliest witness cosignature that
  verified — a checkpoint existed no later than its first cosignature
  (:func:`checkpoint_signed_at`). With neither, the signature is undated;
- a witness cosignature (the witness's key): its own tlog-cosignature/v1 timestamp,
  seconds since the epoch (:func:`cosignature_time`);
- a ``packet.issued`` or ``result.issued`` entry: the entry's time, with the key its
  ``kid`` names among the log participant's keys. Entries without ``kid`` (written
  before entries carried it) are not judged.

:func:`judge` decides as :func:`protocol.manifest.signing_key` accepts: revoked
first (at or after ``revoked_at``; always, when revoked without a time), then
outside ``[not_before, not_after]``. Nothing here reads a clock.

Errors: :class:`protocol.errors.AuditError` for a signing time without a timezone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from clearinghouse.protocol.audit import (
    CheckpointCheck,
    Entry,
    audit_origin,
    format_time,
    witness_name,
)
from clearinghouse.protocol.errors import AuditError
from clearinghouse.protocol.manifest import Manifest, ManifestKey
from clearinghouse.protocol.notes import cosignature_vkey, ed25519_vkey, parse_vkey

__all__ = [
    "ISSUING_ACTS",
    "KeyStatus",
    "KeyUse",
    "KeyUseCheck",
    "KeyUseReport",
    "checkpoint_signed_at",
    "cosignature_time",
    "judge",
]

#: The acts whose entries record a packet this node signed, with the key's ``kid``.
ISSUING_ACTS = frozenset({"packet.issued", "result.issued"})


class KeyStatus(StrEnum):
    """The verdict on one use of a key at one time."""

    VALID = "valid"
    OUTSIDE_VALIDITY = "outside validity"
    REVOKED = "signed after revocation"
    UNKNOWN_KEY = "unknown key"
    UNDATED = "undated"

    @property
    def violation(self) -> bool:
        """A use the audit tools must report (undated uses are counted, not judged)."""
        return self in (KeyStatus.OUTSIDE_VALIDITY, KeyStatus.REVOKED, KeyStatus.UNKNOWN_KEY)


def judge(key: ManifestKey | None, at: datetime | None) -> KeyStatus:
    """The verdict on a signature by ``key`` (None: a key the signer does not have)
    made at ``at`` (None: unknown). Raises :class:`AuditError` for a naive ``at``."""
    if at is not None and at.utcoffset() is None:
        raise AuditError("a signing time must be timezone-aware")
    if key is None:
        return KeyStatus.UNKNOWN_KEY
    if key.revoked and (key.revoked_at is None or (at is not None and at >= key.revoked_at)):
        return KeyStatus.REVOKED
    if at is None:
        return KeyStatus.UNDATED
    if at < key.not_before or (key.not_after is not None and at > key.not_after):
        return KeyStatus.OUTSIDE_VALIDITY
    return KeyStatus.VALID


def cosignature_time(timestamp: int) -> datetime:
    """A tlog-cosignature/v1 timestamp (seconds since the epoch) as a UTC datetime; one
    beyond what a datetime holds (year 9999) as the latest datetime."""
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


def checkpoint_signed_at(recorded: datetime | None, cosignatures: Iterable[int]) -> datetime | None:
    """When a checkpoint was signed: the node's ``recorded`` time, bounded above by the
    earliest of its verified ``cosignatures`` timestamps; None if neither is known."""
    times = [cosignature_time(t) for t in cosignatures]
    if recorded is not None:
        times.append(recorded)
    return min(times, default=None)


@dataclass(frozen=True, slots=True)
class KeyUse:
    """One use of a key judged: what was signed (``what``: ``checkpoint``,
    ``cosignature`` or the entry's act; ``position``: the checkpoint's size or the
    entry's seq), by whom, with which key, when, and the verdict."""

    what: str
    position: int
    signer: str
    kid: str
    signed_at: datetime | None
    status: KeyStatus
    key: ManifestKey | None = None

    @property
    def revoked_at(self) -> datetime | None:
        return self.key.revoked_at if self.key is not None else None

    @property
    def subject(self) -> str:
        if self.what == "checkpoint":
            return f"checkpoint {self.position}"
        if self.what == "cosignature":
            return f"cosignature on checkpoint {self.position}"
        return f"{self.what} entry {self.position}"

    def describe(self) -> str:
        """One line: what, signer, kid, when, and why it is (not) acceptable."""
        when = format_time(self.signed_at) if self.signed_at is not None else "an unknown time"
        return (
            f"{self.subject}: signed by {self.signer} with key {self.kid} at {when},"
            f" {self._reason()}"
        )

    def _reason(self) -> str:
        key = self.key
        if self.status is KeyStatus.UNKNOWN_KEY or key is None:
            return f"a key the manifest does not list for {self.signer}"
        if self.status is KeyStatus.REVOKED:
            if key.revoked_at is None:
                return "a key revoked with no revocation time (revoked for all time)"
            return f"after its revocation at {format_time(key.revoked_at)}"
        if self.status is KeyStatus.OUTSIDE_VALIDITY:
            until = format_time(key.not_after) if key.not_after is not None else "open end"
            return f"outside its validity ({format_time(key.not_before)} to {until})"
        if self.status is KeyStatus.UNDATED:
            return "which cannot be judged without a time"
        return "within its validity"


@dataclass(frozen=True, slots=True)
class KeyUseReport:
    """Every use of a key in a log, judged: how many of each kind were dated and judged
    (``checked``, by ``what``), how many could not be dated, and the violations (the
    first ``len(violations)`` of ``violation_count``)."""

    checked: Mapping[str, int]
    undated: int
    violations: tuple[KeyUse, ...]
    violation_count: int

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    @property
    def total(self) -> int:
        return sum(self.checked.values())


class KeyUseCheck:
    """Judge every use of a key in ``participant``'s log against ``manifest``, as the
    log streams past.

    Feed :meth:`checkpoint` with each checkpoint :class:`protocol.audit.LogVerifier`
    accepted and the time the node recorded signing it (None: not known), and
    :meth:`entry` with each parsed entry; :meth:`report` at the end. Keeps the first
    ``keep`` violations (and counts them all): memory does not grow with the log.
    """

    def __init__(self, manifest: Manifest, participant: str, *, keep: int = 100) -> None:
        self._keys = {k.kid: k for k in manifest.participant(participant).keys}
        self._participant = participant
        self._keep = keep
        # (name, signed-note key id) -> (participant, key): the log's and witnesses' keys
        self._note_keys: dict[tuple[str, int], tuple[str, ManifestKey]] = {}
        origin = audit_origin(manifest.federation, participant)
        for key in self._keys.values():
            v = parse_vkey(ed25519_vkey(origin, key.public_key()))
            self._note_keys[(v.name, v.key_id)] = (participant, key)
        for p in manifest.participants:
            name = witness_name(manifest.federation, p.id)
            for key in p.keys:
                v = parse_vkey(cosignature_vkey(name, key.public_key()))
                self._note_keys[(v.name, v.key_id)] = (p.id, key)
        self._checked: Counter[str] = Counter()
        self._undated = 0
        self._violations: list[KeyUse] = []
        self._violation_count = 0

    def _judged(self, use: KeyUse) -> KeyUse:
        if use.status is KeyStatus.UNDATED:
            self._undated += 1
        else:
            self._checked[use.what] += 1
        if use.status.violation:
            self._violation_count += 1
            if len(self._violations) < self._keep:
                self._violations.append(use)
        return use

    def _note_use(
        self, what: str, size: int, name: str, key_id: int, at: datetime | None
    ) -> KeyUse:
        signer, key = self._note_keys.get((name, key_id), (name, None))
        kid = key.kid if key is not None else f"{name}+{key_id:08x}"
        return self._judged(KeyUse(what, size, signer, kid, at, judge(key, at), key))

    def checkpoint(self, check: CheckpointCheck, recorded_at: datetime | None) -> list[KeyUse]:
        """Judge a checkpoint's signatures: the log's own at :func:`checkpoint_signed_at`,
        each witness's at its cosignature timestamp."""
        size = check.checkpoint.size
        cosigned = [s.timestamp for s in check.signatures if s.timestamp is not None]
        signed_at = checkpoint_signed_at(recorded_at, cosigned)
        uses = []
        for s in check.signatures:
            if s.kind == "ed25519":
                uses.append(self._note_use("checkpoint", size, s.name, s.key_id, signed_at))
            else:
                at = cosignature_time(s.timestamp or 0)
                uses.append(self._note_use("cosignature", size, s.name, s.key_id, at))
        return uses

    def entry(self, entry: Entry) -> KeyUse | None:
        """Judge the key of an entry that records a packet signed (:data:`ISSUING_ACTS`)
        at the entry's time; None for other entries and for those without ``kid``."""
        if entry.act not in ISSUING_ACTS or "kid" not in entry.body:
            return None
        value = entry.body["kid"]
        kid = value if isinstance(value, str) else repr(value)
        try:
            at: datetime | None = datetime.fromisoformat(entry.time)
        except ValueError:  # the right shape, an impossible date: undated
            at = None
        key = self._keys.get(kid)
        return self._judged(
            KeyUse(entry.act, entry.seq, self._participant, kid, at, judge(key, at), key)
        )

    def report(self) -> KeyUseReport:
        return KeyUseReport(
            checked=dict(sorted(self._checked.items())),
            undated=self._undated,
            violations=tuple(self._violations),
            violation_count=self._violation_count,
        )
