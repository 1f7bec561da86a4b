"""The illicit-economy analyzer on real data through OfflineRun, as undp sees it.

A real subset, run twice per module: every WFP price of Aleppo, Rural Damascus
and Deir-ez-Zor from 2011-04 to 2019-12 (11,229 prices, issued by undp itself:
the full view) interleaved by month with every UCDP GED event in their UCDP
areas (7,541 events, issued by the mission: undp's restricted view, no actors,
no coordinates, month and fatality band only). Together with the events, these
governorates held the sieges of eastern Aleppo, Eastern Ghouta and Deir-ez-Zor.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzers.base import Finding
from analyzers.illicit_economy import GOVERNORATES, IllicitEconomyAnalyzer
from analyzers.offline import OfflineRun
from analyzers.state import State
from node.importers.ucdp import read_events
from node.importers.wfp import read_prices
from protocol.schemas.analysis_result import Finding as WireFinding

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "deploy" / "examples" / "data"
PRICES = DATA / "wfp_food_prices_syr.csv.gz"
SUBSET = ("Aleppo", "Deir-ez-Zor", "Rural Damascus")
LAST_MONTH = "2019-12"

Run = tuple[list[tuple[str, list[Finding]]], dict[str, Any], State]


def interleave(
    prices: list[dict[str, Any]], events: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Prices in file order; each month's events just before that month's first price."""
    events = sorted(events, key=lambda e: (e["date_start"][:7], int(e["event_id"])))
    i = 0
    for price in prices:
        while i < len(events) and events[i]["date_start"][:7] <= price["date"][:7]:
            yield "conflict-event/1", events[i]
            i += 1
        yield "market-price/1", price
    for event in events[i:]:
        yield "conflict-event/1", event


def run_once(prices: list[dict[str, Any]], events: list[dict[str, Any]]) -> Run:
    config = yaml.safe_load((ROOT / "deploy" / "examples" / "federation.yaml").read_text())
    analyzer = IllicitEconomyAnalyzer()
    price_run = OfflineRun.start(analyzer, config, participant="undp", issuer="undp")
    event_run = dataclasses.replace(price_run, issuer="mission")  # same state and manifest
    per_view = []
    for schema, record in interleave(prices, events):
        run = price_run if schema == "market-price/1" else event_run
        (findings,) = run.run(schema, [record])
        per_view.append((schema, findings))
    return per_view, price_run.summary(), price_run.state


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run]:
    prices = [
        p for p in read_prices(PRICES) if p.get("admin1") in SUBSET and p["date"][:7] <= LAST_MONTH
    ]
    areas = {GOVERNORATES[name] for name in SUBSET}
    events = [
        e for e in read_events(DATA / "ucdp_ged_syria_2016_2019.csv") if e.get("admin1") in areas
    ]
    assert (len(prices), len(events)) == (11229, 7541)
    return run_once(prices, events), run_once(prices, events)


def findings_of(run: Run) -> list[Finding]:
    return [f for _, found in run[0] for f in found]


def as_json(run: Run) -> str:
    per_view = [[f.as_json() for f in found] for _, found in run[0]]
    return json.dumps({"findings": per_view, "summary": run[1]}, sort_keys=True, allow_nan=False)


def test_two_runs_are_byte_identical(runs: tuple[Run, Run]) -> None:
    assert as_json(runs[0]) == as_json(runs[1])


def test_finding_share_is_well_under_ten_percent(runs: tuple[Run, Run]) -> None:
    per_view, summary, _ = runs[0]
    with_findings = sum(1 for _, found in per_view if found)
    share = with_findings / len(per_view)
    print(
        f"\nillicit-economy: {with_findings} of {len(per_view)} views with findings ({share:.2%})"
    )
    assert share < 0.10
    assert summary["finding_share"] == round(share, 6)
    assert all(not found for schema, found in per_view if schema == "conflict-event/1")
    kinds = {f.kind for f in findings_of(runs[0])}
    assert kinds == {"price-anomaly", "basket-cost-level"}


def test_findings_fit_the_analysis_result_schema(runs: tuple[Run, Run]) -> None:
    for finding in findings_of(runs[0]):
        wire = WireFinding.model_validate(finding.as_json())
        # Areas are named as UCDP names them (so that they meet the security findings);
        # the WFP governorate name stays in ``area``.
        assert wire.period and wire.area in SUBSET and wire.country == "Syria"
        assert wire.indicators is not None
        assert wire.admin1 == wire.indicators["conflict_admin1"] == GOVERNORATES[wire.area]


def test_sieges_show_as_price_anomalies_with_conflict_intensity(runs: tuple[Run, Run]) -> None:
    found = {(f.subject, f.period): f for f in findings_of(runs[0]) if f.kind == "price-anomaly"}
    # Eastern Aleppo under siege (summer-December 2016), then reopened.
    bread = found["Al-Cha'ar (Aleppo): Bread (bakery, parallel market), 1.1 KG, Retail", "2016-09"]
    assert bread.indicators["change_pct"] == 300.0 and bread.indicators["robust_z"] > 20
    assert bread.indicators["conflict_events"] > 100
    flour = found["Al-Cha'ar (Aleppo): Wheat flour, KG, Retail", "2017-01"]
    assert flour.indicators["robust_z"] < -30 and flour.indicators["change_pct"] < -90
    assert flour.indicators["conflict_admin1"] == "Aleppo Governorate"
    # Qudsiya (Rural Damascus), December 2015: wheat flour at ten times its price.
    qudsiya = found["Qudsiya (Rural Damascus): Wheat flour, KG, Retail", "2015-12"]
    assert qudsiya.indicators["price"] == 2000.0 and qudsiya.level == "critical"
    top = runs[0][1]["largest_anomalies"]
    sizes = [abs(entry["robust_z"]) for entry in top]
    assert len(top) == 20 and sizes == sorted(sizes, reverse=True)
    assert (qudsiya.subject, "2015-12") in {(e["subject"], e["period"]) for e in top}


def direct_baskets(admin1: str) -> tuple[dict[str, float], float, dict[str, set[str]]]:
    """Monthly basket costs, baseline and items seen per month, from the CSV in plain Python."""
    quantities = {  # commodity -> (unit, quantity in units of the price)
        "Bread (bakery)": ("1.1 KG", 37 / 1.1),
        "Rice": ("KG", 19.0),
        "Lentils": ("KG", 19.0),
        "Sugar": ("KG", 5.0),
        "Oil": ("L", 7.0),
    }
    prices: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    with gzip.open(PRICES, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            month = row["date"][:7]
            wanted = quantities.get(row["commodity"], ("", 0))[0] == row["unit"]
            if wanted and row["admin1"] == admin1 and row["pricetype"] == "Retail":
                if month <= LAST_MONTH:
                    prices[month][row["commodity"]][row["market"]] = float(row["price"])
    last: dict[str, tuple[int, float]] = {}
    costs: dict[str, float] = {}
    for month in sorted(prices):
        index = int(month[:4]) * 12 + int(month[5:])
        for commodity, markets in prices[month].items():
            last[commodity] = (index, statistics.median(markets.values()))
        if all(c in last and index - last[c][0] <= 2 for c in quantities):
            costs[month] = sum(last[c][1] * q for c, (_, q) in quantities.items())
    baseline = statistics.median(list(costs.values())[:6])
    return costs, baseline, {m: set(items) for m, items in prices.items()}


def test_basket_ratio_matches_a_direct_computation_from_the_csv(runs: tuple[Run, Run]) -> None:
    costs, baseline, seen = direct_baskets("Aleppo")
    (crossing,) = [
        f
        for f in findings_of(runs[0])
        if f.kind == "basket-cost-level" and f.area == "Aleppo" and f.period == "2016-05"
    ]
    assert len(seen["2016-05"]) == 5  # every item priced that month: nothing carried
    assert crossing.indicators["basket_cost"] == round(costs["2016-05"], 2)
    assert crossing.indicators["baseline_cost"] == round(baseline, 2)
    assert crossing.indicators["ratio"] == round(costs["2016-05"] / baseline, 3) == 5.108
    assert crossing.indicators["level_crossed"] == 5.0
    stored = runs[0][2].get("basket:SYR|Aleppo")
    closed = {m: c for m, c in costs.items() if m <= "2019-10"}  # 2019-11 and -12 stay open
    assert {m: pytest.approx(c, rel=1e-12) for m, c in stored["series"]} == closed


def test_summary_joins_baskets_with_conflict(runs: tuple[Run, Run]) -> None:
    summary = runs[0][1]
    assert sorted(summary["basket"]) == list(SUBSET)
    assert summary["conflict_span"] == ["2016-01", "2019-11"]
    aleppo = {row["month"]: row for row in summary["joined"]["Aleppo"]["series"]}
    assert aleppo["2016-05"]["basket_ratio"] == 5.1084
    assert aleppo["2016-05"]["conflict_events"] == 98
    assert aleppo["2013-01"]["conflict_events"] is None  # before any conflict data
    areas = summary["conflict_areas"]
    assert sum(a["events"] for a in areas.values()) == 7541
    assert all(a["has_price_data"] for a in areas.values())
