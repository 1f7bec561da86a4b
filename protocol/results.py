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
can tell (it knows to whom it sent each packet): its storage says what it holds of
the input (:class:`HeldInput`) and :func:`check_result_input` judges the result by that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearinghouse.protocol.errors import AnalyzerMismatch, ResultInputInvalid
from clearinghouse.protocol.manifest import AnalyzerDeclaration, Manifest
from clearinghouse.protocol.packet import VerifiedPacket

__all__ = [
    "RESULT_SCHEMA",
    "HeldInput",
    "ResultInput",
    "check_result",
    "check_result_input",
    "result_input",
    "result_record",
]

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


@dataclass(frozen=True)
class ResultInput:
    """The input packet a result names (a part the view withholds: None)."""

    jti: str
    digest: str | None
    schema: str | None
    issuer: str | None


@dataclass(frozen=True)
class HeldInput:
    """A packet a node holds under the ``jti`` a result names as its input, and, if the
    node issued it, the participants it queued a view of it for."""

    jti: str
    digest: str
    issuer: str
    schema: str
    sent_to: frozenset[str] = frozenset()


def result_input(packet: VerifiedPacket) -> ResultInput | None:
    """The input a result names (None: not a result, or its input or the input's ``jti``
    withheld)."""
    if packet.sch != RESULT_SCHEMA:
        return None
    reference = packet.claims.get("input")
    if not isinstance(reference, Mapping) or not isinstance(reference.get("jti"), str):
        return None
    digest, schema, issuer = (reference.get(k) for k in ("digest", "schema", "issuer"))
    return ResultInput(reference["jti"], digest, schema, issuer)


def check_result_input(packet: VerifiedPacket, held: Sequence[HeldInput], *, holder: str) -> None:
    """Raise :class:`ResultInputInvalid` if the result's input contradicts what ``holder``
    holds under its ``jti`` (``held``, every such packet):

    * no packet held agrees with the input's digest, issuer and schema (a part the
      result withholds agrees with anything);
    * the input may be ``holder``'s (names it as issuer, or no issuer), and ``holder``
      issued no such packet (if named) or never queued a view of it for the result's
      issuer (``sent_to`` of a packet it issued).

    Not a result, or one that withholds its input: nothing to check.
    """
    named = result_input(packet)
    if named is None:
        return
    jti = named.jti
    agreeing = [
        h
        for h in held
        if named.digest in (None, h.digest)
        and named.schema in (None, h.schema)
        and named.issuer in (None, h.issuer)
    ]
    if held and not agreeing:
        here = held[0]
        raise ResultInputInvalid(
            f"result by {packet.iss!r} names packet {jti} as issued by "
            f"{str(named.issuer)[:64]!r} ({str(named.schema)[:64]}, SHA-256 "
            f"{str(named.digest)[:12]}…), but the packet {jti} held here is issued by "
            f"{here.issuer!r} ({here.schema}, SHA-256 {here.digest[:12]}…)"
        )
    if packet.iss == holder:
        return  # the holder's own result: it analysed what it holds, nothing was sent
    issued_here = [h for h in agreeing if h.issuer == holder]
    if named.issuer == holder and not issued_here:
        raise ResultInputInvalid(
            f"result by {packet.iss!r} analyses packet {jti} of {holder!r}, but {holder!r} "
            f"issued no such packet: {packet.iss!r} cannot have received it"
        )
    if issued_here and not any(packet.iss in h.sent_to for h in issued_here):
        raise ResultInputInvalid(
            f"result by {packet.iss!r} analyses packet {jti} of {holder!r}, which "
            f"{holder!r} never sent to {packet.iss!r}: {packet.iss!r} cannot have received it"
        )
