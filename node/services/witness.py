"""Witnessing: a node checks and cosigns the audit logs the manifest assigns it.

Which logs (:mod:`protocol.witnessing`): each participant's log has k witnesses, its
declared ``witnesses`` or the default (every other participant while the federation
has at most four, else the three next in a ring of the ids), so each node witnesses
about k logs and the work per interval grows with n, not n(n-1). The set is derived
again whenever the manifest changes (:func:`~node.services.peer_tasks.run_per_peer`
with a selection).

For each log it witnesses, every ``witness_interval_s`` (doubling, up to
``witness_idle_max_s``, while the log stands still), the node asks for the log's
checkpoints after the last one it cosigned (``GET /v1/audit/checkpoints?after=N``),
each with a consistency proof from the one before. It checks each note's signature by
the log's key, that the tree only grew (RFC 9162 consistency proof), adds a C2SP
``cosignature/v1`` line per checkpoint and posts them back (``POST
/v1/audit/cosign``).

Pull, with jitter: every wait is drawn uniformly from 0.5 to 1.5 times its nominal
value, so n nodes started together do not poll in lockstep. C2SP tlog-witness is push
(the log submits each checkpoint to its witnesses); pull is kept because it leaves
each witness in charge of its own load (it asks when it has time, a slow or
overloaded witness just lags, and a log cannot flood it), and needs no new endpoint:
the log already serves its checkpoints with consistency proofs. The price is latency,
up to ``witness_idle_max_s`` before a quiet log's new checkpoint is cosigned.

Every ``gossip_interval_s`` (jittered too) it compares notes with its co-witnesses,
the peers that witness a log it witnesses (``GET /v1/audit/witnessed``), about the
logs both witness only: the checkpoint another witness cosigned for a log must be the
same tree as the one this node cosigned (same size, same root) or consistent with it
(a proof from the log). A node showing two histories to two of its witnesses is
caught there (what k protects against: docs/threat-model.md, A1).

Anything inconsistent raises an alert (``/v1/audit/alerts``, a metric, an audit
entry), and the node stops cosigning that log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from clearinghouse.node.clock import Clock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.services.peer_tasks import peer_round, run_per_peer
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import WitnessedLog
from clearinghouse.node.transport.peer_client import (
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.audit import Act, audit_origin, log_keys, witness_name
from clearinghouse.protocol.encoding import b64_encode
from clearinghouse.protocol.errors import MerkleError, NoteError, ProtocolError
from clearinghouse.protocol.manifest import Participant, signing_key
from clearinghouse.protocol.merkle import verify_consistency
from clearinghouse.protocol.notes import (
    Checkpoint,
    cosign,
    ed25519_vkey,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_note,
)
from clearinghouse.protocol.witnessing import co_witnesses, witnessed_by

__all__ = [
    "compare_with_witnesses",
    "gossip_peers",
    "jittered",
    "raise_alert",
    "run_witness",
    "witness_round",
    "witnessed_peers",
]

log = logging.getLogger("clearinghouse.witness")


@dataclass(frozen=True)
class _Seen:
    size: int
    root: bytes
    note: str


class Inconsistent(Exception):
    def __init__(self, kind: str, detail: str, evidence: str) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.evidence = kind, detail, evidence


def _proof(value: Any) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ProtocolError("consistency proof is not a list of base64 strings")
    try:
        return [base64.b64decode(p, validate=True) for p in value]
    except binascii.Error as exc:
        raise ProtocolError(f"consistency proof: {exc}") from exc


def check_checkpoint(ctx: NodeContext, peer: str, note: str) -> Checkpoint:
    """The checkpoint in ``note`` if ``peer``'s log key signed it; else :class:`Inconsistent`."""
    try:
        parsed = parse_note(note)
        verify_note(parsed, log_keys(ctx.manifest, peer))
        checkpoint = parse_checkpoint(parsed.text)
    except NoteError as exc:
        detail = f"checkpoint of {peer} does not verify: {exc}"
        raise Inconsistent("bad-signature", detail, note) from exc
    expected = audit_origin(ctx.manifest.federation, peer)
    if checkpoint.origin != expected:
        raise Inconsistent("bad-origin", f"checkpoint names {checkpoint.origin!r}", note)
    return checkpoint


def signed_by_current_key(ctx: NodeContext, peer: str, note: str, now: datetime) -> bool:
    """Whether a key of ``peer`` that may sign at ``now`` (unexpired, unrevoked) signed
    ``note`` (which :func:`check_checkpoint` already verified with all its keys)."""
    origin = audit_origin(ctx.manifest.federation, peer)
    current = []
    for key in ctx.manifest.participant(peer).keys:
        try:
            signing_key(ctx.manifest, peer, key.kid, now)
        except ProtocolError:
            continue
        current.append(parse_vkey(ed25519_vkey(origin, key.public_key())))
    try:
        verify_note(parse_note(note), current)
    except NoteError:
        return False
    return True


def check_extends(
    peer: str, old: _Seen, new: Checkpoint, new_note: str, proof: list[bytes]
) -> None:
    """``new`` must be the same tree as ``old`` or extend it; else :class:`Inconsistent`."""
    evidence = f"{old.note}\n{new_note}\nproof {[b64_encode(p) for p in proof]}"
    if new.size < old.size:
        raise Inconsistent(
            "rollback", f"{peer} shows size {new.size} after cosigned size {old.size}", evidence
        )
    if new.size == old.size:
        if new.root != old.root:
            raise Inconsistent(
                "fork", f"{peer} signed two different trees of size {new.size}", evidence
            )
        return
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    except MerkleError as exc:
        raise Inconsistent(
            "inconsistent",
            f"{peer}'s checkpoint {new.size} does not extend cosigned {old.size}: {exc}",
            evidence,
        ) from exc


def raise_alert(ctx: NodeContext, peer: str, problem: Inconsistent) -> bool:
    """Record an alert (once per detail) with its audit entry; return whether it is new."""
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        if auditlog.has_alert(session, peer=peer, detail=problem.detail):
            return False
        auditlog.add_alert(
            session,
            peer=peer,
            kind=problem.kind,
            detail=problem.detail,
            evidence=problem.evidence,
            now=now,
        )
        entry = Act(
            "witness.alert",
            acts.node_actor(ctx.participant),
            peer=peer,
            fields={"kind": problem.kind, "detail": problem.detail},
        )
        auditlog.append(session, [entry], now=now)
    ctx.metrics.audit_alerts.labels(peer=peer, kind=problem.kind).inc()
    log.error("audit alert for %s: %s: %s", peer, problem.kind, problem.detail)
    return True


def _load(engine: Engine, peer: str) -> _Seen | None:
    """The checkpoint of ``peer``'s log this node cosigned last, if any."""
    with transaction(engine) as session:
        row: WitnessedLog | None = auditlog.witnessed(session, peer)
        return None if row is None else _Seen(row.size, bytes(row.root), row.note)


def _save(engine: Engine, peer: str, seen: _Seen, clock: Clock) -> None:
    # Cosigning is not an act on shared data and gets no entry of its own: one would
    # grow this log, which the peers would cosign, which would grow theirs, forever.
    with transaction(engine) as session:
        auditlog.set_witnessed(
            session, peer=peer, size=seen.size, root=seen.root, note=seen.note, now=clock.now()
        )


@dataclass
class _Cosigning:
    """A round's progress through a peer's checkpoints: the cosignature lines made so far
    and the last checkpoint checked (kept when a later one turns out inconsistent)."""

    last: _Seen | None
    lines: list[dict[str, Any]] = field(default_factory=list)


async def witness_round(ctx: NodeContext, client: PeerClient, peer: Participant) -> int:
    """Check and cosign ``peer``'s new checkpoints; return how many were cosigned."""
    seen = await asyncio.to_thread(_load, ctx.engine, peer.id)
    items = await _new_checkpoints(client, peer, after=seen.size if seen else 0)
    progress = _Cosigning(last=seen)
    try:
        _check_and_cosign(ctx, peer.id, items, progress)
    except Inconsistent as problem:
        await asyncio.to_thread(raise_alert, ctx, peer.id, problem)
    final = progress.last
    if not progress.lines or final is None:
        return 0
    await client.call("POST", f"{peer.base_url}/v1/audit/cosign", {"cosignatures": progress.lines})
    await asyncio.to_thread(_save, ctx.engine, peer.id, final, ctx.clock)
    ctx.metrics.witness_cosigned.labels(peer=peer.id).inc(len(progress.lines))
    return len(progress.lines)


async def _new_checkpoints(client: PeerClient, peer: Participant, *, after: int) -> list[Any]:
    """The checkpoint items ``peer`` shows after size ``after`` (each with a consistency
    proof from the one before); :class:`PeerUnavailable` if it shows no list."""
    document = await client.call(
        "GET", f"{peer.base_url}/v1/audit/checkpoints?after={after}&limit=200"
    )
    items = document.get("checkpoints") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise PeerUnavailable(f"{peer.id}: no checkpoint list", kind="bad-answer")
    return items


def _check_and_cosign(
    ctx: NodeContext, peer: str, items: Sequence[Any], progress: _Cosigning
) -> None:
    """Check each checkpoint item in turn (signature, origin, consistent with the one
    before) and cosign those a key of ``peer`` valid now signed, into ``progress``.

    Raises :class:`Inconsistent` at the first that is not, :class:`PeerUnavailable` for a
    malformed item."""
    name = witness_name(ctx.manifest.federation, ctx.participant)
    signing = ctx.signing  # one key for the whole round
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("note"), str):
            raise PeerUnavailable(f"{peer}: malformed checkpoint item", kind="bad-answer")
        note = item["note"]
        checkpoint = check_checkpoint(ctx, peer, note)
        if progress.last is not None:
            check_extends(peer, progress.last, checkpoint, note, _proof(item.get("consistency")))
        progress.last = _Seen(checkpoint.size, checkpoint.root, note)
        now = ctx.clock.now()
        if not signed_by_current_key(ctx, peer, note, now):
            # Consistent, but signed by a key of the peer that may not sign now
            # (expired or revoked): history, not to be vouched for as current.
            log.warning(
                "not cosigning %s's checkpoint of size %d: no key of %s valid now signed it",
                peer,
                checkpoint.size,
                peer,
            )
            continue
        line = cosign(parse_note(note).text, name, signing.key, int(now.timestamp()))
        progress.lines.append({"size": checkpoint.size, "line": line})


async def compare_with_witnesses(
    ctx: NodeContext, client: PeerClient, witness: Participant
) -> None:
    """Compare what ``witness`` cosigned of the logs both witness (third logs, per the
    manifest) with what this node cosigned."""
    shared = set(_shared_logs(ctx).get(witness.id, ()))
    if not shared:
        return
    document = await client.call("GET", f"{witness.base_url}/v1/audit/witnessed")
    logs = document.get("logs") if isinstance(document, dict) else None
    if not isinstance(logs, list):
        raise PeerUnavailable(f"{witness.id}: no witnessed list", kind="bad-answer")
    others = {p.id: p for p in ctx.peers if p.id in shared}
    for item in logs:
        if not isinstance(item, dict) or item.get("peer") not in others:
            continue
        origin = others[item["peer"]]
        note = item.get("note")
        if not isinstance(note, str):
            continue
        mine = await asyncio.to_thread(_load, ctx.engine, origin.id)
        if mine is None:
            continue
        try:
            await _compare(ctx, client, witness, origin, mine, note)
        except Inconsistent as problem:
            await asyncio.to_thread(raise_alert, ctx, origin.id, problem)
        except (PeerUnavailable, PeerRejectedRequest) as exc:
            log.info("no consistency proof from %s now: %s", origin.id, exc.log_detail)


async def _compare(
    ctx: NodeContext,
    client: PeerClient,
    witness: Participant,
    origin: Participant,
    mine: _Seen,
    note: str,
) -> None:
    """``note``, the checkpoint of ``origin``'s log that ``witness`` cosigned, must be the
    tree this node cosigned (``mine``) or consistent with it, by a proof ``origin`` gives;
    else :class:`Inconsistent`."""
    theirs = check_checkpoint(ctx, origin.id, note)
    if theirs.size == mine.size:
        check_extends(origin.id, mine, theirs, note, [])
        return
    small, large = (mine, theirs) if mine.size < theirs.size else (theirs, mine)
    answer = await client.call(
        "GET",
        f"{origin.base_url}/v1/audit/proof/consistency?old={small.size}&new={large.size}",
    )
    proof = _proof(answer.get("proof") if isinstance(answer, dict) else None)
    try:
        verify_consistency(small.size, large.size, small.root, large.root, proof)
    except MerkleError as exc:
        raise Inconsistent(
            "fork",
            f"{origin.id} showed {witness.id} a tree ({theirs.size}) inconsistent with"
            f" the one it showed this node ({mine.size}): {exc}",
            f"{mine.note}\n{note}",
        ) from exc


def jittered(wait: float) -> float:
    """``wait`` times a factor drawn uniformly from 0.5 to 1.5: nodes started together
    drift apart instead of polling in lockstep."""
    return wait * random.uniform(0.5, 1.5)


def witnessed_peers(ctx: NodeContext) -> list[str]:
    """The peers whose logs this node witnesses, under the manifest in force (none once
    a manifest no longer lists this node)."""
    if ctx.participant not in ctx.manifest.participant_ids:
        return []
    return list(witnessed_by(ctx.manifest, ctx.participant))


def _shared_logs(ctx: NodeContext) -> dict[str, tuple[str, ...]]:
    """Each co-witness of this node, with the logs both witness."""
    if ctx.participant not in ctx.manifest.participant_ids:
        return {}
    return co_witnesses(ctx.manifest, ctx.participant)


def gossip_peers(ctx: NodeContext) -> list[str]:
    """The peers this node compares notes with: those witnessing a log it witnesses."""
    return list(_shared_logs(ctx))


async def _witness_loop(ctx: NodeContext, client: PeerClient, peer: Participant) -> None:
    # A log that stands still is asked less and less often, up to witness_idle_max_s:
    # an idle federation costs each node k requests per witness_idle_max_s.
    base = ctx.settings.audit.witness_interval_s
    idle_max = max(base, ctx.settings.audit.witness_idle_max_s)
    wait = base

    async def round_() -> None:
        nonlocal wait
        cosigned = await witness_round(ctx, client, peer)
        wait = base if cosigned else min(wait * 2, idle_max)

    while True:
        await peer_round(log, f"witnessing {peer.id}", round_)
        await asyncio.sleep(jittered(wait))


async def _gossip_loop(ctx: NodeContext, client: PeerClient, peer: Participant) -> None:
    gossip = ctx.settings.audit.gossip_interval_s
    while True:
        await asyncio.sleep(jittered(gossip))
        await peer_round(
            log, f"comparing with {peer.id}", lambda: compare_with_witnesses(ctx, client, peer)
        )


async def run_witness(ctx: NodeContext, client: PeerClient) -> None:
    """Witness the logs this node is assigned, and compare notes with their other
    witnesses, until cancelled (both sets follow manifest switches)."""
    async with asyncio.TaskGroup() as group:
        group.create_task(run_per_peer(ctx, client, "witness", _witness_loop, only=witnessed_peers))
        group.create_task(run_per_peer(ctx, client, "gossip", _gossip_loop, only=gossip_peers))
