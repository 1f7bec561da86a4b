"""What the situation and provenance pages show, shaped from what the services read.

The pages are views over :mod:`node.services.situation` (the fused findings and the
picture) and :mod:`node.services.provenance` (a result, its signature, its input and
the input's signature, re-verified at display time): tables, charts and marks.

Handling: every item drawn from a restricted result (H1, H2 or H3; a result
inherits its input's code and H3 restriction text) is marked where it is shown —
table rows, chart bars, grid cells, agreement rows — with a badge and the
restriction as a tooltip and as text (:func:`handling`). A packet's pseudonym epoch
is shown with its provenance.

Readable findings (issue 18): each finding row carries a one-line ``headline`` (what,
where, when, how sure; :mod:`node.ui.headlines`) with the explanation and the
indicators folded under it, numbers shown formatted (``shown``: the same figures as
text with thousands separators), and the page a ``legend`` of the levels it shows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.provenance import CheckedPacket, result_provenance
from clearinghouse.node.services.situation import LEVELS, FusedFinding, situation_and_findings
from clearinghouse.node.ui.charts import Mark, bar_chart, heat_grid, line_chart
from clearinghouse.node.ui.headlines import (
    LEVEL_MEANINGS,
    format_value,
    headline,
    kind_label,
)
from clearinghouse.protocol.packet import HANDLING_MEANINGS

__all__ = ["handling", "level_legend", "provenance_page", "situation_page"]

SECTIONS = (
    ("unodc.trafficking-network", "Trafficking network: brokers, recurring actors, corridors"),
    ("dpa.spoiler-risk", "Spoiler groups: predatory, parasitic or symbiotic"),
    ("undp.illicit-economy", "Illicit economy: price anomalies and livelihoods"),
    ("sanctions.screening", "Sanctions screening hits"),
    ("mission.security-risk", "Security risk: escalations and flags"),
)
MAX_ROWS = 60
#: A cell of the heat grid: (area, month).
Cell = tuple[str, str]


def handling(hc: str, hcr: str | None) -> dict[str, Any]:
    """How the pages mark an item of handling code ``hc`` (restriction ``hcr`` for H3).

    ``text`` is the restriction (H3's own words, else what the code means) and
    ``note`` the badge's tooltip; both are empty for an unrestricted (H0) item.
    """
    restricted = hc != "H0"
    text = (hcr or HANDLING_MEANINGS.get(hc, "")) if restricted else ""
    return {
        "hc": hc,
        "restricted": restricted,
        "restriction": hcr,
        "text": text,
        "note": f"{hc}: {text}" if restricted else "",
    }


def _mark(f: FusedFinding) -> tuple[str, str] | None:
    """The chart mark (badge, tooltip) of a finding from a restricted result."""
    h = handling(f.hc, f.hcr)
    return (h["hc"], h["note"]) if h["restricted"] else None


def _rank(f: FusedFinding) -> tuple[int, float]:
    level = f.finding.get("level")
    return (LEVELS.index(level) if level in LEVELS else -1, float(f.finding.get("score") or 0))


#: Findings that report events counted apart (month or place too imprecise to rank).
IMPRECISE_KIND = "imprecise-events"


def _imprecise(findings: list[FusedFinding]) -> list[dict[str, Any]]:
    """Events counted apart, per country (admin1 when located) and period, deadliest first."""
    rows = [
        {
            "country": f.area[0],
            "admin1": f.area[1],
            "period": f.period,
            **{k: (f.finding.get("indicators") or {}).get(k, 0) for k in _APART_COLUMNS},
            "participant": f.participant,
            "result_jti": f.result_jti,
            "handling": handling(f.hc, f.hcr),
        }
        for f in findings
        if f.finding.get("kind") == IMPRECISE_KIND
    ]
    rows.sort(key=lambda r: (-(r["fatalities_best"] or 0), r["country"] or "", r["period"] or ""))
    return [_with_shown(r, _APART_COLUMNS) for r in rows[:MAX_ROWS]]


def _with_shown(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """``row`` with ``shown``: its figures in ``columns`` as the page prints them."""
    return {**row, "shown": {c: format_value(row.get(c)) for c in columns}}


_APART_COLUMNS = (
    "events",
    "fatalities_best",
    "month_unknown_events",
    "regional_events",
    "unlocated_events",
)


def _hotspots(findings: list[FusedFinding]) -> list[dict[str, Any]]:
    """The latest figures per area and month from findings that carry them."""
    latest: dict[tuple[Any, ...], FusedFinding] = {}
    for f in findings:
        indicators = f.finding.get("indicators") or {}
        if f.finding.get("kind") == IMPRECISE_KIND:
            continue
        if "events" in indicators and "fatalities_best" in indicators and f.period:
            latest[(f.area, f.period)] = f
    rows = []
    for (area, period), f in latest.items():
        ind = f.finding["indicators"]
        rows.append(
            {
                "country": area[0],
                "admin1": area[1],
                "period": period,
                "events": ind.get("events"),
                "fatalities_best": ind.get("fatalities_best"),
                "civilian_deaths": ind.get("civilian_deaths", ""),
                "level": f.finding.get("level") or "",
                "participant": f.participant,
                "result_jti": f.result_jti,
                "handling": handling(f.hc, f.hcr),
            }
        )
    rows.sort(
        key=lambda r: (
            -(r["fatalities_best"] or 0),
            r["country"] or "",
            r["admin1"] or "",
            r["period"],
        )
    )
    columns = ("events", "fatalities_best", "civilian_deaths")
    return [_with_shown(r, columns) for r in rows[:MAX_ROWS]]


def situation_page(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """The ``/ui/situation`` page: hotspots, the area-month grid, the trend, one section
    per analyzer and where analyzers agree, every restricted item marked."""
    picture, fused = situation_and_findings(
        ctx, country=country, admin1=admin1, start=start, end=end
    )
    hotspots = _hotspots(fused)
    cells, cell_marks = _grid_cells(fused)
    per_month, trend_restricted = _per_month(fused)
    areas = sorted({f"{f.area[1] or f.area[0] or '?'}" for f in fused if f.period})
    months = sorted({(f.period or "")[:7] for f in fused if f.period and len(f.period) >= 7})
    return {
        "filters": picture["filters"],
        "analyzers": picture["analyzers"],
        "any_restricted": any(f.restricted for f in fused),
        "hotspots": hotspots,
        "imprecise": _imprecise(fused),
        "hotspot_chart": _hotspot_chart(hotspots) if hotspots else "",
        "grid": heat_grid(
            areas, months, cells, title="Highest level per area and month", marks=cell_marks
        )
        if cells
        else "",
        "grid_restricted": len(cell_marks),
        "trend_chart": line_chart(
            {a: dict(c) for a, c in per_month.items()},
            title="Findings per month by analyzer",
            y_label="findings",
        )
        if per_month
        else "",
        "trend_restricted": sorted(trend_restricted.items()),
        "sections": _sections(fused),
        "legend": level_legend(fused),
        "agreement": [
            {**a, "handling": _area_handling(a)}
            for a in picture["areas"]
            if a["agreement"]["verdict"] in ("agree", "disagree")
        ][:MAX_ROWS],
    }


def _hotspot_chart(hotspots: list[dict[str, Any]]) -> str:
    """The ten deadliest area-months as bars, restricted ones marked."""
    return bar_chart(
        [
            (f"{h['admin1'] or h['country']} {h['period']}", float(h["fatalities_best"] or 0))
            for h in hotspots[:10]
        ],
        title="Deadliest area-months (best estimate)",
        unit=" deaths",
        marks=[
            (h["handling"]["hc"], h["handling"]["note"]) if h["handling"]["restricted"] else None
            for h in hotspots[:10]
        ],
    )


def _grid_cells(
    fused: list[FusedFinding],
) -> tuple[dict[Cell, tuple[str | None, str]], dict[Cell, Mark]]:
    """Per area and month, the highest level found (with what found it), and the mark of
    the finding behind each cell drawn from a restricted result."""
    cells: dict[Cell, tuple[str | None, str]] = {}
    cell_marks: dict[Cell, Mark] = {}
    for f in fused:
        if not f.period or len(f.period) < 7:
            continue
        key = (f.area[1] or f.area[0] or "?", f.period[:7])
        level = f.finding.get("level")
        current = cells.get(key)
        if level in LEVELS and (
            current is None or LEVELS.index(level) > LEVELS.index(current[0] or "low")
        ):
            cells[key] = (level, f"{f.analyzer}: {f.finding.get('subject')}")
            mark = _mark(f)
            if mark:
                cell_marks[key] = mark
            else:
                cell_marks.pop(key, None)
    return cells, cell_marks


def _per_month(fused: list[FusedFinding]) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Findings per analyzer and month, and how many of them are restricted, per code."""
    per_month: dict[str, Counter[str]] = defaultdict(Counter)
    restricted: Counter[str] = Counter()
    for f in fused:
        if f.period and len(f.period) >= 7:
            per_month[f.analyzer][f.period[:7]] += 1
            if f.restricted:
                restricted[f.hc] += 1
    return per_month, restricted


def _sections(fused: list[FusedFinding]) -> list[dict[str, Any]]:
    """One section per analyzer of :data:`SECTIONS` with findings: the top rows and a chart."""
    sections = []
    for analyzer, title in SECTIONS:
        mine = sorted((f for f in fused if f.analyzer == analyzer), key=_rank, reverse=True)
        if not mine:
            continue
        rows = [_finding_row(f) for f in mine[:MAX_ROWS]]
        chart = bar_chart(
            [
                (str(f.finding.get("subject"))[:34], float(f.finding.get("score") or 0))
                for f in mine[:10]
            ],
            title=f"{title}: top scores",
            marks=[_mark(f) for f in mine[:10]],
        )
        sections.append(
            {
                "key": analyzer.replace(".", "-"),
                "analyzer": analyzer,
                "title": title,
                "findings": rows,
                "chart": chart,
            }
        )
    return sections


def _finding_row(f: FusedFinding) -> dict[str, Any]:
    """A finding as its section shows it: the headline over the explanation and the
    indicators (name, value as text), its handling marked."""
    indicators = f.finding.get("indicators") or {}
    return {
        **f.as_json(),
        "handling": handling(f.hc, f.hcr),
        "headline": headline(f.finding),
        "shown_indicators": [(name, format_value(v)) for name, v in indicators.items()],
    }


def level_legend(fused: list[FusedFinding]) -> list[dict[str, str]]:
    """What each level shown means, per kind of finding that carries it, in the analyzer's
    own terms and naming where that is defined; ordered by level, highest first."""
    shown = {
        (str(f.finding.get("level")), str(f.finding.get("kind")), f.analyzer)
        for f in fused
        if f.finding.get("level") in LEVELS
    }
    rows = []
    for level, kind, analyzer in sorted(
        shown, key=lambda s: (-LEVELS.index(s[0]), s[2], kind_label(s[1]))
    ):
        meaning = LEVEL_MEANINGS.get(kind, {}).get(level)
        rows.append(
            {
                "level": level,
                "kind": kind_label(kind),
                "analyzer": analyzer,
                "meaning": meaning.meaning
                if meaning
                else "as this analyzer defines it (its definition is not known to this page)",
                "source": meaning.source if meaning else "",
            }
        )
    return rows


def _area_handling(area: dict[str, Any]) -> list[dict[str, Any]]:
    """The distinct restrictions of the results behind one area's findings."""
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for finding in area["findings"]:
        h = finding["handling"]
        if h["restricted"]:
            seen.setdefault((h["hc"], h["restriction"]), handling(h["hc"], h["restriction"]))
    return [seen[k] for k in sorted(seen, key=lambda k: (k[0], k[1] or ""))]


def provenance_page(ctx: NodeContext, jti: str) -> dict[str, Any] | None:
    """The ``/ui/results/{jti}`` page: the result, its analyzer against the manifest, its
    input and the runs of it, both packets verified now; None if no such result is held."""
    found = result_provenance(ctx, jti)
    if found is None:
        return None
    row = found.result.packet
    return {
        "result": {
            "jti": row.jti,
            "issuer": row.issuer,
            "kid": row.kid,
            "digest": row.digest,
            "issued_at": row.issued_at.isoformat(),
            "stored_at": row.stored_at.isoformat(),
            "origin": row.origin,
            "hc": row.hc,
            "hcr": row.hcr,
            "handling": handling(row.hc, row.hcr),
            "pse": found.result.epoch,
            "verified": found.result.verified,
            "verification": found.result.verification,
        },
        "claims": row.claims,
        "declared": found.declared,
        "input": _input(found.input) if found.input is not None else None,
        "runs": [r.model_dump() for r in found.runs],
    }


def _input(checked: CheckedPacket) -> dict[str, Any]:
    """The result's input as the provenance page shows it."""
    source = checked.packet
    return {
        "origin": source.origin,
        "stored_at": source.stored_at.isoformat(),
        "hc": source.hc,
        "hcr": source.hcr,
        "handling": handling(source.hc, source.hcr),
        "pse": checked.epoch,
        "claims": source.claims,
        "verified": checked.verified,
        "verification": checked.verification,
    }
