"""What the situation's pages and exports read: areas to map, timelines, one area, one
actor, and every finding as a flat row — each from the index, bounded or in chunks.

Places (issue 18, "A map"): results carry no coordinates (they go to everyone in
full), so each node places findings from the records it holds itself, as far as its
policy lets it see them: an area is drawn at the mean of the coordinates of the
events and markets it holds there (or of their 0.5-degree cells, where the policy
generalises coordinates); a finding about a whole country at the mean over the
country. An area this node holds no located record for is listed, not drawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.situation import LEVELS, FusedFinding, fused_findings
from clearinghouse.node.services.situation_rows import Place, SituationRow
from clearinghouse.node.storage import situation_queries
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import SituationFinding
from clearinghouse.node.storage.situation_queries import FindingFilter

__all__ = [
    "ActorView",
    "Agreement",
    "AreaMark",
    "AreaView",
    "Timeline",
    "actor_view",
    "agreement",
    "area_records",
    "area_view",
    "map_areas",
    "situation_rows",
    "timelines",
]

#: Centroids per (country, admin1 or None for the whole country).
Centroids = dict[tuple[str, str | None], tuple[float, float, str, int]]


@dataclass(frozen=True)
class AreaMark:
    """One area's findings, summed up for the map (see ``area_summary``)."""

    country: str
    admin1: str | None
    level: str | None
    fatalities: int | None
    events: int | None
    findings: int
    hc: str
    hcr: str | None
    place: Place | None


@dataclass(frozen=True)
class Timeline:
    """Series per month (``YYYY-MM``): name -> month -> value."""

    series: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, name: str, month: str, value: float) -> None:
        self.series.setdefault(name, {})[month] = value


def _place(centroids: Centroids, country: str | None, admin1: str | None) -> Place | None:
    if country is None:
        return None
    found = centroids.get((country, admin1)) if admin1 else None
    precision: Any = None
    if found is not None:
        precision = "cell" if found[2] == "cell" else "coordinates"
    else:
        found = centroids.get((country, None))
        precision = "country"
    if found is None:
        return None
    return Place(lat=found[0], lon=found[1], precision=precision, points=found[3])


def map_areas(ctx: NodeContext, where: FindingFilter) -> list[AreaMark]:
    """Every area with findings matching ``where``, placed where this node can."""
    with transaction(ctx.engine) as session:
        rows = situation_queries.area_summary(session, where)
        centroids = situation_queries.centroids(session, sorted({r.country for r in rows}))
    return [
        AreaMark(
            country=r.country,
            admin1=r.admin1,
            level=LEVELS[r.level_rank] if r.level_rank is not None and r.level_rank >= 0 else None,
            fatalities=None if r.fatalities is None else int(r.fatalities),
            events=None if r.events is None else int(r.events),
            findings=int(r.findings),
            hc=str(r.hc),
            hcr=r.hcr,
            place=_place(centroids, r.country, r.admin1),
        )
        for r in rows
    ]


def timelines(ctx: NodeContext, where: FindingFilter, *, by: str) -> tuple[Timeline, Timeline]:
    """Findings per month and flags (high or critical) per month, per ``by`` (analyzer,
    area or actor), of the findings matching ``where`` that concern one month."""
    with transaction(ctx.engine) as session:
        rows = situation_queries.finding_months(session, where, by=by)
    findings, flags = Timeline(), Timeline()
    for month, key, count, flagged in rows:
        findings.add(key or "(none)", month, count)
        flags.add(key or "(none)", month, flagged)
    return findings, flags


@dataclass(frozen=True)
class AreaView:
    """One admin1 (or a country) over time, all analyzers."""

    country: str | None
    admin1: str | None
    findings: list[FusedFinding]
    #: per month: records held there, their fatalities, findings, flags
    timeline: Timeline
    place: Place | None


def area_view(
    ctx: NodeContext, where: FindingFilter, *, country: str | None, admin1: str | None, limit: int
) -> AreaView:
    """An area's findings (most severe first, at most ``limit``) and its timeline: the
    records this node holds there and their fatalities per month, and per month the
    findings about it and how many were flags."""
    scoped = FindingFilter(**{**where.__dict__, "country": country, "admin1": admin1})
    with transaction(ctx.engine) as session:
        held = situation_queries.area_months(session, country, admin1)
        months = situation_queries.finding_months(session, scoped, by="analyzer")
        centroids = situation_queries.centroids(session, [country] if country else [])
    timeline = Timeline()
    for month, records, deaths in held:
        if _within(month, where):
            timeline.add("records held", month, records)
            timeline.add("fatalities (best)", month, deaths)
    _add_findings(timeline, months)
    found = fused_findings(ctx, where=scoped, limit=limit, severity=True)
    return AreaView(country, admin1, found, timeline, _place(centroids, country, admin1))


def _add_findings(timeline: Timeline, months: list[tuple[str, str, int, int]]) -> None:
    """The findings of one month and the flags among them, summed over analyzers."""
    for month, _, count, flagged in months:
        timeline.add("findings", month, timeline.series.get("findings", {}).get(month, 0) + count)
        timeline.add("flags", month, timeline.series.get("flags", {}).get(month, 0) + flagged)


def _within(month: str, where: FindingFilter) -> bool:
    return (not where.start or month >= where.start) and (not where.end or month <= where.end)


@dataclass(frozen=True)
class ActorView:
    """One actor: the findings about it and the events this node holds that name it."""

    name: str
    findings: list[FusedFinding]
    events: list[dict[str, Any]]
    timeline: Timeline


def actor_view(ctx: NodeContext, where: FindingFilter, *, name: str, limit: int) -> ActorView:
    """The findings about an actor (typology calls per period, sanctions hits, network
    roles), the events this node holds that name it (newest first, at most ``limit``,
    each as far as the view held discloses it), its events and their fatalities per
    month, and per month the findings about it that concern one month and their flags."""
    scoped = FindingFilter(**{**where.__dict__, "actor": name})
    with transaction(ctx.engine) as session:
        ids = situation_queries.events_of_actor(session, name, limit=limit)
        events = [
            {"jti": r.jti, "issuer": r.issuer, "hc": r.hc, "hcr": r.hcr, "claims": r.claims}
            for r in situation_queries.held_packets(session, ids)
        ]
        held = situation_queries.actor_months(session, name)
        months = situation_queries.finding_months(session, scoped, by="analyzer")
    timeline = Timeline()
    for month, count, deaths in held:
        if _within(month, where):
            timeline.add("events held", month, count)
            timeline.add("fatalities (best)", month, deaths)
    _add_findings(timeline, months)
    found = fused_findings(ctx, where=scoped, limit=limit)
    return ActorView(name, found, events, timeline)


def situation_rows(ctx: NodeContext, where: FindingFilter) -> Iterator[SituationRow]:
    """Every finding matching ``where`` as a flat row with its place, a chunk at a time
    (one transaction for the lot, so that the export is one consistent picture)."""
    with transaction(ctx.engine) as session:
        centroids: Centroids = {}
        countries: set[str] = set()
        for row in situation_queries.iter_findings(session, where):
            if row.country and row.country not in countries:
                countries.add(row.country)
                centroids.update(situation_queries.centroids(session, [row.country]))
            yield _row(row, _place(centroids, row.country, row.admin1))


def _row(f: SituationFinding, place: Place | None) -> SituationRow:
    finding = f.finding
    return SituationRow(
        participant=f.participant,
        analyzer=f.analyzer,
        analyzer_version=f.analyzer_version,
        result_jti=f.result_jti,
        result_sha256=f.result_sha256,
        issued_at=f.issued_at,
        kind=f.kind,
        subject=f.subject,
        explanation=str(finding.get("explanation", "")),
        country=f.country,
        admin1=f.admin1,
        period=f.period,
        level=f.level,
        score=f.score,
        actor=f.actor,
        indicators=dict(finding.get("indicators") or {}),
        events=f.events,
        fatalities=f.fatalities,
        hc=f.hc,
        hcr=f.hcr,
        input=dict(f.input),
        place=place,
    )


@dataclass(frozen=True)
class Agreement:
    """Two or more analyzers' highest levels for one area and period, and the verdict."""

    country: str | None
    admin1: str | None
    period: str | None
    levels: dict[str, str]
    verdict: str
    hc: str
    hcr: str | None


def agreement(ctx: NodeContext, where: FindingFilter, *, limit: int) -> list[Agreement]:
    """The latest areas and periods two or more analyzers rated, and whether they agree
    (levels at most one apart) or disagree (DESIGN.md, "Analysis")."""
    with transaction(ctx.engine) as session:
        rows = situation_queries.agreement(session, where, limit=limit)
    out = []
    for (country, admin1, period), ranks, hc, hcr in rows:
        spread = max(ranks.values()) - min(ranks.values())
        out.append(
            Agreement(
                country,
                admin1,
                period,
                {a: LEVELS[r] for a, r in sorted(ranks.items())},
                "agree" if spread <= 1 else "disagree",
                hc,
                hcr,
            )
        )
    return out


def area_records(
    ctx: NodeContext, areas: list[tuple[str | None, str | None]], where: FindingFilter
) -> Timeline:
    """Records held per month in each of ``areas`` (within the filter's months)."""
    timeline = Timeline()
    with transaction(ctx.engine) as session:
        for country, admin1 in areas:
            name = admin1 or country or "?"
            for month, records, _ in situation_queries.area_months(session, country, admin1):
                if _within(month, where):
                    timeline.add(name, month, records)
    return timeline
