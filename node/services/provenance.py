"""Where an analysis result came from, checked now (the provenance page, ``/ui/results/{jti}``).

A result held here names its input (jti and digest) and the analyzer that produced it
(id, version, code digest). :func:`result_provenance` reads the result, the input it
names if this node holds it, and this node's analysis runs of that input; it then
verifies both packets again at display time against the manifest in force
(:func:`protocol.packet.verify_view`: signature, disclosures, policy) and compares the
analyzer with what the manifest declares for the result's issuer. Outcomes are said in
words, never raised: a packet that no longer verifies (say, its key was retired) is
shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.held_packets import pseudonym_epoch
from clearinghouse.node.storage import analysis, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AnalysisRun, StoredPacket
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.packet import verify_view
from clearinghouse.protocol.results import RESULT_SCHEMA

__all__ = ["CheckedPacket", "Provenance", "result_provenance"]


@dataclass(frozen=True)
class CheckedPacket:
    """A stored packet, whether it verifies now (in words), and its pseudonym epoch."""

    packet: StoredPacket
    verified: bool
    verification: str
    epoch: str | None


@dataclass(frozen=True)
class Provenance:
    """A result, whether its analyzer is the declared one, its input and the runs of it."""

    result: CheckedPacket
    #: the analyzer named in the result against the manifest's declaration, in words
    declared: str
    #: the input the result names, when this node holds it
    input: CheckedPacket | None
    #: this node's analysis runs of that input
    runs: list[AnalysisRun]


def result_provenance(ctx: NodeContext, jti: str) -> Provenance | None:
    """Result ``jti`` with its input and runs, each packet verified now; None if no
    analysis result of that jti is held."""
    with transaction(ctx.engine) as session:
        results = [r for r in packets.find_packet(session, jti) if r.schema_id == RESULT_SCHEMA]
        if not results:
            return None
        result = results[0]
        wanted = result.claims.get("input") or {}
        inputs = [
            r
            for r in packets.find_packet(session, str(wanted.get("jti", "")))
            if r.digest == wanted.get("digest")
        ]
        runs = analysis.runs_for_packet(session, inputs[0].id or 0) if inputs else []
    return Provenance(
        result=_checked(ctx, result),
        declared=_declared(ctx, result),
        input=_checked(ctx, inputs[0]) if inputs else None,
        runs=runs,
    )


def _checked(ctx: NodeContext, row: StoredPacket) -> CheckedPacket:
    """``row`` verified now, as a view addressed to this node (unless issued here)."""
    recipient = None if row.origin == "local" else ctx.participant
    epoch = pseudonym_epoch(row.raw)
    try:
        verified = verify_view(row.raw, ctx.manifest, recipient=recipient, now=ctx.clock.now())
    except ProtocolError as exc:
        return CheckedPacket(row, False, f"does not verify now: {exc.code}: {exc.message}", epoch)
    return CheckedPacket(
        row,
        True,
        f"verified now: Ed25519 signature by {verified.iss} (key {verified.kid}), "
        f"{len(verified.disclosed)} disclosed claim(s), policy respected",
        epoch,
    )


def _declared(ctx: NodeContext, result: StoredPacket) -> str:
    """Whether the result's analyzer (id, version, code digest) is what the manifest in
    force declares for its issuer."""
    try:
        declaration = ctx.manifest.participant(result.issuer).analyzer
    except ProtocolError:
        return "issuer not in the manifest"
    analyzer = result.claims.get("analyzer") or {}
    if declaration is None or (declaration.id, declaration.version, declaration.sha256) != (
        analyzer.get("id"),
        analyzer.get("version"),
        analyzer.get("sha256"),
    ):
        return "NOT what the manifest declares"
    return f"as the manifest (serial {ctx.manifest.serial}) declares for {result.issuer}"
