"""The common situation analysis: every result this node holds, fused per area and period.

DESIGN.md, "Analysis": each node fuses all results it holds — its own analyzer's
and its peers' — into one picture per area (country and admin1) and period. For
each area and period it lists each analyzer's latest findings, who produced them
and from which input, and says where analyzers agree or disagree: two analyzers
that rate the same area and period more than one level apart disagree.

Findings converge: a later version of a finding (same issuer, analyzer, kind,
subject and period) names the result it supersedes, and a finding that no
longer holds is withdrawn. The situation shows each finding's latest version,
leaves out withdrawn ones, and on request (``history``) lists the versions
before it and the withdrawn findings.

It answers from the database's index of the findings held
(:mod:`node.storage.situation_index`: one row per finding, the latest version
marked as results are stored), a page or a bounded list at a time, so that neither
its memory nor its answer grows with the packets held. With ``as_of`` it shows the
situation as the node held it at a past instant, from the same versions.

Every finding carries the handling of the result it comes from (a result inherits
its input's handling code, and for H3 the free-text restriction): ``handling`` =
``{"hc", "restricted", "restriction"}``, so that whoever shows the finding can show
the restriction with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from clearinghouse.node.context import NodeContext
from clearinghouse.node.storage import situation_queries
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import SituationFinding
from clearinghouse.node.storage.situation_index import actor_of
from clearinghouse.node.storage.situation_queries import FindingFilter

__all__ = [
    "LEVELS",
    "FindingFilter",
    "FusedFinding",
    "contributors",
    "finding_filter",
    "fused_findings",
    "month_bound",
    "situation",
]

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
    def identity(self) -> tuple[Any, ...]:
        """What makes two findings versions of one: issuer, analyzer, kind, subject, period."""
        f = self.finding
        return (self.participant, self.analyzer, f.get("kind"), f.get("subject"), f.get("period"))

    @property
    def key(self) -> str:
        """This version's key: its result and its identity, as JSON."""
        return json.dumps([self.result_jti, *self.identity[2:]], ensure_ascii=False)

    @property
    def withdrawn(self) -> bool:
        """Whether this version withdraws the finding (it no longer holds)."""
        return self.finding.get("status") == "withdrawn"

    @property
    def area(self) -> tuple[str | None, str | None]:
        return self.finding.get("country"), self.finding.get("admin1")

    @property
    def period(self) -> str | None:
        return self.finding.get("period")

    @property
    def actor(self) -> str | None:
        """The actor the finding is about, if any (:func:`actor_of`)."""
        return actor_of(self.analyzer, self.finding)

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


def month_bound(value: str | None, *, last: bool) -> str | None:
    """A period filter (``2016``, ``2016-03`` or ``2016-03-15``) as the month it starts
    (``last``: ends) in: ``2016`` from 2016-01 to 2016-12."""
    if not value:
        return None
    if len(value) == 4:
        return f"{value}-12" if last else f"{value}-01"
    return value[:7]


def _fused(row: SituationFinding) -> FusedFinding:
    return FusedFinding(
        participant=row.participant,
        analyzer=row.analyzer,
        version=row.analyzer_version,
        result_jti=row.result_jti,
        result_sha256=row.result_sha256,
        issued_at=row.issued_at,
        input=row.input,
        finding=row.finding,
        hc=row.hc,
        hcr=row.hcr,
    )


def finding_filter(
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
    **more: Any,
) -> FindingFilter:
    """The index's filter for the situation's query parameters (periods as months)."""
    return FindingFilter(
        country=country or None,
        admin1=admin1 or None,
        start=month_bound(start, last=False),
        end=month_bound(end, last=True),
        **more,
    )


def fused_findings(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
    history: dict[str, list[FusedFinding]] | None = None,
    withdrawn: list[FusedFinding] | None = None,
    where: FindingFilter | None = None,
    limit: int | None = None,
    severity: bool = False,
) -> list[FusedFinding]:
    """The latest version of every finding that holds, matching the filters (``where``,
    else built from the others), at most ``limit``, by period (``severity``: the most
    severe first).

    ``withdrawn``, when given, receives the findings whose latest version withdraws
    them; ``history``, when given, the earlier versions of each finding returned (and
    of each withdrawn one), oldest first, keyed by :attr:`FusedFinding.key`.
    """
    where = where or finding_filter(country=country, admin1=admin1, start=start, end=end)
    with transaction(ctx.engine) as session:
        latest = situation_queries.findings(session, where, limit=limit, severity=severity)
        gone = (
            situation_queries.findings(session, replace(where, withdrawn=True), limit=limit)
            if withdrawn is not None
            else []
        )
        earlier = (
            situation_queries.earlier_versions(session, [*latest, *gone])
            if history is not None
            else []
        )
    if withdrawn is not None:
        withdrawn.extend(_fused(r) for r in gone)
    if history is not None:
        by_identity: dict[str, list[FusedFinding]] = {}
        for row in earlier:
            by_identity.setdefault(row.identity_sha256, []).append(_fused(row))
        for row in (*latest, *gone):
            if row.identity_sha256 in by_identity:
                history[_fused(row).key] = by_identity[row.identity_sha256]
    return [_fused(r) for r in latest]


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


#: How many area-period groups ``/v1/situation`` answers per page at most.
MAX_AREAS = 5000


def situation(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
    history: bool = False,
    where: FindingFilter | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """The fused picture as JSON: per analyzer, per area and period, with agreement.

    Paged by area and period (``limit`` groups from ``offset``; ``page.next`` is the
    next offset, or None on the last page), so that its size never grows with what
    the node holds. With ``history``, each finding lists its earlier versions
    (``history``, oldest first) and the findings withdrawn are listed apart
    (``withdrawn``: a page of them, ``limit`` from ``offset`` too).
    """
    where = where or finding_filter(country=country, admin1=admin1, start=start, end=end)
    limit = max(1, min(limit, MAX_AREAS))
    with transaction(ctx.engine) as session:
        keys = situation_queries.area_keys(session, where, limit=limit + 1, offset=offset)
        more, keys = len(keys) > limit, keys[:limit]
        shown = [situation_queries.in_areas(keys)] if keys else []
        rows = situation_queries.findings(session, where, extra=shown) if keys else []
        analyzers = situation_queries.contributors(session, where)
        gone = (
            situation_queries.findings(
                session, replace(where, withdrawn=True), limit=limit, offset=offset
            )
            if history
            else []
        )
        earlier = situation_queries.earlier_versions(session, [*rows, *gone]) if history else []
    versions: dict[str, list[FusedFinding]] = {}
    for row in earlier:
        versions.setdefault(row.identity_sha256, []).append(_fused(row))
    history_of = {_fused(r).key: versions.get(r.identity_sha256, []) for r in (*rows, *gone)}
    picture = _picture(
        ctx.participant,
        _filters_json(where),
        [_fused(r) for r in rows],
        history_of if history else None,
        [_fused(r) for r in gone] if history else None,
    )
    picture["analyzers"] = _contributors(analyzers)
    picture["page"] = {"offset": offset, "limit": limit, "next": offset + limit if more else None}
    return picture


def _contributors(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    return [
        {
            "participant": a.participant,
            "analyzer": a.analyzer,
            "version": a.version,
            "findings": int(a.findings),
            "latest": a.latest.isoformat(),
        }
        for a in rows
    ]


def _filters_json(where: FindingFilter) -> dict[str, Any]:
    return {
        "country": where.country,
        "admin1": where.admin1,
        "from": where.start,
        "to": where.end,
        "analyzer": list(where.analyzers),
        "level": list(where.levels),
        "actor": where.actor,
        "handling": list(where.handling),
        "as_of": where.as_of.isoformat() if where.as_of else None,
    }


def contributors(ctx: NodeContext, where: FindingFilter) -> list[dict[str, Any]]:
    """Per issuer and analyzer of the findings matching ``where``: version, how many
    findings, the latest issue time."""
    with transaction(ctx.engine) as session:
        return _contributors(situation_queries.contributors(session, where))


def _picture(
    participant: str,
    filters: dict[str, Any],
    findings: list[FusedFinding],
    earlier: dict[str, list[FusedFinding]] | None,
    withdrawn: list[FusedFinding] | None,
) -> dict[str, Any]:
    """``findings`` as the situation's JSON, by area and period; ``earlier`` and
    ``withdrawn`` given: with history. The caller adds the contributors."""

    def shown(f: FusedFinding) -> dict[str, Any]:
        out = f.as_json()
        if earlier is not None:
            out["history"] = [_version(v) for v in earlier.get(f.key, [])]
        return out

    areas: dict[tuple[Any, ...], list[FusedFinding]] = {}
    for f in findings:
        areas.setdefault((f.area[0], f.area[1], f.period), []).append(f)
    return {
        "participant": participant,
        "filters": filters,
        "analyzers": [],
        "areas": [
            {
                "country": key[0],
                "admin1": key[1],
                "period": key[2],
                "agreement": _agreement(group),
                "findings": [shown(f) for f in group],
            }
            for key, group in sorted(areas.items(), key=lambda kv: tuple(x or "" for x in kv[0]))
        ],
        **({"withdrawn": [shown(f) for f in withdrawn]} if withdrawn is not None else {}),
    }


def _version(f: FusedFinding) -> dict[str, Any]:
    """An earlier version of a finding, as the history lists it."""
    keep = ("level", "score", "status", "explanation", "indicators", "supersedes")
    return {
        "result": {"jti": f.result_jti, "sha256": f.result_sha256},
        "issued_at": f.issued_at.isoformat(),
        "input": f.input,
        **{name: f.finding[name] for name in keep if name in f.finding},
    }
