"""The common situation analysis: every result this node holds, fused per area and period.

DESIGN.md, "Analysis": each node fuses all results it holds — its own analyzer's
and its peers' — into one picture per area (country and admin1) and period. For
each area and period it lists each analyzer's latest findings, who produced them
and from which input, and says where analyzers agree or disagree: two analyzers
that rate the same area and period more than one level apart disagree.

Every finding carries the handling of the result it comes from (a result inherits
its input's handling code, and for H3 the free-text restriction): ``handling`` =
``{"hc", "restricted", "restriction"}``, so that whoever shows the finding can show
the restriction with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from node.context import NodeContext
from node.storage.db import transaction
from node.storage.models import StoredPacket
from protocol.results import RESULT_SCHEMA

__all__ = ["LEVELS", "FusedFinding", "fused_findings", "situation"]

LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class FusedFinding:
    """One finding of one result, with where it came from."""

    participant: str
    analyzer: str
    version: str
    result_jti: str
    result_sha256: str
    issued_at: datetime
    input: dict[str, Any]
    finding: dict[str, Any]
    #: the result's handling code (H0..H3) and, for H3, its restriction text
    hc: str = "H0"
    hcr: str | None = None

    @property
    def restricted(self) -> bool:
        """Whether the result carries a restriction (H1, H2 or H3)."""
        return self.hc != "H0"

    @property
    def handling(self) -> dict[str, Any]:
        return {"hc": self.hc, "restricted": self.restricted, "restriction": self.hcr}

    @property
    def area(self) -> tuple[str | None, str | None]:
        return self.finding.get("country"), self.finding.get("admin1")

    @property
    def period(self) -> str | None:
        return self.finding.get("period")

    def as_json(self) -> dict[str, Any]:
        return {
            **self.finding,
            "participant": self.participant,
            "analyzer": self.analyzer,
            "version": self.version,
            "result": {"jti": self.result_jti, "sha256": self.result_sha256},
            "issued_at": self.issued_at.isoformat(),
            "input": self.input,
            "handling": self.handling,
        }


def _results(session: Session) -> Iterable[StoredPacket]:
    return session.exec(
        select(StoredPacket)
        .where(StoredPacket.schema_id == RESULT_SCHEMA)
        .order_by(col(StoredPacket.issued_at), col(StoredPacket.id))
    ).all()


def _in_period(period: str | None, start: str | None, end: str | None) -> bool:
    if not start and not end:
        return True
    if not period:
        return False
    first = period.split("/", 1)[0]
    last = period.split("/", 1)[-1]
    return (not start or last[: len(start)] >= start) and (not end or first[: len(end)] <= end)


def fused_findings(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[FusedFinding]:
    """The latest finding per (analyzer, kind, subject, area, period) matching the filters."""
    latest: dict[tuple[Any, ...], FusedFinding] = {}
    with transaction(ctx.engine) as session:
        for packet in _results(session):
            claims = packet.claims
            analyzer = claims.get("analyzer") or {}
            for finding in claims.get("findings") or []:
                if country and finding.get("country") != country:
                    continue
                if admin1 and finding.get("admin1") != admin1:
                    continue
                if not _in_period(finding.get("period"), start, end):
                    continue
                fused = FusedFinding(
                    participant=packet.issuer,
                    analyzer=str(analyzer.get("id", "?")),
                    version=str(analyzer.get("version", "?")),
                    result_jti=packet.jti,
                    result_sha256=packet.digest,
                    issued_at=packet.issued_at,
                    input=claims.get("input") or {},
                    finding=finding,
                    hc=packet.hc,
                    hcr=packet.hcr,
                )
                key = (
                    fused.analyzer,
                    finding.get("kind"),
                    finding.get("subject"),
                    fused.area,
                    fused.period,
                )
                latest[key] = fused  # results come in issue order: the last one wins
    return sorted(
        latest.values(),
        key=lambda f: (f.period or "", f.area[0] or "", f.area[1] or "", f.analyzer, f.result_jti),
    )


def _agreement(findings: list[FusedFinding]) -> dict[str, Any]:
    levels: dict[str, str] = {}
    for f in findings:
        level = f.finding.get("level")
        if level in LEVELS:
            current = levels.get(f.analyzer)
            if current is None or LEVELS.index(level) > LEVELS.index(current):
                levels[f.analyzer] = level
    if len(levels) < 2:
        return {"levels": levels, "verdict": "single" if levels else "none"}
    ranks = [LEVELS.index(level) for level in levels.values()]
    verdict = "agree" if max(ranks) - min(ranks) <= 1 else "disagree"
    return {"levels": levels, "verdict": verdict}


def situation(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """The fused picture as JSON: per analyzer, per area and period, with agreement."""
    findings = fused_findings(ctx, country=country, admin1=admin1, start=start, end=end)
    analyzers: dict[tuple[str, str], dict[str, Any]] = {}
    areas: dict[tuple[Any, ...], list[FusedFinding]] = {}
    for f in findings:
        entry = analyzers.setdefault(
            (f.participant, f.analyzer),
            {
                "participant": f.participant,
                "analyzer": f.analyzer,
                "version": f.version,
                "findings": 0,
                "latest": None,
            },
        )
        entry["findings"] += 1
        entry["latest"] = max(entry["latest"] or "", f.issued_at.isoformat())
        areas.setdefault((f.area[0], f.area[1], f.period), []).append(f)
    return {
        "participant": ctx.participant,
        "filters": {"country": country, "admin1": admin1, "from": start, "to": end},
        "analyzers": [analyzers[k] for k in sorted(analyzers)],
        "areas": [
            {
                "country": key[0],
                "admin1": key[1],
                "period": key[2],
                "agreement": _agreement(group),
                "findings": [f.as_json() for f in group],
            }
            for key, group in sorted(areas.items(), key=lambda kv: tuple(x or "" for x in kv[0]))
        ],
    }
