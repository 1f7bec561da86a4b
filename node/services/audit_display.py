"""The audit log as the audit pages show it, read in one transaction and re-verified now.

``/ui/audit`` shows the latest checkpoint, the number of entries per act, the witnessing
alerts and a page of entries (:func:`audit_overview`); ``/ui/audit/entries/{seq}`` one
entry with its RFC 9162 inclusion proof in the tree of the latest checkpoint
(:func:`entry_with_proof`). The checkpoint is checked at display time, not trusted from
the table (:func:`_checked_checkpoint`): its signed note (C2SP tlog-checkpoint,
:mod:`protocol.notes`) must verify with a key of this node in the manifest in force, say
the stored size and root, and each witness's cosignature is verified against the
manifest's cosignature keys. What fails is said in words, never raised: the pages show it.

An entry for a batch of views (``view.queued``, ``view.sent``, ``packet.received``:
:mod:`protocol.audit`) is summed up in words — "3 views sent to dpa (push): 2 accepted,
1 duplicate" — with its views listed one by one (:func:`batch_views`); entries of one
view written before batches have no ``views`` and are shown as they are.

Formatting (times, base64, links) is the pages' business (:mod:`node.ui.audit_page`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.audit_reads import EntrySearch, find_entries
from clearinghouse.node.services.checkpoints import served_checkpoint
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditAlert, AuditCheckpoint, AuditEntry
from clearinghouse.protocol.audit import log_keys, witness_keys, witness_name
from clearinghouse.protocol.errors import MerkleInputError, ProtocolError
from clearinghouse.protocol.notes import parse_checkpoint, parse_note, verify_note

__all__ = [
    "AuditOverview",
    "BatchViews",
    "CheckedCheckpoint",
    "CheckedCosignature",
    "EntryProof",
    "audit_overview",
    "batch_views",
    "entry_with_proof",
]

#: The most witnessing alerts the overview lists (newest first).
MAX_ALERTS = 100


@dataclass(frozen=True)
class CheckedCosignature:
    """A witness's cosignature on the checkpoint: who, when, and whether it verifies now."""

    participant: str
    name: str  # the witness's key name
    timestamp: int  # the witness's own (Unix seconds)
    received_at: datetime
    verified: bool


@dataclass(frozen=True)
class CheckedCheckpoint:
    """The latest checkpoint as signed (origin, size and root read from the note, not from
    the table), with the outcome of checking it now and its cosignatures."""

    origin: str
    size: int
    root: bytes | None  # None when the stored note does not parse
    signed_at: datetime
    note: str  # the signed note with every witness's cosignature line
    verified: bool
    verification: str
    witnesses: list[CheckedCosignature]


def _checked_checkpoint(ctx: NodeContext, session: Session) -> CheckedCheckpoint | None:
    """The latest stored checkpoint, verified against the manifest now; None if none yet."""
    row = auditlog.latest_checkpoint(session)
    if row is None:
        return None
    cosigned = auditlog.cosignatures(session, [row.size])[row.size]
    note = served_checkpoint(row.note, [c.line for c in cosigned])
    origin, size, root = "", row.size, None
    verified_names: dict[str, int | None] = {}
    try:
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
        origin, size, root = checkpoint.origin, checkpoint.size, checkpoint.root
        keys = [
            *log_keys(ctx.manifest, ctx.participant),
            *witness_keys(ctx.manifest, besides=ctx.participant),
        ]
        verified_names = {v.name: v.timestamp for v in verify_note(parsed, keys)}
    except ProtocolError as exc:
        ok, verification = False, f"does not verify now: {exc.code}: {exc.message}"
    else:
        signed = origin in verified_names
        ok, verification = _verdict(ctx, row, origin if signed else None, (size, root))
    witnesses = []
    for c in cosigned:
        name = witness_name(ctx.manifest.federation, c.witness)
        witnesses.append(
            CheckedCosignature(c.witness, name, c.timestamp, c.received_at, name in verified_names)
        )
    return CheckedCheckpoint(
        origin=origin,
        size=size,
        root=root,
        signed_at=row.signed_at,
        note=note,
        verified=ok,
        verification=verification,
        witnesses=witnesses,
    )


def _verdict(
    ctx: NodeContext, row: AuditCheckpoint, signer: str | None, said: tuple[int, bytes | None]
) -> tuple[bool, str]:
    """Whether a parsed checkpoint holds: signed by a key of this node (``signer``, its
    origin, else None) and saying the stored size and root; and the sentence saying so."""
    me = ctx.participant
    if signer is None:
        return False, f"not signed by a key of {me} in the current manifest"
    if said != (row.size, bytes(row.root)):
        return False, "the signed note does not match the stored size and root"
    return True, (
        f"verified now: Ed25519 signature by {signer} (a key of {me} in manifest "
        f"serial {ctx.manifest.serial})"
    )


@dataclass(frozen=True)
class AuditOverview:
    """What ``/ui/audit`` shows: checkpoint, log size, counts per act, alerts, entries."""

    checkpoint: CheckedCheckpoint | None
    head_size: int
    counts: dict[str, int]
    alerts: list[AuditAlert]
    entries: list[AuditEntry]


def audit_overview(ctx: NodeContext, search: EntrySearch | None) -> AuditOverview:
    """The log's state now and the entries ``search`` finds (none when ``search`` is None,
    e.g. filters that did not parse)."""
    with transaction(ctx.engine) as session:
        return AuditOverview(
            checkpoint=_checked_checkpoint(ctx, session),
            head_size=auditlog.head(session).size,
            counts=auditlog.count_by_act(session),
            alerts=auditlog.alerts(session, limit=MAX_ALERTS),
            entries=find_entries(session, search) if search is not None else [],
        )


@dataclass(frozen=True)
class EntryProof:
    """One entry, the latest checkpoint, and the entry's inclusion proof in it, or why
    there is none (``unproven``: not yet checkpointed, an unusable checkpoint, ...)."""

    entry: Row[Any]
    checkpoint: CheckedCheckpoint | None
    proof: list[bytes]
    unproven: str | None


def entry_with_proof(ctx: NodeContext, seq: int) -> EntryProof | None:
    """Entry ``seq`` with its inclusion proof at the latest checkpoint; None if no such entry."""
    with transaction(ctx.engine) as session:
        found = auditlog.entries(session, seq, seq + 1)
        if not found:
            return None
        checkpoint = _checked_checkpoint(ctx, session)
        proof: list[bytes] = []
        unproven: str | None = None
        if checkpoint is None:
            unproven = "not yet checkpointed: the node has signed no checkpoint yet"
        elif seq >= checkpoint.size:
            unproven = (
                f"not yet checkpointed: the latest checkpoint covers entries 0 to "
                f"{checkpoint.size - 1}; a later one will cover entry {seq}"
            )
        elif checkpoint.root is None:
            unproven = f"no proof: the latest checkpoint is unusable ({checkpoint.verification})"
        else:
            try:
                proof = auditlog.inclusion_proof(session, seq, checkpoint.size)
            except MerkleInputError as exc:
                unproven = f"no proof: {exc.message}"
    return EntryProof(entry=found[0], checkpoint=checkpoint, proof=proof, unproven=unproven)


# --- batch entries -----------------------------------------------------------------------

#: How a summary names each batch act, and the key of a view's outcome in it.
_BATCH_WORDS = {
    "view.queued": ("queued for", None),
    "view.sent": ("sent to", "status"),
    "packet.received": ("received from", "outcome"),
    "analysis.run": ("analysed by", None),
}


@dataclass(frozen=True)
class BatchViews:
    """A batch entry's views, as listed (each an object of the entry), and a sentence
    saying how many, with whom, and what became of them."""

    summary: str
    views: list[dict[str, Any]]


def batch_views(act: str, peer: str | None, body: Any) -> BatchViews | None:
    """The views an entry lists (its ``views``), summed up; None for an entry of
    another act, or one without a list of views (written before batches)."""
    words = _BATCH_WORDS.get(act)
    views = body.get("views") if isinstance(body, dict) else None
    if words is None or not isinstance(views, list):
        return None
    listed = [v for v in views if isinstance(v, dict)]
    with_whom, outcome_key = words
    noun = "packet" if act == "analysis.run" else "view"
    count = f"{len(listed)} {noun}{'s' if len(listed) != 1 else ''}"
    who = body.get("analyzer") if act == "analysis.run" else peer
    summary = f"{count} {with_whom} {who if isinstance(who, str) else 'no peer'}"
    if isinstance(body.get("via"), str):
        summary += f" ({body['via']})"
    if outcome_key is not None:
        tally: dict[str, int] = {}
        for view in listed:
            value = view.get(outcome_key)
            if isinstance(value, str):
                tally[value] = tally.get(value, 0) + 1
        if tally:
            summary += ": " + ", ".join(f"{n} {what}" for what, n in tally.items())
    return BatchViews(summary, listed)
