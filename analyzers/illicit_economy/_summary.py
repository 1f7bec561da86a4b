"""The illicit-economy analyzer's picture so far (``summary``), from the tallies and
the findings that hold (both order-free), as JSON data.

* ``join``: per country the price areas paired with conflict areas (and by which
  step), and the areas of either side left unjoined; conflict countries that could
  not be resolved to an ISO code;
* ``basket``: per area the commodity standing for each food group (and the groups
  with none), the latest costed month in local currency and USD, its ratios to the
  baseline, the level reached, and months without a USD cost;
* ``largest_anomalies`` and ``unit_mismatches``: from the findings that hold;
* ``joined``: per area and month the basket ratio beside the conflict events and
  fatality index of its joined conflict area (``null`` outside the months covered
  by the country's conflict data: unknown, not peaceful);
* ``conflict_areas``: totals per conflict area;
* ``counts`` (views, skipped by reason, findings that hold by kind); ``parameters``.
"""

from __future__ import annotations

from typing import Any

from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.illicit_economy import _absorb as A
from clearinghouse.analyzers.illicit_economy import _basket as B
from clearinghouse.analyzers.illicit_economy import _derive as D
from clearinghouse.analyzers.illicit_economy import _names as N
from clearinghouse.analyzers.illicit_economy import _series as S
from clearinghouse.analyzers.illicit_economy import _units as U
from clearinghouse.analyzers.state import State

__all__ = ["TOP", "parameters", "summarise"]

#: Entries listed in ``largest_anomalies`` and ``unit_mismatches``.
TOP = 20


def parameters() -> dict[str, Any]:
    return {
        "anomaly": {
            "statistic": "monthly log price change; robust z against the series' own history "
            "AND against the country-month median change of all series (same currency)",
            "z_threshold": D.Z_THRESHOLD,
            "z_high": D.Z_HIGH,
            "z_critical": D.Z_CRITICAL,
            "min_history": S.MIN_HISTORY,
            "history_months": S.HISTORY_MONTHS,
            "min_cross_series": D.MIN_CROSS,
            "mad_scale": S.MAD_SCALE,
            "min_sigma": S.MIN_SIGMA,
            "max_gap_months": S.MAX_GAP_MONTHS,
        },
        "unit_mismatch": {
            "decades": [U.MISMATCH_LOW, U.MISMATCH_HIGH],
            "neighbour_months": S.NEIGHBOUR_MONTHS,
            "min_peers": D.MIN_UNIT_PEERS,
        },
        "basket": {
            "ration": "2,100 kcal per person per day (UNHCR/UNICEF/WFP/WHO, Food and "
            "Nutrition Needs in Emergencies, 2002; WFP, The WFP food basket)",
            "household_size": B.HOUSEHOLD_SIZE,
            "days": B.DAYS,
            "groups": [
                {
                    "key": g.key,
                    "grams_per_person_day": g.grams,
                    "kg_per_household_month": g.quantity,
                    "wfp_category": g.category,
                    "volume_prices_at_kg_per_litre": B.OIL_DENSITY if g.volume else None,
                }
                for g in B.BASKET
            ],
            "commodity_per_group": "the group's commodity priced (retail) in the most "
            "months in the area; ties: in the most (market, month) pairs, then the first name",
            "price_type": B.BASKET_PRICE_TYPE,
            "baseline_months": B.BASELINE_MONTHS,
            "carry_forward_months": B.CARRY_FORWARD_MONTHS,
            "levels": list(B.BASKET_LEVELS),
        },
        "join": {"fuzzy_min": N.FUZZY_MIN, "fuzzy_margin": N.FUZZY_MARGIN},
        "fatality_index": dict(N.FATALITY_INDEX),
    }


def _entry(f: dict[str, Any]) -> dict[str, Any]:
    ind = f.get("indicators", {})
    keys = (
        "price",
        "previous_price",
        "currency",
        "change_pct",
        "robust_z",
        "cross_z",
        "usd_price",
        "factor",
        "reference",
    )
    return {
        "subject": f["subject"],
        "period": f.get("period"),
        "score": f.get("score"),
        **{k: ind[k] for k in keys if k in ind},
    }


def summarise(state: State, *, analyzer_id: str, version: str) -> dict[str, Any]:
    counts = state.get("counts") or {"views": {}, "skipped": {}}
    findings = current_findings(state)
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
    anomalies = sorted(
        (f for f in findings if f["kind"] == D.ANOMALY_KIND),
        key=lambda f: (-f["score"], f["period"], f["subject"]),
    )
    mismatches = sorted(
        (f for f in findings if f["kind"] == D.MISMATCH_KIND),
        key=lambda f: (f["period"], f["subject"]),
    )
    countries = sorted(
        {k.removeprefix("areas:") for k in state.keys("areas:")}
        | {k.removeprefix("country-names:") for k in state.keys("country-names:")}
    )
    join = {}
    for country in countries:
        j = A.join_of(state, country)
        join[country] = {"name": A.label(state, country), **j.as_json()}
    basket: dict[str, Any] = {}
    joined: dict[str, Any] = {}
    areas = [k.removeprefix("bgroups:") for k in state.keys("bgroups:")]
    for key in areas:
        country, currency, area = key.split("|", 2)
        series = D.basket_of(state, country, currency, area)
        j = A.join_of(state, country)
        basket[key] = _latest(series, currency)
        rows = []
        for month in series.months:
            conflict = D.conflict_in(state, country, area, month.month, j)
            ratio = series.ratio(month)
            usd_ratio = series.usd_ratio(month)
            rows.append(
                {
                    "month": month.month,
                    "basket_ratio": None if ratio is None else round(ratio, 4),
                    "basket_ratio_usd": None if usd_ratio is None else round(usd_ratio, 4),
                    "conflict_events": conflict.get("conflict_events"),
                    "fatality_index": conflict.get("fatality_index"),
                }
            )
        joined[key] = {"conflict_admin1": list(j.pairs.get(area, ())), "series": rows}
    conflict_areas: dict[str, dict[str, Any]] = {}
    for key, cell in state.items("conflict:"):
        country, area, _ = key.removeprefix("conflict:").rsplit("|", 2)
        entry = conflict_areas.setdefault(
            f"{country}|{area}", {"events": 0, "fatality_index": 0.0, "months": 0}
        )
        entry["events"] += len(cell)
        entry["months"] += 1
        entry["fatality_index"] += sum(
            N.FATALITY_INDEX.get(v[1], 0.0) for _, v in sorted(cell.items())
        )
    return {
        "analyzer": {"id": analyzer_id, "version": version},
        "counts": {**counts, "findings": dict(sorted(by_kind.items()))},
        "join": join,
        "basket": basket,
        "largest_anomalies": [_entry(f) for f in anomalies[:TOP]],
        "unit_mismatches": {
            "count": len(mismatches),
            "first": [_entry(f) for f in mismatches[:TOP]],
        },
        "joined": joined,
        "conflict_spans": {k.removeprefix("span:"): v for k, v in state.items("span:")},
        "conflict_areas": conflict_areas,
        "parameters": parameters(),
    }


def _latest(series: B.BasketSeries, currency: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "currency": currency,
        "baseline_cost": None if series.baseline_cost is None else round(series.baseline_cost, 2),
        "baseline_cost_usd": None if series.baseline_usd is None else round(series.baseline_usd, 4),
        "baseline_period": series.baseline_period,
        "items": dict(series.chosen),
        "groups_missing": list(series.missing),
        "level_reached": max(series.crossings.values(), default=1.0),
        "months_costed": len(series.months),
        "months_without_usd": sum(1 for m in series.months if m.usd_cost is None),
        "month": None,
        "cost": None,
        "cost_usd": None,
        "ratio": None,
        "ratio_usd": None,
    }
    if series.months:
        last = series.months[-1]
        ratio, usd_ratio = series.ratio(last), series.usd_ratio(last)
        out.update(
            month=last.month,
            cost=round(last.cost, 2),
            cost_usd=None if last.usd_cost is None else round(last.usd_cost, 4),
            ratio=None if ratio is None else round(ratio, 4),
            ratio_usd=None if usd_ratio is None else round(usd_ratio, 4),
        )
    return out
