"""Checkpoints: sign the audit log's head as a C2SP tlog-checkpoint, on a cadence.

A checkpoint is the C2SP signed note ``<origin>\n<size>\n<base64 root>\n``, signed
with the node's Ed25519 key (key name = origin) and stored. The head row is locked
while doing so, so replicas on one database never store a checkpoint smaller than one
already stored (witnesses take checkpoints in size order).

When (:class:`Cadence`): every ``checkpoint_interval_s`` the node looks at how far the
log grew since its latest checkpoint. Grown by ``checkpoint_entries`` or more (busy),
it signs at once, and the quiet interval goes back to ``checkpoint_interval_s``.
Grown by fewer, it signs once the quiet interval has passed since its last
checkpoint, and the interval then doubles, up to ``checkpoint_max_interval_s``. Not
grown at all, it signs nothing. Each checkpoint costs a signature here and, at each of
the log's witnesses, a poll, a verification, a consistency proof and a cosignature
sent back: a trickle of entries gets a checkpoint every few seconds instead of every
second, a busy log one per ``checkpoint_entries``, and entries wait at most
``checkpoint_max_interval_s`` before a checkpoint covers them (the window in which a
node could drop them without trace, threat model D1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlmodel import col

from clearinghouse.node.context import NodeContext
from clearinghouse.node.settings import AuditSettings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditCheckpoint, AuditHead
from clearinghouse.protocol.audit import audit_origin
from clearinghouse.protocol.notes import checkpoint_text, sign_note

__all__ = [
    "Cadence",
    "look_and_sign",
    "origin",
    "run_checkpointer",
    "served_checkpoint",
    "sign_checkpoint",
]

log = logging.getLogger("clearinghouse.audit")


def origin(ctx: NodeContext) -> str:
    return audit_origin(ctx.manifest.federation, ctx.participant)


def sign_checkpoint(ctx: NodeContext) -> AuditCheckpoint | None:
    """Sign and store a checkpoint of the current head if the log grew; return it."""
    size, checkpointed = _growth(ctx)  # a read first: an idle log takes no lock
    return _sign_head(ctx) if size > checkpointed else None


def _sign_head(ctx: NodeContext) -> AuditCheckpoint | None:
    """Under the head row's lock, sign and store a checkpoint of the head unless one of
    that size (or larger, by a replica) is stored already; return it."""
    with transaction(ctx.engine) as session:
        session.execute(
            update(AuditHead)
            .where(col(AuditHead.id) == auditlog.HEAD_ID)
            .values(size=AuditHead.size)
        )
        head = auditlog.head(session)
        latest = auditlog.latest_checkpoint(session)
        if head.size == 0 or (latest is not None and latest.size >= head.size):
            return None
        text = checkpoint_text(origin(ctx), head.size, head.root)
        note = sign_note(text, origin(ctx), ctx.key)
        now = ctx.clock.now()
        auditlog.add_checkpoint(session, size=head.size, root=head.root, note=note, now=now)
        row = AuditCheckpoint(size=head.size, root=head.root, note=note, signed_at=now)
    ctx.metrics.audit_checkpoints.inc()
    ctx.metrics.audit_size.set(head.size)
    return row


def served_checkpoint(note: str, lines: list[str]) -> str:
    """A checkpoint note with the witnesses' cosignature lines (each checked when it was
    received) appended as stored: a reader verifies them, and names a bad one."""
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass
class Cadence:
    """When the checkpointer signs: per ``entries`` when busy, after a quiet interval
    that doubles (``base_s`` up to ``max_s``) while the log only trickles.

    Times are seconds on a monotonic clock, given by the caller."""

    base_s: float
    max_s: float
    entries: int
    interval_s: float = field(init=False)
    last_signed: float = float("-inf")  # none yet: the first growth is signed at once

    def __post_init__(self) -> None:
        self.max_s = max(self.max_s, self.base_s)
        self.interval_s = self.base_s

    @classmethod
    def of(cls, settings: AuditSettings) -> Cadence:
        return cls(
            settings.checkpoint_interval_s,
            settings.checkpoint_max_interval_s,
            settings.checkpoint_entries,
        )

    def due(self, grown: int, now: float) -> bool:
        """Whether to sign now, the log having grown by ``grown`` since its last checkpoint."""
        if grown >= self.entries:
            return True
        return grown > 0 and now - self.last_signed >= self.interval_s

    def signed(self, covered: int, now: float) -> None:
        """A checkpoint covering ``covered`` new entries was signed at ``now``."""
        self.last_signed = now
        if covered >= self.entries:
            self.interval_s = self.base_s
        else:
            self.interval_s = min(self.interval_s * 2, self.max_s)


def _growth(ctx: NodeContext) -> tuple[int, int]:
    """The log's size and the size of its latest checkpoint (0 if none)."""
    with transaction(ctx.engine) as session:
        head, latest = auditlog.head(session), auditlog.latest_checkpoint(session)
        return head.size, latest.size if latest is not None else 0


def look_and_sign(ctx: NodeContext, cadence: Cadence, now: float) -> AuditCheckpoint | None:
    """One look at the log: sign a checkpoint if ``cadence`` says it is due; return it."""
    size, checkpointed = _growth(ctx)
    if not cadence.due(size - checkpointed, now):
        return None
    row = _sign_head(ctx)
    if row is not None:
        cadence.signed(row.size - checkpointed, now)
    return row


async def run_checkpointer(ctx: NodeContext) -> None:
    """Look at the log every ``checkpoint_interval_s`` and sign when :class:`Cadence`
    says so, until cancelled."""
    cadence = Cadence.of(ctx.settings.audit)
    while True:
        try:
            await asyncio.to_thread(look_and_sign, ctx, cadence, time.monotonic())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("signing a checkpoint failed; trying again")
        await asyncio.sleep(cadence.base_s)
