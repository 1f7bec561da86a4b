"""Analysis results (``analysis-result/1``): build one, and check it against the manifest.

DESIGN.md, "Analysis": a node issues a result signed by itself that references
its input (``jti`` + digest) and names the analyzer (id, version, SHA-256 of its
code). A receiver refuses a result whose analyzer is not exactly the one the
manifest declares for the result's issuer, and one whose input names an issuer
that is no participant of the federation: nobody can have received, let alone
verified, such a packet (:func:`check_result`).

What the manifest alone cannot show is whether the result's issuer received a
given packet of a participant: the policy may grant it nothing of the schema and
an oversight authorisation still let a view through. The originator of the input
can tell (it knows to whom it sent each packet); that check needs its storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protocol.errors import AnalyzerMismatch, ResultInputInvalid
from protocol.manifest import AnalyzerDeclaration, Manifest
from protocol.packet import VerifiedPacket

__all__ = ["RESULT_SCHEMA", "check_result", "result_record"]

RESULT_SCHEMA = "analysis-result/1"


def result_record(
    *,
    analyzer: AnalyzerDeclaration,
    input_jti: str,
    input_digest: str,
    input_schema: str,
    input_issuer: str,
    findings: Sequence[Mapping[str, Any]],
    explanation: str,
    scores: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The ``analysis-result/1`` record of one analysis (to be issued as a packet)."""
    record: dict[str, Any] = {
        "analyzer": {"id": analyzer.id, "version": analyzer.version, "sha256": analyzer.sha256},
        "input": {
            "jti": input_jti,
            "digest": input_digest,
            "schema": input_schema,
            "issuer": input_issuer,
        },
        "findings": [dict(f) for f in findings],
        "explanation": explanation,
    }
    if scores:
        record["scores"] = dict(scores)
    return record


def check_result(packet: VerifiedPacket, manifest: Manifest) -> None:
    """Raise :class:`AnalyzerMismatch` unless the result's analyzer is its issuer's declared one.

    A view that withholds the analyzer claim cannot be checked and is refused too.
    Raise :class:`ResultInputInvalid` if the input it names was issued by no
    participant of ``manifest`` (a view that withholds the input is not checked).
    """
    if packet.sch != RESULT_SCHEMA:
        return
    declared = manifest.participant(packet.iss).analyzer
    claimed = packet.claims.get("analyzer")
    if declared is None:
        raise AnalyzerMismatch(f"{packet.iss!r} declares no analyzer, yet issued a result")
    if not isinstance(claimed, Mapping):
        raise AnalyzerMismatch("the result does not disclose its analyzer")
    got = (claimed.get("id"), claimed.get("version"), claimed.get("sha256"))
    want = (declared.id, declared.version, declared.sha256)
    if got != want:
        raise AnalyzerMismatch(
            f"result by {packet.iss!r} names analyzer {got[0]} {got[1]} ({str(got[2])[:12]}…), "
            f"but the manifest declares {want[0]} {want[1]} ({want[2][:12]}…)"
        )
    reference = packet.claims.get("input")
    if not isinstance(reference, Mapping):
        return
    issuer = reference.get("issuer")
    if issuer is not None and issuer not in manifest.participant_ids:
        raise ResultInputInvalid(
            f"result by {packet.iss!r} analyses packet {str(reference.get('jti'))[:40]!r} "
            f"issued by {str(issuer)[:64]!r}, which is no participant of {manifest.federation}: "
            f"{packet.iss!r} cannot have received it"
        )
