"""The illicit-economy analyzer's picture so far (``summary``), as JSON data.

* ``basket``: per governorate the latest closed month's basket cost and ratio to
  the baseline, the highest level reached, and a provisional figure for the
  months still open;
* ``largest_anomalies``: the largest price anomalies found, by |robust z|;
* ``joined``: per governorate and month the basket ratio beside the conflict
  events and fatality index of its UCDP area. Inside the span of months for
  which any conflict data was received, a month without events counts 0;
  outside it, ``null`` (unknown, not peaceful);
* ``conflict_areas``: totals per conflict area, and which have no price data;
* ``counts`` and ``finding_share``; ``parameters``: thresholds and tables used.

Reads the whole state: it is called on demand, not per view.
"""

from __future__ import annotations

from typing import Any

from analyzers.illicit_economy import _anomaly as anomaly
from analyzers.illicit_economy import _basket as basket
from analyzers.illicit_economy._conflict import intensity
from analyzers.illicit_economy._names import FATALITY_INDEX, GOVERNORATES, ucdp_area
from analyzers.state import State

__all__ = ["parameters", "summarise"]


def parameters() -> dict[str, Any]:
    """The analyzer's fixed thresholds and tables."""
    return {
        "anomaly": {
            "statistic": "robust z of the month-on-month log price change",
            "z_threshold": anomaly.Z_THRESHOLD,
            "z_high": anomaly.Z_HIGH,
            "z_critical": anomaly.Z_CRITICAL,
            "min_history": anomaly.MIN_HISTORY,
            "history_limit": anomaly.HISTORY_LIMIT,
            "mad_scale": anomaly.MAD_SCALE,
            "min_sigma": anomaly.MIN_SIGMA,
            "max_gap_months": anomaly.MAX_GAP_MONTHS,
        },
        "basket": {
            "items": [
                {"key": i.key, "commodity": i.commodity, "unit": i.unit, "quantity": i.quantity}
                for i in basket.BASKET
            ],
            "price_type": basket.BASKET_PRICE_TYPE,
            "baseline_months": basket.BASELINE_MONTHS,
            "carry_forward_months": basket.CARRY_FORWARD_MONTHS,
            "late_months": basket.LATE_MONTHS,
            "levels": list(basket.BASKET_LEVELS),
        },
        "governorates": dict(GOVERNORATES),
        "fatality_index": dict(FATALITY_INDEX),
    }


def summarise(state: State, *, analyzer_id: str, version: str) -> dict[str, Any]:
    counts = state.get("counts") or {"views": {}, "skipped": {}, "findings": {}}
    views = sum(counts["views"].values())
    with_findings = counts.get("views_with_findings", 0)
    span = state.get("conflict-span")
    latest: dict[str, Any] = {}
    joined: dict[str, Any] = {}
    priced_areas: set[str] = set()
    for key, governorate in state.items("basket:"):
        country, admin1 = key.removeprefix("basket:").split("|", 1)
        code = None if country == "-" else country
        area = ucdp_area(code, admin1)
        if area is not None:
            priced_areas.add(f"{area[0]}|{area[1]}")
        name = admin1 if country in ("-", "SYR") else f"{admin1} ({country})"
        latest[name] = _latest(state, key, governorate)
        joined[name] = {
            "conflict_admin1": None if area is None else area[1],
            "series": _joined(state, governorate, area, span),
        }
    return {
        "analyzer": {"id": analyzer_id, "version": version},
        "counts": counts,
        "finding_share": round(with_findings / views, 6) if views else 0.0,
        "basket": latest,
        "largest_anomalies": state.get("top-anomalies", []),
        "joined": joined,
        "conflict_span": span,
        "conflict_areas": _areas(state, priced_areas),
        "parameters": parameters(),
    }


def _latest(state: State, key: str, governorate: dict[str, Any]) -> dict[str, Any]:
    base = governorate["baseline_cost"]
    out: dict[str, Any] = {
        "currency": governorate.get("currency"),
        "baseline_cost": None if base is None else round(base, 2),
        "baseline_period": basket.baseline_period(governorate),
        "level_reached": governorate["level"],
        "month": None,
        "cost": None,
        "ratio": None,
        "provisional": None,
    }
    if governorate["series"]:
        month, cost = governorate["series"][-1]
        out.update(month=month, cost=round(cost, 2), ratio=_ratio(cost, base))
    open_ = state.get("open:" + key.removeprefix("basket:")) or {"months": {}}
    current, found = governorate, None
    for month in sorted(open_["months"]):
        current, costed = basket.close_month(current, month, open_["months"][month])
        found = costed or found
    if found is not None:
        out["provisional"] = {
            "month": found.month,
            "cost": round(found.cost, 2),
            "ratio": None if found.ratio is None else round(found.ratio, 4),
        }
    return out


def _joined(
    state: State,
    governorate: dict[str, Any],
    area: tuple[str, str] | None,
    span: list[str] | None,
) -> list[dict[str, Any]]:
    base = governorate["baseline_cost"]
    costs = {month: cost for month, cost in governorate["series"]}
    cells = {}
    if area is not None:
        prefix = f"conflict:{area[0]}|{area[1]}|"
        cells = {key.removeprefix(prefix): cell for key, cell in state.items(prefix)}
    rows = []
    for month in sorted(set(costs) | set(cells)):
        known = area is not None and span is not None and span[0] <= month <= span[1]
        events, fatality = intensity(cells.get(month))
        rows.append(
            {
                "month": month,
                "basket_ratio": _ratio(costs[month], base) if month in costs else None,
                "conflict_events": events if known else None,
                "fatality_index": fatality if known else None,
            }
        )
    return rows


def _areas(state: State, priced: set[str]) -> dict[str, Any]:
    totals: dict[str, dict[str, Any]] = {}
    for key, cell in state.items("conflict:"):
        country, area, _month = key.removeprefix("conflict:").split("|")
        entry = totals.setdefault(
            f"{country}|{area}",
            {"country": country, "admin1": area, "events": 0, "fatality_index": 0.0, "months": 0},
        )
        events, fatality = intensity(cell)
        entry["events"] += events
        entry["fatality_index"] += fatality
        entry["months"] += 1
    for name, entry in totals.items():
        entry["has_price_data"] = name in priced
    return {name: totals[name] for name in sorted(totals)}


def _ratio(cost: float, base: float | None) -> float | None:
    return None if base is None else round(cost / base, 4)
