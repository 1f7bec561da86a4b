"""``ingest_records``: a batch of local records through its named steps.

(1) refuse a schema local systems may not submit; (2) validate and key each record;
(3) answer the records whose natural key names a packet held; (4) sign the others, one
key for the batch; (5) store them with their views, keys and audit entries, in one
transaction; (6) answer the later records of a key seen earlier in the batch; (7)
record the refusals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import SchemaForbidden
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import authorised_unlocks
from clearinghouse.node.services.ingest._issue import issue_records
from clearinghouse.node.services.ingest._keys import answer_followers, key_records, partition
from clearinghouse.node.services.ingest._refusals import (
    record_rejections,
    record_schema_refused,
    why_not_submittable,
)
from clearinghouse.node.services.ingest._result import IngestResult
from clearinghouse.node.services.ingest._store import Batch, Issued, store_issued
from clearinghouse.node.services.recipients import policy_recipients
from clearinghouse.node.storage import record_keys
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.schemas import SchemaSpec, get_schema

__all__ = ["ingest_records"]


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
    # (1) refuse (recorded) a schema local systems may not submit here
    if (refused := why_not_submittable(spec, ctx.manifest, ctx.participant)) is not None:
        record_schema_refused(ctx.engine, spec, len(records), actor=actor, now=now)
        ctx.metrics.records_rejected.inc(len(records))
        raise SchemaForbidden(refused)
    result = IngestResult()
    # (2) validate and key each record; (3) answer those whose key is held already
    candidates = key_records(spec, records, hc=hc, hcr=hc_restriction, result=result)
    with transaction(ctx.engine) as session:
        held = record_keys.held_record_keys(
            session, schema, {c.key for c in candidates if c.key is not None}
        )
    fresh, followers = partition(spec, candidates, held, result)
    # (4) sign the others
    signing = ctx.signing  # one key for the whole batch, even if it rotates meanwhile
    issued, failed = issue_records(
        fresh,
        schema=schema,
        issuer=ctx.participant,
        signing=signing,
        pseudonym_key=ctx.pseudonym_key,
        now=now,
        hc=hc,
        hc_restriction=hc_restriction,
    )
    result.rejected += failed
    # (5) store them, their views (an oversight authorisation in force may add fields
    # for one recipient), keys and audit entries
    batch = _batch(ctx, spec, kid=signing.kid, actor=actor, now=now)
    with_unlocks = [Issued(r, p, authorised_unlocks(ctx, p, now)) for r, p in issued]
    packet_of_key = store_issued(ctx.engine, batch, with_unlocks, result)
    _announce(ctx, batch, stored=result.issued)
    # (6) a later record of a key seen earlier in the batch: answered like a held one;
    # (7) record the refusals
    answer_followers(spec, followers, packet_of_key, fresh, failed, result)
    _add_recipients_of_duplicates(ctx.engine, result)
    result.accepted.sort(key=lambda a: a["index"])
    result.rejected.sort(key=lambda r: r.index)
    record_rejections(ctx.engine, schema, result.rejected, actor=actor, now=now)
    ctx.metrics.records_rejected.inc(len(result.rejected))
    return result


def _batch(ctx: NodeContext, spec: SchemaSpec, *, kid: str, actor: str, now: datetime) -> Batch:
    """How this batch is stored: by the policy in force now, signed with ``kid``."""
    return Batch(
        spec,
        issuer=ctx.participant,
        kid=kid,
        actor=actor,
        now=now,
        recipients=policy_recipients(ctx.manifest, spec, issuer=ctx.participant),
        policy=acts.policy_digest(ctx.manifest),
        analyse=ctx.wants_analysis(spec.id),
    )


def _announce(ctx: NodeContext, batch: Batch, *, stored: int) -> None:
    """Count the packets stored and wake the delivery (and analysis) workers for them."""
    ctx.metrics.packets_issued.inc(stored)
    if stored:
        ctx.outbox_signal.set()
        if batch.analyse:
            ctx.analysis_signal.set()


def _add_recipients_of_duplicates(engine: Engine, result: IngestResult) -> None:
    """A duplicate names, like a packet issued now, the recipients it was queued to."""
    duplicates = [a for a in result.accepted if a["outcome"] == "duplicate"]
    if not duplicates:
        return
    with transaction(engine) as session:
        queued = record_keys.queued_recipients(session, {a["jti"] for a in duplicates})
    for a in duplicates:
        a["recipients"] = queued[a["jti"]]
