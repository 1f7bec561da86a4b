"""What the situation and provenance pages show, computed from the node's data.

The pages are views over :mod:`node.services.situation` (the fused findings) and
over stored packets (provenance: a result, its signature, its input and the
input's signature, re-verified at display time).

Handling: every item drawn from a restricted result (H1, H2 or H3; a result
inherits its input's code and H3 restriction text) is marked where it is shown —
table rows, chart bars, grid cells, agreement rows — with a badge and the
restriction as a tooltip and as text (:func:`handling`). A packet's pseudonym epoch
is shown with its provenance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.situation import LEVELS, FusedFinding, fused_findings, situation
from clearinghouse.node.storage import analysis, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import StoredPacket
from clearinghouse.node.ui.charts import bar_chart, heat_grid, line_chart
from clearinghouse.protocol.errors import ProtocolError
from clearinghouse.protocol.packet import HANDLING_MEANINGS, stored_epoch, verify_view

__all__ = ["handling", "provenance_page", "situation_page"]

SECTIONS = (
    ("unodc.trafficking-network", "Trafficking network: brokers, recurring actors, corridors"),
    ("dpa.spoiler-risk", "Spoiler groups: predatory, parasitic or symbiotic"),
    ("undp.illicit-economy", "Illicit economy: price anomalies and livelihoods"),
    ("sanctions.screening", "Sanctions screening hits"),
    ("mission.security-risk", "Security risk: escalations and flags"),
)
MAX_ROWS = 60


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


def _epoch(raw: str) -> str | None:
    try:
        return stored_epoch(raw)
    except ProtocolError:
        return None


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
    return rows[:MAX_ROWS]


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
    return rows[:MAX_ROWS]


def situation_page(
    ctx: NodeContext,
    *,
    country: str | None = None,
    admin1: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    fused = fused_findings(ctx, country=country, admin1=admin1, start=start, end=end)
    picture = situation(ctx, country=country, admin1=admin1, start=start, end=end)
    hotspots = _hotspots(fused)
    areas = sorted({f"{f.area[1] or f.area[0] or '?'}" for f in fused if f.period})
    months = sorted({(f.period or "")[:7] for f in fused if f.period and len(f.period) >= 7})
    cells: dict[tuple[str, str], tuple[str | None, str]] = {}
    cell_marks: dict[tuple[str, str], tuple[str, str]] = {}
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
    per_month: dict[str, Counter[str]] = defaultdict(Counter)
    trend_restricted: Counter[str] = Counter()
    for f in fused:
        if f.period and len(f.period) >= 7:
            per_month[f.analyzer][f.period[:7]] += 1
            if f.restricted:
                trend_restricted[f.hc] += 1
    sections = []
    for analyzer, title in SECTIONS:
        mine = sorted((f for f in fused if f.analyzer == analyzer), key=_rank, reverse=True)
        if not mine:
            continue
        rows = [{**f.as_json(), "handling": handling(f.hc, f.hcr)} for f in mine[:MAX_ROWS]]
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
    return {
        "filters": picture["filters"],
        "analyzers": picture["analyzers"],
        "any_restricted": any(f.restricted for f in fused),
        "hotspots": hotspots,
        "imprecise": _imprecise(fused),
        "hotspot_chart": bar_chart(
            [
                (f"{h['admin1'] or h['country']} {h['period']}", float(h["fatalities_best"] or 0))
                for h in hotspots[:10]
            ],
            title="Deadliest area-months (best estimate)",
            unit=" deaths",
            marks=[
                (h["handling"]["hc"], h["handling"]["note"])
                if h["handling"]["restricted"]
                else None
                for h in hotspots[:10]
            ],
        )
        if hotspots
        else "",
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
        "sections": sections,
        "agreement": [
            {**a, "handling": _area_handling(a)}
            for a in picture["areas"]
            if a["agreement"]["verdict"] in ("agree", "disagree")
        ][:MAX_ROWS],
    }


def _area_handling(area: dict[str, Any]) -> list[dict[str, Any]]:
    """The distinct restrictions of the results behind one area's findings."""
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for finding in area["findings"]:
        h = finding["handling"]
        if h["restricted"]:
            seen.setdefault((h["hc"], h["restriction"]), handling(h["hc"], h["restriction"]))
    return [seen[k] for k in sorted(seen, key=lambda k: (k[0], k[1] or ""))]


def _verify(ctx: NodeContext, row: StoredPacket) -> tuple[bool, str]:
    recipient = None if row.origin == "local" else ctx.participant
    try:
        verified = verify_view(row.raw, ctx.manifest, recipient=recipient, now=ctx.clock.now())
    except ProtocolError as exc:
        return False, f"does not verify now: {exc.code}: {exc.message}"
    return True, (
        f"verified now: Ed25519 signature by {verified.iss} (key {verified.kid}), "
        f"{len(verified.disclosed)} disclosed claim(s), policy respected"
    )


def provenance_page(ctx: NodeContext, jti: str) -> dict[str, Any] | None:
    with transaction(ctx.engine) as session:
        rows = [r for r in packets.find_packet(session, jti) if r.schema_id == "analysis-result/1"]
        if not rows:
            return None
        row = rows[0]
        claims = row.claims
        wanted = claims.get("input") or {}
        inputs = [
            r
            for r in packets.find_packet(session, str(wanted.get("jti", "")))
            if r.digest == wanted.get("digest")
        ]
        runs = analysis.runs_for_packet(session, inputs[0].id or 0) if inputs else []
    ok, verification = _verify(ctx, row)
    declared = "declared"
    try:
        declaration = ctx.manifest.participant(row.issuer).analyzer
        analyzer = claims.get("analyzer") or {}
        if declaration is None or (declaration.id, declaration.version, declaration.sha256) != (
            analyzer.get("id"),
            analyzer.get("version"),
            analyzer.get("sha256"),
        ):
            declared = "NOT what the manifest declares"
        else:
            declared = f"as the manifest (serial {ctx.manifest.serial}) declares for {row.issuer}"
    except ProtocolError:
        declared = "issuer not in the manifest"
    page: dict[str, Any] = {
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
            "pse": _epoch(row.raw),
            "verified": ok,
            "verification": verification,
        },
        "claims": claims,
        "declared": declared,
        "input": None,
        "runs": [r.model_dump() for r in runs],
    }
    if inputs:
        source = inputs[0]
        in_ok, in_verification = _verify(ctx, source)
        page["input"] = {
            "origin": source.origin,
            "stored_at": source.stored_at.isoformat(),
            "hc": source.hc,
            "hcr": source.hcr,
            "handling": handling(source.hc, source.hcr),
            "pse": _epoch(source.raw),
            "claims": source.claims,
            "verified": in_ok,
            "verification": in_verification,
        }
    return page
