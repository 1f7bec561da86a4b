"""Local ingest: a body's own records become packets and per-recipient views.

Each good record is issued as a packet; the packet and one view per recipient
granted anything by the policy are written in one transaction, before any network
I/O (DESIGN.md, "Outbox"). A bad record is reported with its index and reason and
never stops the good ones.

Only records come in this way. A schema that only the analysis pipeline issues
(``analysis-result/1``), or one the manifest does not let this node originate
(``originates``), is refused whole: 403 :class:`SchemaForbidden`, one
``record.rejected`` entry for the request, nothing issued.

Ingest is idempotent:

* per natural key (:meth:`protocol.schemas.SchemaSpec.natural_key`: a UCDP event
  id, a financial flow's id; seizures and market prices have none): a record whose
  key this node issued a packet for already is answered with that packet
  (``outcome: "duplicate"``, nothing issued) if it says the same
  (:meth:`~protocol.schemas.SchemaSpec.record_digest`), and refused with status 409
  (``record-conflict``, naming the packet held) if it says something else: a
  revision is never issued silently, and never dropped silently either. Two records
  with one key in a batch are treated the same way, the first one counting as held.
  Concurrent batches (replicas) race on the ``record_key`` primary key; the loser's
  transaction rolls back and is retried against what the winner stored.
* per request (:func:`submit_records`): a request sent with an ``Idempotency-Key``
  again with the same body gets the first answer again (:mod:`node.storage.idempotency`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    NodeError,
    RecordConflict,
    SchemaForbidden,
    Unprocessable,
)
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import Unlock, authorised_unlocks
from clearinghouse.node.storage import (
    analysis,
    auditlog,
    idempotency,
    outbox,
    packets,
    peers,
    record_keys,
)
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.record_keys import HeldKey, NewKey
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import ProtocolError, SchemaNotOriginated
from clearinghouse.protocol.manifest import check_origination
from clearinghouse.protocol.packet import IssuedPacket, issue_packet
from clearinghouse.protocol.schemas import SchemaSpec, get_schema

__all__ = [
    "Answer",
    "IdempotentRequest",
    "IngestResult",
    "RecordRejected",
    "ingest_records",
    "submit_records",
]

#: Attempts at writing a batch whose natural keys a concurrent batch took meanwhile.
_WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class RecordRejected:
    index: int
    code: str
    detail: str
    #: 422 for a record refused for its content, 409 for a revision of a record held
    status: int = 422
    #: the packet held under the record's natural key (a revision: 409)
    jti: str | None = None


@dataclass
class IngestResult:
    #: per record taken: index, jti, sha256, outcome ("issued", or "duplicate": the
    #: packet issued for the same record before) and the recipients it was queued to
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[RecordRejected] = field(default_factory=list)

    @property
    def issued(self) -> int:
        return sum(1 for a in self.accepted if a["outcome"] == "issued")


@dataclass
class _Record:
    index: int
    record: Mapping[str, Any]
    #: the stored form of its natural key (None: the schema has none)
    key: str | None = None
    record_sha256: str = ""


def ingest_records(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Any],
    *,
    hc: str = "H0",
    hc_restriction: str | None = None,
    actor: str | None = None,
) -> IngestResult:
    """Issue ``records`` as packets of ``schema`` and queue their views, recording each
    act in the audit log (as ``actor``: the calling token, or this node).

    Raises :class:`UnknownSchema` if the schema is unknown, :class:`SchemaForbidden`
    if local systems may not submit it; per-record problems are in the result.
    """
    spec = get_schema(schema)
    now = ctx.clock.now()
    actor = actor or acts.node_actor(ctx.participant)
    _check_submittable(ctx, spec, len(records), actor=actor, now=now)
    result = IngestResult()
    # (1) validate and key each record; (2) answer those whose key is held already
    candidates = _keyed(spec, records, hc=hc, hcr=hc_restriction, result=result)
    with transaction(ctx.engine) as session:
        held = record_keys.held_record_keys(
            session, schema, {c.key for c in candidates if c.key is not None}
        )
    fresh, followers = _partition(spec, candidates, held, result)
    # (3) issue the others; (4) store them with their views and keys
    issued, failed = _issue(ctx, schema, fresh, now=now, hc=hc, hc_restriction=hc_restriction)
    result.rejected += failed
    packet_of_key = _store(ctx, spec, issued, actor=actor, now=now, result=result)
    # (5) a later record of a key seen earlier in the batch: answered like a held one
    key_of = {c.index: c.key for c in fresh}
    refused_leader = {key_of[r.index]: r for r in failed}
    for follower in followers:
        if follower.key in packet_of_key:
            _answer_held(spec, follower, packet_of_key[follower.key], result)
        else:  # the first record of its key was refused at issue: so is this one
            leader = refused_leader[follower.key]
            result.rejected.append(RecordRejected(follower.index, leader.code, leader.detail))
    _add_recipients_of_duplicates(ctx, result)
    result.accepted.sort(key=lambda a: int(a["index"]))
    result.rejected.sort(key=lambda r: r.index)
    _record_rejections(ctx, schema, result.rejected, actor=actor, now=now)
    ctx.metrics.records_rejected.inc(len(result.rejected))
    return result


def _add_recipients_of_duplicates(ctx: NodeContext, result: IngestResult) -> None:
    """A duplicate names, like a packet issued now, the recipients it was queued to."""
    duplicates = [a for a in result.accepted if a["outcome"] == "duplicate"]
    if not duplicates:
        return
    with transaction(ctx.engine) as session:
        queued = record_keys.queued_recipients(session, {a["jti"] for a in duplicates})
    for a in duplicates:
        a["recipients"] = queued[a["jti"]]


def _check_submittable(
    ctx: NodeContext, spec: SchemaSpec, count: int, *, actor: str, now: datetime
) -> None:
    """Refuse (403, recorded) a schema local systems may not submit here."""
    if spec.issued_by != "records":
        detail = (
            f"{spec.id} packets are issued only by this node's analysis pipeline; "
            "local systems may not submit them"
        )
    else:
        try:
            check_origination(ctx.manifest, ctx.participant, spec.id)
            return
        except SchemaNotOriginated as exc:
            detail = exc.message
    with transaction(ctx.engine) as session:
        peers.add_to_counter(session, "records_rejected", count)
        auditlog.append(
            session,
            [
                Act(
                    "record.rejected",
                    actor,
                    fields={"records": count, "schema": spec.id, "code": SchemaForbidden.code},
                )
            ],
            now=now,
        )
    ctx.metrics.records_rejected.inc(count)
    raise SchemaForbidden(detail)


def _keyed(
    spec: SchemaSpec,
    records: Sequence[Any],
    *,
    hc: str,
    hcr: str | None,
    result: IngestResult,
) -> list[_Record]:
    """Each record that is an object, with its natural key and digest if the schema has
    a key (validating it for that); the others go to ``result.rejected``."""
    out: list[_Record] = []
    for index, record in enumerate(records):
        try:
            if not isinstance(record, Mapping):
                raise ProtocolError(f"record {index} is not a JSON object")
            item = _Record(index, record)
            if spec.natural_key_fields:
                claims = spec.validate_record(record)
                key = spec.natural_key(claims)
                item.key = record_keys.key_sha256(key) if key is not None else None
                item.record_sha256 = spec.record_digest(claims, hc=hc, hcr=hcr)
        except ProtocolError as exc:
            result.rejected.append(RecordRejected(index, exc.code, exc.message))
            continue
        out.append(item)
    return out


def _partition(
    spec: SchemaSpec,
    candidates: Sequence[_Record],
    held: Mapping[str, HeldKey],
    result: IngestResult,
) -> tuple[list[_Record], list[_Record]]:
    """The records to issue, and those whose key an earlier record of the batch has;
    those whose key is held are answered in ``result``."""
    fresh: list[_Record] = []
    followers: list[_Record] = []
    leading: set[str] = set()
    for c in candidates:
        if c.key is None:
            fresh.append(c)
        elif c.key in held:
            _answer_held(spec, c, held[c.key], result)
        elif c.key in leading:
            followers.append(c)
        else:
            leading.add(c.key)
            fresh.append(c)
    return fresh, followers


def _answer_held(spec: SchemaSpec, record: _Record, held: HeldKey, result: IngestResult) -> None:
    """A record whose natural key names a packet issued already: a duplicate of it, or
    (other content) a revision, refused with 409 naming the packet held."""
    if held.record_sha256 == record.record_sha256:
        result.accepted.append(
            {"index": record.index, "jti": held.jti, "sha256": held.digest, "outcome": "duplicate"}
        )
        return
    key = ", ".join(spec.natural_key_fields)
    result.rejected.append(
        RecordRejected(
            record.index,
            RecordConflict.code,
            f"a {spec.id} record with this {key} is held as packet {held.jti} with other "
            "content (a revision): it is not issued again; correct the packet held or "
            "give the revision a new key",
            status=RecordConflict.status,
            jti=held.jti,
        )
    )


def _issue(
    ctx: NodeContext,
    schema: str,
    fresh: Sequence[_Record],
    *,
    now: datetime,
    hc: str,
    hc_restriction: str | None,
) -> tuple[list[tuple[_Record, IssuedPacket]], list[RecordRejected]]:
    signing = ctx.signing  # one key for the whole batch, even if it rotates meanwhile
    issued: list[tuple[_Record, IssuedPacket]] = []
    failed: list[RecordRejected] = []
    for item in fresh:
        try:
            packet = issue_packet(
                item.record,
                schema=schema,
                issuer=ctx.participant,
                key=signing.key,
                kid=signing.kid,
                now=now,
                pseudonym_key=ctx.pseudonym_key.key if ctx.pseudonym_key else None,
                pseudonym_epoch=ctx.pseudonym_key.epoch if ctx.pseudonym_key else None,
                hc=hc,
                hc_restriction=hc_restriction,
            )
        except ProtocolError as exc:
            failed.append(RecordRejected(item.index, exc.code, exc.message))
            continue
        issued.append((item, packet))
    return issued, failed


def _store(
    ctx: NodeContext,
    spec: SchemaSpec,
    issued: Sequence[tuple[_Record, IssuedPacket]],
    *,
    actor: str,
    now: datetime,
    result: IngestResult,
) -> dict[str, HeldKey]:
    """Write the issued packets, their views, natural keys and audit entries in one
    transaction; answer in ``result``. Returns the packet now held for each key.

    A packet whose key a concurrent batch stored first is not written; its record is
    answered with the packet held (retried on the primary key's conflict)."""
    packet_of_key: dict[str, HeldKey] = {}
    if not issued:
        return packet_of_key
    sharing = ctx.manifest.sharing
    recipients = {
        peer.id: sharing.granted_claims(spec, peer.id)
        for peer in ctx.peers
        if sharing.granted_claims(spec, peer.id)
    }
    # An oversight authorisation in force may add fields for one recipient.
    unlocks = [authorised_unlocks(ctx, packet, now) for _, packet in issued]
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            with transaction(ctx.engine) as session:
                raced = record_keys.held_record_keys(
                    session, spec.id, {r.key for r, _ in issued if r.key is not None}
                )
                storing = [
                    (item, unlocked)
                    for item, unlocked in zip(issued, unlocks, strict=True)
                    if item[0].key not in raced
                ]
                _write(ctx, session, spec, storing, recipients, actor=actor, now=now)
            break
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS:
                raise
    for (item, packet), unlocked in storing:
        if item.key is not None:
            packet_of_key[item.key] = HeldKey(packet.ref.jti, packet.ref.digest, item.record_sha256)
        result.accepted.append(
            {
                "index": item.index,
                "jti": packet.ref.jti,
                "sha256": packet.ref.digest,
                "outcome": "issued",
                "recipients": sorted({*recipients, *unlocked}),
            }
        )
    for item, _ in issued:
        if item.key is not None and item.key in raced:
            packet_of_key[item.key] = raced[item.key]
            _answer_held(spec, item, raced[item.key], result)
    stored = len(storing)
    ctx.metrics.packets_issued.inc(stored)
    if stored:
        ctx.outbox_signal.set()
        if ctx.wants_analysis(spec.id):
            ctx.analysis_signal.set()
    return packet_of_key


def _write(
    ctx: NodeContext,
    session: Any,
    spec: SchemaSpec,
    storing: Sequence[tuple[tuple[_Record, IssuedPacket], dict[str, Unlock]]],
    recipients: Mapping[str, frozenset[str]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Packets, views (policy and authorisations), analysis queue, natural keys and
    audit entries, in the caller's transaction."""
    if not storing:
        return
    signing = ctx.signing
    policy = acts.policy_digest(ctx.manifest)
    issued = [packet for (_, packet), _ in storing]
    views = [
        {r: packet.view(granted) for r, granted in recipients.items() if r not in unlocked}
        for ((_, packet), unlocked) in storing
    ]
    ids = packets.add_issued(session, issued, issuer=ctx.participant, kid=signing.kid, now=now)
    outbox.enqueue(
        session, [(i, p.ref, v) for i, p, v in zip(ids, issued, views, strict=True)], now=now
    )
    if ctx.wants_analysis(spec.id):
        analysis.enqueue(session, ids, now=now)
    record_keys.add_record_keys(
        session,
        spec.id,
        [
            NewKey(item.key, row_id, packet.ref.jti, packet.ref.digest, item.record_sha256)
            for row_id, ((item, packet), _) in zip(ids, storing, strict=True)
            if item.key is not None
        ],
        now=now,
    )
    entries: list[Act] = []
    for row_id, ((item, packet), unlocked) in zip(ids, storing, strict=True):
        entries.append(acts.packet_issued(actor, packet, signing.kid, record=item.index))
        entries += [
            acts.view_queued(actor, packet, r, granted, policy)
            for r, granted in recipients.items()
            if r not in unlocked
        ]
        for r, unlock in unlocked.items():
            allowed = recipients.get(r, frozenset()) | unlock.claims
            outbox.enqueue(
                session,
                [(row_id, packet.ref, {r: packet.view(allowed)})],
                now=now,
                authorisation_id=unlock.authorisation.id,
            )
            entries.append(acts.view_queued(actor, packet, r, allowed, policy))
            entries.append(
                acts.authorisation_used(
                    acts.node_actor(ctx.participant),
                    unlock.authorisation,
                    peer=r,
                    jti=packet.ref.jti,
                    digest=packet.ref.digest,
                    fields=sorted(unlock.claims),
                )
            )
    auditlog.append(session, entries, now=now)


def _record_rejections(
    ctx: NodeContext,
    schema: str,
    rejected: Sequence[RecordRejected],
    *,
    actor: str,
    now: datetime,
) -> None:
    if not rejected:
        return
    with transaction(ctx.engine) as session:
        peers.add_to_counter(session, "records_rejected", len(rejected))
        auditlog.append(
            session,
            [
                Act(
                    "record.rejected",
                    actor,
                    jti=r.jti,  # a revision: the packet held under its key
                    # the code only: a reason may quote the record's values
                    fields={"record": r.index, "schema": schema, "code": r.code},
                )
                for r in rejected
            ],
            now=now,
        )


# -- the answer of POST /v1/local/records, once per Idempotency-Key --------------------


@dataclass(frozen=True)
class IdempotentRequest:
    """A request's ``Idempotency-Key`` and the SHA-256 (hex) of its body."""

    key: str
    request_sha256: str


@dataclass(frozen=True)
class Answer:
    """The body of a 200 answer; ``replayed`` if it was given before to the same key."""

    body: dict[str, Any]
    replayed: bool = False


def submit_records(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Any],
    *,
    hc: str,
    hc_restriction: str | None,
    token: str,
    idempotent: IdempotentRequest | None = None,
) -> Answer:
    """Ingest ``records`` for the token named ``token`` and shape the answer: the
    records accepted (issued or duplicates) and those rejected, by index.

    Raises :class:`Unprocessable` (422) if no record was accepted, :class:`RecordConflict`
    (409) if every refusal was a revision. With ``idempotent``: the same key and body
    again gets the first answer (200 or that refusal); raises
    :class:`IdempotencyKeyReused` (422) for the same key with another body and
    :class:`IdempotencyKeyInUse` (409) while the first request runs.
    """
    actor = acts.token_actor(token)
    if idempotent is None:
        return Answer(_records_answer(ctx, schema, records, hc, hc_restriction, actor))
    retention = timedelta(seconds=ctx.settings.idempotency_retention_s)
    token = _scope(token)
    with transaction(ctx.engine) as session:
        held = idempotency.claim(
            session,
            token=token,
            key=idempotent.key,
            request_sha256=idempotent.request_sha256,
            now=ctx.clock.now(),
            retention=retention,
        )
    if held is not None:
        return _replay(held, idempotent)
    try:
        body = _records_answer(ctx, schema, records, hc, hc_restriction, actor)
    except (Unprocessable, RecordConflict) as exc:  # the records were processed: keep it
        _keep(ctx, token, idempotent.key, exc.status, _problem_document(exc))
        raise
    except BaseException:
        with transaction(ctx.engine) as session:
            idempotency.release(session, token=token, key=idempotent.key)
        raise
    _keep(ctx, token, idempotent.key, 200, body)
    return Answer(body)


def _scope(token: str) -> str:
    """The token's name as its keys' scope; a name longer than the column (255) by its
    SHA-256, so that it still names one token and one only."""
    if len(token) <= 255:
        return token
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _records_answer(
    ctx: NodeContext,
    schema: str,
    records: Sequence[Any],
    hc: str,
    hc_restriction: str | None,
    actor: str,
) -> dict[str, Any]:
    result = ingest_records(ctx, schema, records, hc=hc, hc_restriction=hc_restriction, actor=actor)
    rejected = [
        {"index": r.index, "status": r.status, "code": r.code, "detail": r.detail}
        | ({"jti": r.jti} if r.jti else {})
        for r in result.rejected
    ]
    if not result.accepted:
        first = rejected[0]
        detail = f"no record accepted; record {first['index']}: {first['detail']}"
        if all(r.status == RecordConflict.status for r in result.rejected):
            raise RecordConflict(detail, rejected=rejected)
        raise Unprocessable(detail, rejected=rejected)
    issued = result.issued
    return {
        "accepted": len(result.accepted),
        "issued": issued,
        "duplicates": len(result.accepted) - issued,
        "rejected": rejected,
        "packets": result.accepted,
    }


def _keep(ctx: NodeContext, token: str, key: str, status: int, document: Any) -> None:
    with transaction(ctx.engine) as session:
        idempotency.complete(
            session, token=token, key=key, status=status, response=json.dumps(document)
        )


def _problem_document(exc: NodeError) -> dict[str, Any]:
    return {"code": exc.code, "title": exc.title, "detail": exc.detail, "extra": exc.extra}


def _replay(held: idempotency.HeldRequest, request: IdempotentRequest) -> Answer:
    if held.request_sha256 != request.request_sha256:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {request.key!r} was used for a request with another body; "
            "use a new key for a new request"
        )
    if held.status is None or held.response is None:
        raise IdempotencyKeyInUse(
            f"a request with Idempotency-Key {request.key!r} is still being processed; "
            "retry once it is answered"
        )
    document = json.loads(held.response)
    if held.status == 200:
        return Answer(document, replayed=True)
    problem = NodeError(document["detail"], **document["extra"])
    problem.status, problem.code, problem.title = held.status, document["code"], document["title"]
    problem.headers["idempotent-replayed"] = "true"
    raise problem
