"""Checkpoints: sign the audit log's head as a C2SP tlog-checkpoint while it grows.

Every ``checkpoint_interval_s`` the node looks at the log's head; if it grew since
the last checkpoint, it signs ``<origin>\\n<size>\\n<base64 root>\\n`` as a C2SP
signed note with its Ed25519 key (key name = origin) and stores it. The head row
is locked while doing so, so replicas on one database never store a checkpoint
smaller than one already stored (witnesses take checkpoints in size order).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import update
from sqlmodel import col

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditCheckpoint, AuditHead
from clearinghouse.protocol.audit import audit_origin
from clearinghouse.protocol.notes import checkpoint_text, sign_note

__all__ = ["origin", "run_checkpointer", "served_checkpoint", "sign_checkpoint"]

log = logging.getLogger("clearinghouse.audit")


def origin(ctx: NodeContext) -> str:
    return audit_origin(ctx.manifest.federation, ctx.participant)


def sign_checkpoint(ctx: NodeContext) -> AuditCheckpoint | None:
    """Sign and store a checkpoint of the current head if the log grew; return it."""
    with transaction(ctx.engine) as session:  # a read first: an idle log takes no lock
        head, latest = auditlog.head(session), auditlog.latest_checkpoint(session)
        if head.size == 0 or (latest is not None and latest.size >= head.size):
            return None
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


async def run_checkpointer(ctx: NodeContext) -> None:
    """Sign a checkpoint whenever the log grew, every ``checkpoint_interval_s``."""
    interval = ctx.settings.audit.checkpoint_interval_s
    while True:
        try:
            await asyncio.to_thread(sign_checkpoint, ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("signing a checkpoint failed; trying again")
        await asyncio.sleep(interval)
