"""What an analysis batch issues: the findings to report, and the signed results.

Findings converge (DESIGN.md, "Analysis"; :mod:`analyzers.converge`): a finding
reported again, changed, or withdrawn names in ``supersedes`` the result of this node
that carried its previous version (its *head*). Within one batch only the last
version of each finding is issued (:func:`findings_to_report`). Each analysis that
has findings to report becomes one ``analysis-result/1`` packet, signed by this node
and referencing its input (:func:`issue_result`); the heads then move to the results
just issued (:func:`new_heads`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from clearinghouse.analyzers.base import WITHDRAWN, Finding
from clearinghouse.analyzers.converge import finding_key
from clearinghouse.node.keyring import SigningKey
from clearinghouse.node.storage import analysis
from clearinghouse.protocol.manifest import AnalyzerDeclaration
from clearinghouse.protocol.packet import IssuedPacket, issue_packet
from clearinghouse.protocol.results import RESULT_SCHEMA, result_record

__all__ = ["findings_to_report", "issue_result", "new_heads"]


def findings_to_report(
    found: Sequence[Sequence[Finding]], held: Mapping[str, analysis.Head]
) -> dict[int, list[dict[str, Any]]]:
    """Per analysis (index into ``found``), the findings to issue, each naming the result it
    supersedes.

    A finding is issued once per batch: when a later analysis of the batch reports the
    same identity (kind, subject, period) again, only that later version is issued, by
    the later analysis's result; the earlier one was superseded before it left the node.
    A withdrawal of a finding that no result of this node carries (it was never issued,
    or is withdrawn already) is not issued at all.
    """
    last: dict[str, int] = {}
    for index, findings in enumerate(found):
        for finding in findings:
            last[finding_key(finding)] = index
    out: dict[int, list[dict[str, Any]]] = {}
    for index, findings in enumerate(found):
        for finding in findings:
            key = finding_key(finding)
            if last[key] != index:
                continue
            head = held.get(key)
            if finding.status == WITHDRAWN and (head is None or head.withdrawn):
                continue
            item = finding.as_json()
            if head is not None:
                item["supersedes"] = {"jti": head.result_jti, "digest": head.result_digest}
            out.setdefault(index, []).append(item)
            last[key] = -1  # a second finding with the same key in one analysis: the first wins
    return out


def issue_result(
    packet: analysis.QueuedPacket,
    findings: Sequence[dict[str, Any]],
    *,
    declaration: AnalyzerDeclaration,
    issuer: str,
    signing: SigningKey,
    now: datetime,
) -> IssuedPacket:
    """The result packet reporting ``findings`` about ``packet``, signed by ``issuer``
    with the input's handling code. Raises :class:`ProtocolError` if it cannot be issued."""
    kinds = sorted({f["kind"] for f in findings})
    withdrawn = sum(1 for f in findings if f.get("status") == WITHDRAWN)
    also = f", {withdrawn} withdrawn" if withdrawn else ""
    record = result_record(
        analyzer=declaration,
        input_jti=packet.jti,
        input_digest=packet.digest,
        input_schema=packet.schema_id,
        input_issuer=packet.issuer,
        findings=findings,
        explanation=(
            f"{declaration.id} {declaration.version} found {len(findings)} thing(s){also} "
            f"({', '.join(kinds)}) in {packet.schema_id} packet {packet.jti} from {packet.issuer}"
        ),
    )
    return issue_packet(
        record,
        schema=RESULT_SCHEMA,
        issuer=issuer,
        key=signing.key,
        kid=signing.kid,
        now=now,
        hc=packet.hc,
        hc_restriction=packet.hcr,
    )


def new_heads(
    results: Sequence[tuple[int, IssuedPacket]], reported: Mapping[int, list[dict[str, Any]]]
) -> dict[str, analysis.Head]:
    """The head of every finding the batch's results carry (``results``: index of the
    analysis into ``reported``, and its result)."""
    out: dict[str, analysis.Head] = {}
    for run_index, result in results:
        for finding in reported[run_index]:
            out[finding_key(finding)] = analysis.Head(
                result.ref.jti, result.ref.digest, finding.get("status") == WITHDRAWN
            )
    return out
