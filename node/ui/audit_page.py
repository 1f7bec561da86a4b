"""What the audit pages show: the log's latest checkpoint, its entries, and one entry's proof.

``/ui/audit`` is a view over :func:`node.services.audit_display.audit_overview`: the
latest signed checkpoint (C2SP tlog-checkpoint, :mod:`protocol.notes`) with the
witnesses' cosignatures, both re-verified at display time against the manifest's keys;
the number of entries per act; the witnessing alerts; and a filtered, paged list of
entries (newest first). This module checks the filters and formats what the service read.
A batch entry (one per batch of views and peer) is summed up in words, and the view a
search by jti found it for is picked out of its list; its page lists every view.

``/ui/audit/entries/{seq}`` shows one entry's exact bytes, its stored leaf hash, and
the RFC 9162 inclusion proof of leaf ``seq`` in the tree of the latest checkpoint's
size, with that checkpoint's *signed* root (read from the note, not from a table).
:func:`entry_page` hands these to the page's script as :attr:`EntryView.check`, which
recomputes the leaf hash from the body's UTF-8 bytes and folds the proof up to the
root in the browser (RFC 9162 §2.1.3.2); the server does not vouch for the result.

Nothing here raises for bad input: filters that do not parse come back as messages in
:attr:`AuditQuery.errors` for the page to show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from clearinghouse.node.auth.directory import display_names, known_people
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.audit_display import (
    CheckedCheckpoint,
    audit_overview,
    batch_views,
    entry_with_proof,
)
from clearinghouse.node.services.audit_reads import EntryRow, EntrySearch
from clearinghouse.protocol.audit import ACTS, RESERVED, format_time
from clearinghouse.protocol.encoding import b64_encode

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "AuditQuery",
    "CheckpointView",
    "EntryView",
    "audit_page",
    "entry_page",
    "parse_query",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: The kinds of actor an entry names (:mod:`node.services.acts`).
ACTOR_KINDS = ("person", "token", "peer", "node")
_FIELD_CHARS = 160  # an act field's value is cut to this in the table (whole on the entry)


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- filters -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """The filters of the entry list, checked; ``form`` is what the form and links echo."""

    act: str | None = None
    peer: str | None = None
    jti: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = DEFAULT_LIMIT
    #: who acted: ``person:<id>``, ``token:<name>``, ``peer:<id>`` or ``node:<id>``
    actor: str | None = None
    errors: tuple[str, ...] = ()
    form: dict[str, str] = field(default_factory=dict)

    def search(self) -> EntrySearch | None:
        """The entry search these filters ask for, one more than a page (is there an older
        page?); None when a filter did not parse."""
        if self.errors:
            return None
        return EntrySearch(
            act=self.act,
            peer=self.peer,
            jti=self.jti,
            actor=self.actor,
            since=self.since,
            until=self.until,
            before=self.before,
            limit=self.limit + 1,
        )

    def link(self, **changes: int | None) -> str:
        """``/ui/audit`` with these filters and the given paging (``before``, ``limit``)."""
        params = {k: v for k, v in self.form.items() if v}
        if changes.get("before") is not None:
            params["before"] = str(changes["before"])
        if self.limit != DEFAULT_LIMIT:
            params["limit"] = str(self.limit)
        return "/ui/audit" + ("?" + urlencode(params) if params else "")


def _parse_time(text: str, name: str) -> datetime:
    """A ``datetime-local`` value (UTC meant) or an RFC 3339 time; raises ValueError."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{name}: {text[:40]!r} is not a date and time (YYYY-MM-DDTHH:MM, in UTC)"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def parse_query(
    *,
    act: str | None = None,
    peer: str | None = None,
    jti: str | None = None,
    start: str | None = None,
    end: str | None = None,
    before: int | None = None,
    limit: int = DEFAULT_LIMIT,
    actor: str | None = None,
) -> AuditQuery:
    """Check the filters as typed; each one that does not parse becomes a message."""
    errors: list[str] = []
    act, peer, jti = (act or "").strip(), (peer or "").strip(), (jti or "").strip()
    actor = (actor or "").strip()
    if act and act not in ACTS:
        errors.append(f"act: {act[:40]!r} is not an act this log records")
    if actor and actor.split(":", 1)[0] not in ACTOR_KINDS:
        errors.append(
            f"actor: {actor[:40]!r} is not one an entry names "
            f"({', '.join(k + ':…' for k in ACTOR_KINDS)})"
        )
    times: dict[str, datetime | None] = {"from": None, "to": None}
    for name, text in (("from", start), ("to", end)):
        if text and text.strip():
            try:
                times[name] = _parse_time(text, name)
            except ValueError as exc:
                errors.append(str(exc))
    since, until = times["from"], times["to"]
    if since is not None and until is not None and until <= since:
        errors.append("to: must be after from")
    form = {
        "act": act,
        "peer": peer,
        "jti": jti,
        "actor": actor,
        # datetime-local inputs show only this form; links carry the same, meant as UTC
        "from": since.strftime("%Y-%m-%dT%H:%M:%S") if since else (start or "").strip(),
        "to": until.strftime("%Y-%m-%dT%H:%M:%S") if until else (end or "").strip(),
    }
    return AuditQuery(
        act=act or None,
        peer=peer or None,
        jti=jti or None,
        actor=actor or None,
        since=since,
        until=until,
        before=before,
        limit=max(1, min(limit, MAX_LIMIT)),
        errors=tuple(errors),
        form=form,
    )


# --- the checkpoint ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointView:
    """The latest checkpoint as signed (origin, size, root from the note) and its witnesses."""

    origin: str
    size: int
    root: bytes | None  # None when the stored note does not parse
    signed_at: str
    note: str  # the signed note with every witness's cosignature line
    verified: bool
    verification: str
    witnesses: list[dict[str, Any]]

    @property
    def root_b64(self) -> str:
        return b64_encode(self.root) if self.root is not None else ""

    @property
    def root_hex(self) -> str:
        return self.root.hex() if self.root is not None else ""


def _checkpoint_view(checked: CheckedCheckpoint | None) -> CheckpointView | None:
    """The checked checkpoint with its times in words (UTC) for the pages."""
    if checked is None:
        return None
    return CheckpointView(
        origin=checked.origin,
        size=checked.size,
        root=checked.root,
        signed_at=_utc_text(checked.signed_at),
        note=checked.note,
        verified=checked.verified,
        verification=checked.verification,
        witnesses=[
            {
                "participant": w.participant,
                "name": w.name,
                "timestamp": w.timestamp,
                "cosigned_at": _utc_text(datetime.fromtimestamp(w.timestamp, UTC)),
                "received_at": _utc_text(w.received_at),
                "verified": w.verified,
            }
            for w in checked.witnesses
        ],
    )


# --- entries ---------------------------------------------------------------------------


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _FIELD_CHARS else text[: _FIELD_CHARS - 1] + "…"


def _row(
    entry: EntryRow, covered: int, names: dict[str, str], jti: str | None = None
) -> dict[str, Any]:
    """One table row: the indexed columns and the act's other fields, compactly; a batch
    entry's views summed up (``batch``), listed (``views``), and the one about packet
    ``jti`` picked out (``matched``: the view a search by jti found the entry for)."""
    try:
        body = json.loads(entry.body)
    except ValueError:
        body = None
    batch = batch_views(entry.act, entry.peer, body)
    if isinstance(body, dict):
        shown = RESERVED | {"views"} if batch is not None else RESERVED
        fields = [(k, _compact(v)) for k, v in sorted(body.items()) if k not in shown]
    else:
        fields = [("(body)", "not a JSON object")]
    views = [_view(v) for v in batch.views] if batch is not None else []
    return {
        "seq": entry.seq,
        "time": format_time(entry.time),
        "act": entry.act,
        "actor": entry.actor,
        "actor_name": names.get(entry.actor, ""),
        "peer": entry.peer or "",
        "jti": entry.jti or "",
        "fields": fields,
        "checkpointed": entry.seq < covered,
        "batch": batch.summary if batch is not None else None,
        "views": views,
        "matched": next((v for v in views if jti and v["jti"] == jti), None),
    }


def _view(view: dict[str, Any]) -> dict[str, Any]:
    """One view of a batch entry: its packet, and what else the entry says of it."""
    jti, digest = view.get("jti"), view.get("digest")
    return {
        "jti": jti if isinstance(jti, str) else "",
        "digest": digest if isinstance(digest, str) else "",
        "details": [(k, _compact(v)) for k, v in view.items() if k not in ("jti", "digest")],
    }


def audit_page(ctx: NodeContext, query: AuditQuery) -> dict[str, Any]:
    """The ``/ui/audit`` page: checkpoint, counts, alerts and one page of entries."""
    overview = audit_overview(ctx, query.search())
    checkpoint = _checkpoint_view(overview.checkpoint)
    counts = overview.counts
    rows = overview.entries
    older = rows[query.limit - 1].seq if len(rows) > query.limit else None
    rows = rows[: query.limit]
    covered = checkpoint.size if checkpoint is not None else 0
    peers = [p.id for p in ctx.manifest.participants if p.id != ctx.participant]
    if query.peer and query.peer not in peers:
        peers.append(query.peer)  # an old peer, no longer in the manifest
    people, names = _people(ctx, [r.actor for r in rows])
    return {
        "checkpoint": checkpoint,
        "head_size": overview.head_size,
        "counts": [
            {"act": act, "description": text, "count": counts.get(act, 0)}
            for act, text in ACTS.items()
        ],
        "total": sum(counts.values()),
        "alerts": [
            {
                "peer": a.peer,
                "kind": a.kind,
                "detail": a.detail,
                "raised_at": _utc_text(a.raised_at),
            }
            for a in overview.alerts
        ],
        "acts": ACTS,
        "peers": peers,
        "query": query,
        "default_limit": DEFAULT_LIMIT,
        "errors": query.errors,
        "entries": [_row(r, covered, names, query.jti) for r in rows],
        "people": people,
        "older": query.link(before=older) if older is not None else None,
        "newest": query.link() if query.before is not None else None,
    }


def _people(ctx: NodeContext, actors: list[str]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The people of this node's directory (for the person filter), and the display
    name of each ``person:<id>`` actor among ``actors`` (this node's pages only)."""
    choices = [
        {"actor": f"person:{p.id}", "name": p.display_name, "roles": p.roles}
        for p in known_people(ctx)
    ]
    return choices, display_names(ctx, actors)


@dataclass(frozen=True)
class EntryView:
    """One entry; ``check`` is the data the browser verifies, or None with ``unproven``."""

    entry: dict[str, Any]
    body: str
    leaf_hash: str
    checkpoint: CheckpointView | None
    check: dict[str, Any] | None
    proof: list[str]
    unproven: str | None


def entry_page(ctx: NodeContext, seq: int) -> EntryView | None:
    """Entry ``seq`` with its inclusion proof at the latest checkpoint; None if no such entry."""
    found = entry_with_proof(ctx, seq)
    if found is None:
        return None
    entry, checkpoint = found.entry, _checkpoint_view(found.checkpoint)
    proof, unproven = found.proof, found.unproven
    leaf = b64_encode(bytes(entry.leaf_hash))
    check = None
    if unproven is None and checkpoint is not None and checkpoint.root is not None:
        check = {
            "seq": seq,
            "size": checkpoint.size,
            "body": entry.body,  # the exact stored text; the browser hashes its UTF-8 bytes
            "leaf_hash": leaf,
            "proof": [b64_encode(p) for p in proof],
            "root": checkpoint.root_b64,
        }
    return EntryView(
        entry=_row(
            entry,
            checkpoint.size if checkpoint is not None else 0,
            display_names(ctx, [entry.actor]),
        ),
        body=entry.body,
        leaf_hash=leaf,
        checkpoint=checkpoint,
        check=check,
        proof=[b64_encode(p) for p in proof],
        unproven=unproven,
    )
