"""What the situation and provenance pages show, computed from the node's data.

The pages are views over :mod:`node.services.situation` (the fused findings) and
over stored packets (provenance: a result, its signature, its input and the
input's signature, re-verified at display time).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from node.context import NodeContext
from node.services.situation import LEVELS, FusedFinding, fused_findings, situation
from node.storage import analysis, packets
from node.storage.db import transaction
from node.storage.models import StoredPacket
from node.ui.charts import bar_chart, heat_grid, line_chart
from protocol.errors import ProtocolError
from protocol.packet import verify_view

__all__ = ["provenance_page", "situation_page"]

SECTIONS = (
    ("unodc.trafficking-network", "Trafficking network: brokers, recurring actors, corridors"),
    ("dpa.spoiler-risk", "Spoiler groups: predatory, parasitic or symbiotic"),
    ("undp.illicit-economy", "Illicit economy: price anomalies and livelihoods"),
    ("sanctions.screening", "Sanctions screening hits"),
    ("mission.security-risk", "Security risk: escalations and flags"),
)
MAX_ROWS = 60


def _rank(f: FusedFinding) -> tuple[int, float]:
    level = f.finding.get("level")
    return (LEVELS.index(level) if level in LEVELS else -1, float(f.finding.get("score") or 0))


def _hotspots(findings: list[FusedFinding]) -> list[dict[str, Any]]:
    """The latest figures per area and month from findings that carry them."""
    latest: dict[tuple[Any, ...], FusedFinding] = {}
    for f in findings:
        indicators = f.finding.get("indicators") or {}
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


def situation_page(ctx: NodeContext, **filters: str | None) -> dict[str, Any]:
    fused = fused_findings(ctx, **filters)
    picture = situation(ctx, **filters)
    hotspots = _hotspots(fused)
    areas = sorted({f"{f.area[1] or f.area[0] or '?'}" for f in fused if f.period})
    months = sorted({(f.period or "")[:7] for f in fused if f.period and len(f.period) >= 7})
    cells: dict[tuple[str, str], tuple[str | None, str]] = {}
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
    per_month: dict[str, Counter[str]] = defaultdict(Counter)
    for f in fused:
        if f.period and len(f.period) >= 7:
            per_month[f.analyzer][f.period[:7]] += 1
    sections = []
    for analyzer, title in SECTIONS:
        mine = sorted((f for f in fused if f.analyzer == analyzer), key=_rank, reverse=True)
        if not mine:
            continue
        rows = []
        for f in mine[:MAX_ROWS]:
            rows.append({**f.as_json(), "hc": None, "hcr": None})
        chart = bar_chart(
            [
                (str(f.finding.get("subject"))[:34], float(f.finding.get("score") or 0))
                for f in mine[:10]
            ],
            title=f"{title}: top scores",
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
        "hotspots": hotspots,
        "hotspot_chart": bar_chart(
            [
                (f"{h['admin1'] or h['country']} {h['period']}", float(h["fatalities_best"] or 0))
                for h in hotspots[:10]
            ],
            title="Deadliest area-months (best estimate)",
            unit=" deaths",
        )
        if hotspots
        else "",
        "grid": heat_grid(areas, months, cells, title="Highest level per area and month")
        if cells
        else "",
        "trend_chart": line_chart(
            {a: dict(c) for a, c in per_month.items()},
            title="Findings per month by analyzer",
            y_label="findings",
        )
        if per_month
        else "",
        "sections": sections,
        "agreement": [
            a for a in picture["areas"] if a["agreement"]["verdict"] in ("agree", "disagree")
        ][:MAX_ROWS],
    }


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
            "claims": source.claims,
            "verified": in_ok,
            "verification": in_verification,
        }
    return page
