"""What a federation must hold after faults, read from every node's database.

:func:`check_exactly_once` — every view, analysis and result present exactly once
at every entitled participant:

1. each node holds each packet once: ``packet`` rows unique by ``(jti, digest)`` and
   by ``jti`` alone;
2. each issuer queued exactly one view per packet for each participant its policy
   grants anything (one ``outbox`` row per (recipient, packet)), and every one of
   them is ``delivered`` (none pending, none refused);
3. each recipient holds exactly the packets queued for it by each issuer, no more,
   no fewer, each showing only what its policy grants it;
4. each node with an analyzer ran it exactly once on each packet of a schema it
   takes (own records and received views alike), without error, with an empty
   queue; each analysis that found something issued exactly one result, and no
   result exists without its analysis;
5. no view was refused by its recipient (``inbound_refusal`` empty).

:func:`check_audit` — every log's final checkpoint is cosigned by every peer
(:func:`wait_witnessed`), every log verifies end to end (entries, every checkpoint's
signature, every stored cosignature and the consistency between checkpoints), no
node raised a witness alert, and what each witness last cosigned of each peer's log
is a checkpoint of that log's final tree (same size, same root, signature valid).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from clearinghouse.analyzers.registry import load
from clearinghouse.node.audit_tool import check_checkpoint
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.results import RESULT_SCHEMA
from clearinghouse.protocol.schemas import get_schema
from tests.integration._nodes import Databases, verify_audit_log, wait_witnessed

__all__ = ["check_audit", "check_exactly_once", "duplicate_receipts"]

Ref = tuple[str, str]


def _some(items: Any, n: int = 3) -> list[Any]:
    return sorted(items)[:n]


def _claims(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def check_exactly_once(
    fed: LocalFederation,
    db: Databases,
    participants: tuple[str, ...] | None = None,
    *,
    refused: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Assert (1)-(5) above (with ``refused``: as many views refused at each node as it
    says, e.g. ones the test forged); return the counts checked."""
    participants = participants or tuple(fed.nodes)
    manifest = parse_manifest(fed.manifest_path.read_bytes())
    grants: dict[tuple[str, str], frozenset[str]] = {}

    def granted(schema: str, recipient: str) -> frozenset[str]:
        if (schema, recipient) not in grants:
            grants[schema, recipient] = manifest.sharing.granted_claims(
                get_schema(schema), recipient
            )
        return grants[schema, recipient]

    local: dict[str, dict[Ref, str]] = {}
    held: dict[str, dict[Ref, tuple[str, str]]] = {}
    ids: dict[str, dict[int, tuple[str, bool]]] = {}  # row id -> (schema, issued here)
    counts: dict[str, Any] = {"packets": {}, "views": 0, "analyses": 0, "results": 0}
    for p in participants:
        rows = db.rows(p, "SELECT id, jti, digest, issuer, schema_id, origin, claims FROM packet")
        # (1): each packet once.
        refs = Counter((r.jti, r.digest) for r in rows)
        jtis = Counter(r.jti for r in rows)
        assert len(refs) == len(rows), (
            f"{p} holds packets twice: {_some(k for k, n in refs.items() if n > 1)}"
        )
        assert len(jtis) == len(rows), (
            f"{p} holds one jti under two digests: {_some(k for k, n in jtis.items() if n > 1)}"
        )
        local[p] = {(r.jti, r.digest): r.schema_id for r in rows if r.origin == "local"}
        held[p] = {(r.jti, r.digest): (r.issuer, r.schema_id) for r in rows if r.origin != "local"}
        ids[p] = {int(r.id): (r.schema_id, r.origin == "local") for r in rows}
        assert all(r.issuer == p for r in rows if r.origin == "local"), (
            f"{p}: a local packet by another issuer"
        )
        # (3), what each view shows.
        over = [
            (r.jti, sorted(set(_claims(r.claims)) - granted(r.schema_id, p)))
            for r in rows
            if r.origin != "local" and not set(_claims(r.claims)) <= granted(r.schema_id, p)
        ]
        assert not over, f"{p} holds views showing more than its policy grants: {over[:3]}"
        counts["packets"][p] = len(rows)
    for issuer in participants:
        outbox = db.rows(issuer, "SELECT recipient, jti, digest, state FROM outbox")
        states = Counter(r.state for r in outbox)
        assert set(states) <= {"delivered"}, (
            f"{issuer}'s outbox is not all delivered: {dict(states)}"
        )
        for recipient in participants:
            if recipient == issuer:
                continue
            # (2): one view queued per packet and entitled recipient.
            expected = {ref for ref, schema in local[issuer].items() if granted(schema, recipient)}
            queued = Counter((r.jti, r.digest) for r in outbox if r.recipient == recipient)
            doubled = [ref for ref, n in queued.items() if n > 1]
            assert not doubled, (
                f"{issuer} queued {len(doubled)} views twice for {recipient}: {_some(doubled)}"
            )
            assert set(queued) == expected, (
                f"{issuer} queued for {recipient}: {len(set(queued) - expected)} views of "
                f"packets it does not hold or may not send, {len(expected - set(queued))} "
                "packets without a view"
            )
            # (3): the recipient holds exactly those.
            got = {ref for ref, (iss, _) in held[recipient].items() if iss == issuer}
            missing, extra = expected - got, got - expected
            assert not missing and not extra, (
                f"{recipient} holds {len(got)} packets of {issuer}, {len(expected)} queued: "
                f"{len(missing)} missing (e.g. {_some(missing)}), {len(extra)} not queued "
                f"(e.g. {_some(extra)})"
            )
            counts["views"] += len(expected)
    # (4): analyses and results.
    for p in participants:
        declared = manifest.participant(p).analyzer
        if declared is None:
            continue
        schemas = load(declared.id).schemas
        wanted = {i for i, (schema, _) in ids[p].items() if schema in schemas}
        runs = db.rows(p, "SELECT packet_id, result_packet_id, error FROM analysis_run")
        per_packet = Counter(int(r.packet_id) for r in runs)
        twice = [i for i, n in per_packet.items() if n > 1]
        assert not twice, f"{p} analysed {len(twice)} packets more than once: {_some(twice)}"
        assert set(per_packet) == wanted, (
            f"{p} analysed {len(set(per_packet))} packets of {len(wanted)}: "
            f"{len(wanted - set(per_packet))} never, "
            f"{len(set(per_packet) - wanted)} not its to analyse"
        )
        errors = [r.error for r in runs if r.error]
        assert not errors, f"{p}: {len(errors)} analyses failed, e.g. {errors[:2]}"
        queue = db.value(p, "SELECT count(*) FROM analysis_queue")
        assert queue == 0, f"{p} still has {queue} packets queued for analysis"
        result_ids = Counter(
            int(r.result_packet_id) for r in runs if r.result_packet_id is not None
        )
        assert all(n == 1 for n in result_ids.values()), f"{p}: one result for two analyses"
        issued = {i for i, (schema, own) in ids[p].items() if schema == RESULT_SCHEMA and own}
        assert set(result_ids) == issued, (
            f"{p}: {len(result_ids)} analyses issued results, it holds {len(issued)} own results"
        )
        counts["analyses"] += len(runs)
        counts["results"] += len(result_ids)
    # (5): nothing refused (but what the caller expects).
    for p in participants:
        rows = db.rows(p, "SELECT peer, disposition, code FROM inbound_refusal")
        assert len(rows) == (refused or {}).get(p, 0), (
            f"{p} refused {len(rows)} views: {Counter(tuple(r) for r in rows)}"
        )
    return counts


def duplicate_receipts(db: Databases, participants: tuple[str, ...]) -> dict[str, int]:
    """Per node, views it received again although it held them already (each answered
    with a ``duplicate`` receipt, or pulled again)."""
    out = {}
    for p in participants:
        rows = db.rows(p, "SELECT value FROM node_counter WHERE name = 'duplicates'")
        out[p] = int(rows[0].value) if rows else 0
    return out


def check_audit(
    fed: LocalFederation, db: Databases, participants: tuple[str, ...], *, timeout: float = 180
) -> dict[str, Any]:
    """Assert what the module docstring says of the audit logs; return their sizes."""
    manifest: Manifest = parse_manifest(fed.manifest_path.read_bytes())
    wait_witnessed(db, participants, timeout=timeout)
    report: dict[str, Any] = {"entries": {}, "checkpoints": {}, "cosignatures": {}}
    heads = {p: db.rows(p, "SELECT size, root FROM audit_head")[0] for p in participants}
    for p in participants:
        summary = verify_audit_log(fed, p)
        assert summary.entries == heads[p].size, (p, summary.entries, heads[p].size)
        report["entries"][p] = summary.entries
        report["checkpoints"][p] = summary.checkpoints
        report["cosignatures"][p] = dict(summary.cosignatures)
        alerts = db.rows(p, "SELECT peer, kind, detail FROM audit_alert")
        assert not alerts, f"{p} raised witness alerts: {[tuple(a) for a in alerts]}"
    for witness in participants:
        witnessed = {
            r.peer: r for r in db.rows(witness, "SELECT peer, size, root, note FROM witnessed_log")
        }
        assert set(witnessed) == set(participants) - {witness}, (witness, sorted(witnessed))
        for peer, row in witnessed.items():
            checked = check_checkpoint(row.note, manifest)
            assert (checked.participant, checked.size) == (peer, row.size), (witness, peer)
            assert bytes(checked.root) == bytes(row.root), f"{witness}'s note of {peer} != its row"
            signed = db.rows(peer, "SELECT root FROM audit_checkpoint WHERE size = :s", s=row.size)
            assert signed and bytes(signed[0].root) == bytes(row.root), (
                f"{witness} cosigned {peer}'s log at size {row.size} with a root that is not "
                f"{peer}'s checkpoint at that size"
            )
            assert row.size == heads[peer].size and bytes(row.root) == bytes(heads[peer].root), (
                f"{witness} last cosigned {peer}'s log at {row.size}, its final size is "
                f"{heads[peer].size}"
            )
    return report
