"""The manifest lifecycle at a running node: accept a successor, switch to it, spread it.

A new manifest (a higher serial, signed by at least the quorum of the manifest held
now) reaches a node by ``POST /v1/manifest`` from an admin or a peer, or is found
at a peer when this node polls ``GET /v1/manifest``. The node verifies it against
the one it holds; stores it and records the switch in its audit log in one
transaction; then switches: policy, peers (their workers start and stop), and the
key it signs with. A refusal is recorded too, with its reason.

Every node offers a manifest it newly holds to each peer still on an older one, so
a manifest submitted to any node reaches all of them; a node that was offline finds
it when it next polls. Replicas of one node share the database and pick a switch
up from it.

The database is not trusted for what it says about the manifest: at start-up and
before every switch to a stored manifest, the stored chain is verified from a trusted
anchor (:mod:`protocol.manifest_chain`): the ``manifest_file`` at start-up, the
manifest in force while running. A stored manifest that does not follow from the one
before it was written by someone other than this node; it is never obeyed and never
recorded as ``manifest.accepted``. The node refuses to start on it, or keeps the
manifest in force, and reports it: an error in the log, the metric
``clearinghouse_manifest_chain_breaks_total`` and an audit entry
``manifest.chain_broken`` (once per stored document).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyring import SigningKey, select_signing_key
from clearinghouse.node.services import acts
from clearinghouse.node.services._stored_chain import (
    ChainBreak,
    StoredChainBroken,
    StoredLink,
    chain_at_start,
    follow,
    record_break,
)
from clearinghouse.node.services.authorisations import refresh_active
from clearinghouse.node.services.peer_tasks import peer_round
from clearinghouse.node.services.trust_events import manifest_accepted, record_trust_state
from clearinghouse.node.storage import auditlog, manifests
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.transport.peer_client import (
    PeerClient,
    PeerRejectedRequest,
    PeerUnavailable,
)
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import ManifestRejected, ProtocolError
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest, verify_manifest
from clearinghouse.protocol.manifest_chain import verify_successor

__all__ = [
    "ManifestOutcome",
    "accept_manifest",
    "refresh_signing_key",
    "run_manifest_sync",
    "spread_round",
    "startup_manifest",
    "sync_from_database",
]

log = logging.getLogger("clearinghouse.manifest")


@dataclass(frozen=True)
class ManifestOutcome:
    status: str  # accepted | already-held
    serial: int
    federation: str


def startup_manifest(
    engine: Engine, document: bytes, now: datetime, *, participant: str
) -> tuple[Manifest, datetime]:
    """The manifest in force at start-up, and since when.

    ``document`` is the ``manifest_file``: one manifest, or a chain of them (a JSON
    array, oldest first: :func:`protocol.manifest_chain.parse_manifest_chain`). Its
    first manifest is the anchor this node trusts. The anchor must be the stored
    manifest of its serial (the same content), or else follow from the stored one
    before it, or else (a first start) carry a quorum of its own participants'
    signatures. From the anchor on, the file's manifests and every stored one of a
    higher serial must each follow from the one before it
    (:func:`protocol.manifest_chain.verify_chain`); the newest is in force. The file's
    manifests not stored yet are stored. So a node started from serial 3's file that
    accepted 4 and 5 since restarts on 5, after verifying 3 -> 4 -> 5; a new member
    joins from a chain whose manifests it never held.

    Raises :class:`ServiceUnavailable` saying why: ``manifest_file: ...`` when the
    file is not a manifest or a chain, has other content than the stored manifest of
    a serial, or does not verify; ``manifest chain broken: ...`` when a stored manifest
    (that the file does not hold) does not follow from the one before it: a manifest
    this node did not accept, which is logged and recorded as ``manifest.chain_broken``
    (``participant``'s node being the actor).
    """
    try:
        with transaction(engine) as session:
            return chain_at_start(session, document, now)
    except StoredChainBroken as exc:
        broken = exc.broken
        log.error("refusing to start: %s", broken.describe())
        record_break(engine, broken, acts.node_actor(participant), now)
        raise ServiceUnavailable(f"manifest chain broken: {broken.describe()}") from broken.error
    except ProtocolError as exc:
        raise ServiceUnavailable(f"manifest_file: {exc}") from exc


def _report_break(ctx: NodeContext, broken: ChainBreak) -> None:
    """Log, count and record a stored manifest that does not follow, once per document."""
    key = (broken.link.serial, broken.sha256)
    if key in ctx.broken_manifests:
        return
    ctx.broken_manifests.add(key)
    log.error("not switching, keeping serial %d: %s", ctx.manifest.serial, broken.describe())
    ctx.metrics.manifest_chain_breaks.inc()
    record_break(ctx.engine, broken, acts.node_actor(ctx.participant), ctx.clock.now())


def _switch(ctx: NodeContext, manifest: Manifest, since: datetime) -> None:
    """Run on ``manifest`` from now on: policy, peers, and the key to sign with."""
    previous = ctx.manifest
    ctx.manifest = manifest
    ctx.manifest_since = since
    declared = manifest.participant(ctx.participant).analyzer if _member(ctx, manifest) else None
    if declared != ctx.analyzer_declaration:
        log.error(
            "manifest serial %d declares analyzer %s for %s, this node runs %s: restart it "
            "with the declared analyzer; its results are refused meanwhile",
            manifest.serial,
            declared,
            ctx.participant,
            ctx.analyzer_declaration,
        )
    refresh_signing_key(ctx, reload=True)
    log.info(
        "switched from manifest serial %d to %d: %d peers, quorum %d",
        previous.serial,
        manifest.serial,
        len(ctx.peers),
        manifest.quorum,
    )
    ctx.manifest_signal.set()


def _member(ctx: NodeContext, manifest: Manifest) -> bool:
    return ctx.participant in manifest.participant_ids


def accept_manifest(ctx: NodeContext, document: bytes, *, actor: str) -> ManifestOutcome:
    """Verify ``document`` against the manifest held now and switch to it.

    Returns ``already-held`` for the manifest in force (or an older copy of its
    content). Raises :class:`ManifestRejected` saying why (recorded in the log): it
    must verify against the held one now, and follow from it as a restart will check
    (:func:`protocol.manifest_chain.verify_successor`). Raises
    :class:`ServiceUnavailable` when the database holds another manifest of its serial
    that does not follow (a planted one: reported by :func:`sync_from_database`).
    """
    now = ctx.clock.now()
    with ctx.trust_lock:
        held = ctx.manifest
        try:
            candidate = parse_manifest(document)
            if (
                candidate.serial == held.serial
                and candidate.signing_input() == held.signing_input()
            ):
                return ManifestOutcome("already-held", held.serial, held.federation)
            verify_manifest(candidate, now=now, held=held)
            verify_successor(candidate, held)  # as the stored chain is checked at restart
        except ManifestRejected as exc:
            _record_refusal(ctx, document, actor, exc, now)
            raise
        with transaction(ctx.engine) as session:
            stored = manifests.add(session, candidate, document, source=actor, now=now)
            if stored:
                auditlog.append(session, [manifest_accepted(actor, candidate)], now=now)
        if stored:
            _switch(ctx, candidate, now)
    if not stored:  # a replica switched first: it is in the database already
        sync_from_database(ctx)
        if ctx.manifest.serial < candidate.serial:
            raise ServiceUnavailable(
                f"this node's database holds another manifest of serial {candidate.serial}, "
                f"one that does not follow from serial {ctx.manifest.serial} "
                "(see manifest.chain_broken in its audit log); it cannot take this one"
            )
        return ManifestOutcome("already-held", candidate.serial, candidate.federation)
    ctx.metrics.manifest_serial.set(candidate.serial)
    return ManifestOutcome("accepted", candidate.serial, candidate.federation)


def _record_refusal(
    ctx: NodeContext, document: bytes, actor: str, exc: ManifestRejected, now: datetime
) -> None:
    fields: dict[str, object] = {
        "sha256": hashlib.sha256(document).hexdigest(),
        "reason": exc.message[:500],
    }
    try:
        fields["serial"] = parse_manifest(document).serial
    except ProtocolError:
        pass
    with transaction(ctx.engine) as session:
        auditlog.append(session, [Act("manifest.refused", actor, fields=fields)], now=now)
    ctx.metrics.manifests_refused.inc()


def sync_from_database(ctx: NodeContext) -> bool:
    """Switch to a newer manifest another replica of this node accepted; True if so.

    The stored manifests newer than the one in force must each follow from the one
    before it, from the one in force on (:func:`protocol.manifest_chain.verify_chain`);
    the node switches to the newest that does. The first that does not (no replica
    accepted it) is not switched to, nor anything after it: it is reported once
    (log, ``clearinghouse_manifest_chain_breaks_total``, ``manifest.chain_broken``).
    """
    with transaction(ctx.engine) as session:
        if manifests.latest_serial(session) <= ctx.manifest.serial:
            return False
        rows = manifests.newer_than(session, ctx.manifest.serial)
    with ctx.trust_lock:
        held = ctx.manifest
        newer = [row for row in rows if row.serial > held.serial]
        verified, broken = follow(held, [StoredLink.stored(row) for row in newer])
        if broken is not None:
            _report_break(ctx, broken)
        if not verified:
            return False
        head = verified[-1]
        _switch(ctx, head, newer[len(verified) - 1].accepted_at)
    ctx.metrics.manifest_serial.set(head.serial)
    return True


def refresh_signing_key(ctx: NodeContext, *, reload: bool = False) -> bool:
    """Sign with the newest key the manifest lets this node use now; True if it changed.

    ``reload`` reads the key files again (a rotation placed a new one beside the old).
    A newer key waits while peers may not know it yet (:func:`_hold_back`).
    When no held key may sign now, the node keeps its key and reports not ready.
    """
    if reload or not ctx.private_keys:
        try:
            ctx.private_keys, problems = ctx.key_source.load()
        except ProtocolError as exc:
            log.error("cannot read the keys of %s: %s", ctx.key_source.setting, exc)
            return False
        for problem in problems:
            log.warning("key skipped: %s", problem)
    if not _member(ctx, ctx.manifest):
        return False
    try:
        chosen = select_signing_key(
            ctx.manifest, ctx.participant, ctx.private_keys, ctx.clock.now()
        )
    except ProtocolError as exc:
        log.error("%s", exc)
        return False
    if chosen.kid == ctx.signing.kid:
        ctx.key_held_back = None
        return False
    if _hold_back(ctx, chosen):
        return False
    ctx.key_held_back = None
    previous, ctx.signing = ctx.signing.kid, chosen
    log.info("signing with key %s from now on (was %s)", chosen.kid, previous)
    record_trust_state(ctx)
    return True


def _hold_back(ctx: NodeContext, newer: SigningKey) -> bool:
    """Whether to keep signing with the current key rather than ``newer`` for now.

    Pre-publish rollover (RFC 6781, section 4.1.1.1): a new key is used only once it
    has reached those who verify, else a peer still on the older manifest refuses each
    view signed with it (``unknown-key``). So while the current key may still sign and
    some peer is not known to hold the manifest in force, the node waits, at most
    ``key_prepublish_max_s`` from when it first could have switched.
    """
    wait = ctx.settings.key_prepublish_max_s
    now = ctx.clock.now()
    current = {ctx.signing.kid: ctx.signing.key}
    try:
        select_signing_key(ctx.manifest, ctx.participant, current, now)
    except ProtocolError:
        return False  # the current key may not sign any more: no reason to wait
    serial = ctx.manifest.serial
    behind = sorted(p.id for p in ctx.peers if ctx.peer_serials.get(p.id, 0) < serial)
    if wait <= 0 or not behind:
        return False
    held = ctx.key_held_back
    if held is None or held[0] != newer.kid:
        ctx.key_held_back = (newer.kid, now)
        log.info(
            "signing with key %s only once %s hold manifest serial %d (at most %.0f s)",
            newer.kid,
            ", ".join(behind),
            serial,
            wait,
        )
        return True
    if (now - held[1]).total_seconds() < wait:
        return True
    log.warning(
        "switching to key %s after %.0f s although %s may not hold manifest serial %d: "
        "they refuse its views until they do",
        newer.kid,
        wait,
        ", ".join(behind),
        serial,
    )
    return False


async def spread_round(ctx: NodeContext, client: PeerClient) -> None:
    """Compare manifests with every peer: take a newer one, offer ours to an older one,
    and note the serial each peer holds (for :func:`_hold_back`)."""
    for peer in ctx.peers:
        ours = ctx.manifest  # it may have just changed, by this round
        try:
            document = await client.call("GET", f"{peer.base_url}/v1/manifest")
            serial = document.get("serial") if isinstance(document, dict) else None
            if not isinstance(serial, int) or isinstance(serial, bool):
                log.info("%s answered GET /v1/manifest without a serial", peer.id)
                continue
            ctx.peer_serials[peer.id] = serial
            if serial > ours.serial:
                body = manifest_json(parse_manifest(document))
                await asyncio.to_thread(accept_manifest, ctx, body, actor=f"peer:{peer.id}")
            elif serial < ours.serial:
                await client.post_bytes(f"{peer.base_url}/v1/manifest", manifest_json(ours))
                ctx.peer_serials[peer.id] = ours.serial
        except (PeerUnavailable, PeerRejectedRequest) as exc:
            log.info("manifest exchange with %s not possible now: %s", peer.id, exc.log_detail)
        except ServiceUnavailable as exc:
            log.warning("manifest of serial held by %s not taken: %s", peer.id, exc.detail)
        except ProtocolError as exc:
            log.warning("manifest of serial held by %s refused: %s", peer.id, exc)


async def run_manifest_sync(ctx: NodeContext, client: PeerClient) -> None:
    """Keep the manifest and signing key current until cancelled: pick up a replica's
    switch, change keys when validity windows say so, and exchange manifests with
    peers on every switch and every ``manifest_poll_interval_s`` (doubling up to
    ``manifest_poll_max_s`` while every peer holds the same serial)."""
    wake = ctx.manifest_signal.subscribe()
    tick = ctx.settings.manifest_sync_interval_s
    base = ctx.settings.manifest_poll_interval_s
    poll_max = max(base, ctx.settings.manifest_poll_max_s)
    loop = asyncio.get_running_loop()
    last_poll, poll = float("-inf"), base

    async def round_() -> None:
        nonlocal last_poll, poll
        await asyncio.to_thread(sync_from_database, ctx)
        await asyncio.to_thread(refresh_signing_key, ctx)
        await asyncio.to_thread(refresh_active, ctx)  # expiries, a replica's new ones
        if wake.is_set() or loop.time() - last_poll >= poll:
            wake.clear()
            last_poll = loop.time()
            await spread_round(ctx, client)
            if ctx.key_held_back is not None:  # the round may have shown every peer has it
                await asyncio.to_thread(refresh_signing_key, ctx)
            # Every node asking every peer is n(n - 1) signed requests per interval. Once
            # every peer answered with our serial, ask less and less often: a switch
            # anywhere is spread at once by whoever made it (the wake above), and a node
            # that was away asks when it starts. Any peer behind, ahead or silent: as often
            # as configured.
            serial = ctx.manifest.serial
            agreed = all(ctx.peer_serials.get(p.id) == serial for p in ctx.peers)
            poll = min(poll * 2, poll_max) if agreed else base

    while True:
        await peer_round(log, "manifest sync round", round_)
        try:
            await asyncio.wait_for(wake.wait(), timeout=tick)
        except TimeoutError:
            pass
