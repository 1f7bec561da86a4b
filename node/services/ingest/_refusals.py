"""Refusals of local records: counted and recorded (``record.rejected``), never their values.

A whole request is refused (403) when its schema is not one local systems may submit
here: a schema only the analysis pipeline issues (``analysis-result/1``), or one the
manifest does not let this node originate (``originates``). A single record is refused
for its content (422) or as a revision of a record held (409); the audit entry names
the record's index and the code, never the reason (which may quote the record).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from clearinghouse.node.errors import SchemaForbidden
from clearinghouse.node.services.ingest._result import RecordRejected
from clearinghouse.node.storage import auditlog, peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.errors import SchemaNotOriginated
from clearinghouse.protocol.manifest import Manifest, check_origination
from clearinghouse.protocol.schemas import SchemaSpec

__all__ = ["record_rejections", "record_schema_refused", "why_not_submittable"]


def why_not_submittable(spec: SchemaSpec, manifest: Manifest, participant: str) -> str | None:
    """Why local systems may not submit records of ``spec`` to ``participant``'s node
    under ``manifest``; None if they may."""
    if spec.issued_by != "records":
        return (
            f"{spec.id} packets are issued only by this node's analysis pipeline; "
            "local systems may not submit them"
        )
    try:
        check_origination(manifest, participant, spec.id)
    except SchemaNotOriginated as exc:
        return exc.message
    return None


def record_schema_refused(
    engine: Engine, spec: SchemaSpec, count: int, *, actor: str, now: datetime
) -> None:
    """Count and record a request of ``count`` records refused for its schema."""
    with transaction(engine) as session:
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


def record_rejections(
    engine: Engine,
    schema: str,
    rejected: Sequence[RecordRejected],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Count and record each record refused, by index and code."""
    if not rejected:
        return
    with transaction(engine) as session:
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
