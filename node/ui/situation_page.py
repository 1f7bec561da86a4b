"""The ``/ui/situation`` page: the analyst's morning view, every section under one query.

Sections, each obeying the page's filters (:class:`SituationQuery`): who contributed;
a map of the areas with findings (drawn where this node's own records place them,
sized by fatalities, coloured by the highest level) with its data table beside it,
and the areas and imprecise events it cannot place listed, not dropped; timelines
(findings and flags per month by analyzer, records held per month in the deadliest
areas) with every month on the axis; one section per analyzer with one-line
headlines; where analyzers agree or disagree; the levels' legend; and downloads of
the same selection. Every area and actor mentioned links to its own page.

Every list is bounded (:data:`MAX_ROWS`): the page reads the index's aggregates and
the most severe findings, never everything held.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.situation import (
    LEVELS,
    FusedFinding,
    contributors,
    fused_findings,
)
from clearinghouse.node.services.situation_views import (
    AreaMark,
    agreement,
    area_records,
    map_areas,
    timelines,
)
from clearinghouse.node.ui.charts import bar_chart, timeline
from clearinghouse.node.ui.headlines import format_value
from clearinghouse.node.ui.pages import (
    IMPRECISE_KIND,
    MAX_ROWS,
    SECTIONS,
    finding_row,
    handling,
    imprecise_rows,
    level_legend,
    mark_of,
)
from clearinghouse.node.ui.situation_query import HANDLING_CODES, SituationQuery
from clearinghouse.node.ui.worldmap import MapMark, world_map

__all__ = [
    "EXPORT_FORMATS",
    "actor_link",
    "area_link",
    "area_mark",
    "filter_choices",
    "linked_row",
    "situation_page",
]

EXPORT_FORMATS = (
    ("csv", "CSV"),
    ("xlsx", "Excel (XLSX)"),
    ("geojson", "GeoJSON"),
    ("json", "JSON"),
)
#: How many of the deadliest areas get their own line in the records timeline.
TIMELINE_AREAS = 5


def area_link(q: SituationQuery, country: str | None, admin1: str | None) -> str:
    """The area page of (country, admin1), under the page's other filters."""
    area = {k: v for k, v in (("country", country), ("admin1", admin1)) if v}
    return replace(q.without_area(), actor=None).link("/ui/areas", **area)


def actor_link(q: SituationQuery, name: str) -> str:
    return replace(q.without_area(), actor=None).link("/ui/actors", name=name)


def situation_page(ctx: NodeContext, q: SituationQuery) -> dict[str, Any]:
    """Everything the situation template draws, for the query ``q``."""
    where = q.where()
    analyzers = contributors(ctx, where)
    areas = map_areas(ctx, where)
    sections = _sections(ctx, q, [a["analyzer"] for a in analyzers])
    imprecise = fused_findings(
        ctx, where=replace(where, kinds=(IMPRECISE_KIND,)), limit=MAX_ROWS, severity=True
    )
    shown = [f for s in sections for f in s["fused"]]
    return {
        "query": q,
        "filters": q.params(),
        "choices": filter_choices(analyzers),
        "downloads": [
            (label, q.link("/ui/situation/export", format=f)) for f, label in EXPORT_FORMATS
        ],
        "analyzers": analyzers,
        "any_restricted": any(f.restricted for f in shown) or any(a.hc != "H0" for a in areas),
        **_map_section(q, areas),
        "imprecise": imprecise_rows(imprecise),
        **_timelines(ctx, q, areas),
        "sections": sections,
        "legend": level_legend(shown),
        "agreement": _agreement(ctx, q),
    }


def filter_choices(analyzers: list[dict[str, Any]]) -> dict[str, Any]:
    """What the filter form offers: the analyzers contributing, the levels, the codes."""
    return {
        "analyzers": sorted({a["analyzer"] for a in analyzers}),
        "levels": LEVELS,
        "handling": HANDLING_CODES,
    }


def area_mark(area: AreaMark) -> MapMark | None:
    """The area's mark: no link inside the map (an ``img`` holds no controls, WCAG
    4.1.2); its table beside the map links each area to its page."""
    if area.place is None:
        return None
    h = handling(area.hc, area.hcr)
    name = ", ".join(x for x in (area.admin1, area.country) if x)
    deaths = f", {format_value(area.fatalities)} deaths" if area.fatalities else ""
    return MapMark(
        lat=area.place.lat,
        lon=area.place.lon,
        label=f"{name}: {area.level or 'no level'}{deaths}, {area.findings} finding(s)",
        level=area.level,
        fatalities=area.fatalities,
        restricted=(h["hc"], h["note"]) if h["restricted"] else None,
        precision=area.place.precision,
    )


def _map_section(q: SituationQuery, areas: list[AreaMark]) -> dict[str, Any]:
    """The map, its table (deadliest first) and the areas it cannot place."""
    ranked = sorted(
        areas,
        key=lambda a: (-(a.fatalities or 0), -(LEVELS.index(a.level) if a.level else -1)),
    )
    marks = [m for m in (area_mark(a) for a in ranked) if m is not None]
    rows = [
        {
            "country": a.country,
            "admin1": a.admin1,
            "link": area_link(q, a.country, a.admin1),
            "level": a.level or "",
            "shown": {
                "events": format_value(a.events),
                "fatalities": format_value(a.fatalities),
                "findings": format_value(a.findings),
            },
            "placed": a.place.precision if a.place else "",
            "handling": handling(a.hc, a.hcr),
        }
        for a in ranked[:MAX_ROWS]
    ]
    title = "areas with findings"
    if q.start or q.end:
        title += f", {q.start or '…'} to {q.end or '…'}"
    return {
        "map": world_map(marks, title=title) if marks else "",
        "map_marks": len(marks),
        "hotspots": rows,
        "unlocated": [r for r, a in zip(rows, ranked, strict=False) if a.place is None],
    }


def _timelines(ctx: NodeContext, q: SituationQuery, areas: list[AreaMark]) -> dict[str, Any]:
    where = q.where()
    findings, flags = timelines(ctx, where, by="analyzer")
    deadliest = sorted(areas, key=lambda a: -(a.fatalities or 0))[:TIMELINE_AREAS]
    records = area_records(ctx, [(a.country, a.admin1) for a in deadliest], where)
    span = {"first": q.start, "last": q.end}
    return {
        "flags_chart": timeline(
            flags.series,
            title="Flags (high or critical) per month, by analyzer",
            y_label="flags",
            **span,
        )
        if flags.series
        else "",
        "findings_chart": timeline(
            findings.series, title="Findings per month, by analyzer", y_label="findings", **span
        )
        if findings.series
        else "",
        "records_chart": timeline(
            records.series,
            title=f"Records this node holds per month, {len(records.series)} deadliest areas",
            y_label="records",
            **span,
        )
        if records.series
        else "",
    }


def _sections(ctx: NodeContext, q: SituationQuery, analyzers: list[str]) -> list[dict[str, Any]]:
    """One section per analyzer with findings: its most severe findings and a chart."""
    titles = dict(SECTIONS)
    order = [a for a, _ in SECTIONS if a in analyzers] + sorted(set(analyzers) - set(titles))
    where = q.where()
    sections = []
    for analyzer in order:
        if q.analyzer and analyzer != q.analyzer:
            continue
        mine = fused_findings(
            ctx, where=replace(where, analyzers=(analyzer,)), limit=MAX_ROWS, severity=True
        )
        mine = [f for f in mine if f.finding.get("kind") != IMPRECISE_KIND]
        if not mine:
            continue
        title = titles.get(analyzer, analyzer)
        sections.append(
            {
                "key": analyzer.replace(".", "-"),
                "analyzer": analyzer,
                "title": title,
                "fused": mine,
                "findings": [linked_row(q, f) for f in mine],
                "chart": _score_chart(title, mine),
            }
        )
    return sections


def _score_chart(title: str, mine: list[FusedFinding]) -> str:
    top = [f for f in mine if isinstance(f.finding.get("score"), int | float)][:10]
    if not top:
        return ""
    return bar_chart(
        [(str(f.finding.get("subject"))[:34], float(f.finding["score"])) for f in top],
        title=f"{title}: top scores",
        marks=[mark_of(f) for f in top],
    )


def linked_row(q: SituationQuery, f: FusedFinding) -> dict[str, Any]:
    """A finding row with links to its area's and its actor's pages."""
    row = finding_row(f)
    country, admin1 = f.area
    row["area_link"] = area_link(q, country, admin1) if country or admin1 else None
    actor = f.actor
    row["actor_link"] = actor_link(q, actor) if actor else None
    row["actor"] = actor
    return row


def _agreement(ctx: NodeContext, q: SituationQuery) -> list[dict[str, Any]]:
    return [
        {
            "country": a.country,
            "admin1": a.admin1,
            "period": a.period,
            "link": area_link(q, a.country, a.admin1),
            "levels": a.levels,
            "verdict": a.verdict,
            "handling": handling(a.hc, a.hcr),
        }
        for a in agreement(ctx, q.where(), limit=MAX_ROWS)
    ]
