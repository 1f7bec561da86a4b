"""``undp.illicit-economy`` measured on the shipped WFP and UCDP data and three labelled
reference sets.

Data (``deploy/examples/data/``), read with the project's importers and issued as
undp's views under the demo federation's policy: WFP prices for Syria (issued by
undp: every field, ``usd_price`` included) and UCDP GED Syria 2016-2019 events
(issued by the mission: undp sees month, area and fatality band only).

* quick: the prices of the labelled markets and of Damascus governorate's markets,
  2015-07 to 2020-08, and every fourth event of their governorates;
* full: every price of seven governorates (Aleppo, Rural Damascus, Deir-ez-Zor, Hama,
  Damascus, Lattakia, Tartous), 2015-01 to 2020-12, and every event.

Labels (``tests/analyzers/illicit_economy/reference/``, a citation per row):

* ``area_joins.csv``: WFP admin1 and UCDP adm_1 spellings of the same (or of
  different) governorates, by their ISO 3166-2:SY code: does the join pair them?
* ``price_shocks.csv``: documented local shocks (sieges) and documented general
  movements (the 2020 depreciation of the Syrian pound) at named markets: does the
  analyzer hold price anomalies in at least :data:`SHOCK_COMMODITIES` commodities of
  the market within the window? (A siege or blockade moves many goods at once.)
* ``unit_mismatches.csv``: kg/tonne (g/kg, mL/L, L/m3) mix-ups, real ones of the
  shipped file and constructed ones (a shipped price multiplied or divided by 1000),
  and constructed price movements of 3, 5 and 10 times: is a unit mismatch held?

``python -c "from bench.analysis.illicit_economy import evaluate; print(evaluate(True))"``
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import yaml

from bench.analysis._evaluation import (
    Evaluation,
    Labelled,
    permutation_stability,
    read_labels,
)
from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.illicit_economy._names import join_areas
from clearinghouse.analyzers.offline import OfflineRun

__all__ = ["SHOCK_COMMODITIES", "evaluate", "score_joins", "score_shocks", "score_units"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "deploy" / "examples" / "data"
PRICES = DATA / "wfp_food_prices_syr.csv.gz"
GED = DATA / "ucdp_ged_syria_2016_2019.csv"
REFERENCE = ROOT / "tests" / "analyzers" / "illicit_economy" / "reference"
JOINS = REFERENCE / "area_joins.csv"
SHOCKS = REFERENCE / "price_shocks.csv"
UNITS = REFERENCE / "unit_mismatches.csv"
#: Commodities of a market with a held anomaly in the window for a "local shock" call.
SHOCK_COMMODITIES = 2
FULL_AREAS = {"Aleppo", "Rural Damascus", "Deir-ez-Zor", "Hama", "Damascus", "Lattakia", "Tartous"}
QUICK_MONTHS = ("2015-07", "2020-08")
FULL_MONTHS = ("2015-01", "2020-12")


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _data_rows() -> int:
    with gzip.open(PRICES, "rt", encoding="utf-8", newline="") as handle:
        prices = sum(1 for row in csv.DictReader(handle) if not row["date"].startswith("#"))
    with GED.open(newline="", encoding="utf-8") as handle:
        return prices + sum(1 for _ in csv.DictReader(handle))


def score_joins(rows: list[dict[str, str]], pairs: dict[str, tuple[str, ...]]) -> Labelled:
    tp = fp = fn = 0
    for row in rows:
        should = row["same_area"] == "yes"
        did = row["conflict_admin1"] in pairs.get(row["price_admin1"], ())
        tp += did and should
        fp += did and not should
        fn += should and not did
    return Labelled("admin1 join (WFP - UCDP)", len(rows), tp, fp, fn, _relative(JOINS))


def score_shocks(rows: list[dict[str, str]], findings: list[dict[str, Any]]) -> Labelled:
    tp = fp = fn = labels = 0
    for row in rows:
        prefix = f"{row['market']} ({row['admin1']}, SYR): "
        commodities = {
            f["subject"].removeprefix(prefix).split(",")[0]
            for f in findings
            if f["kind"] == "price-anomaly"
            and f["subject"].startswith(prefix)
            and row["first_month"] <= f["period"] <= row["last_month"]
        }
        labels += 1
        should, did = row["local_shock"] == "yes", len(commodities) >= SHOCK_COMMODITIES
        tp += did and should
        fp += did and not should
        fn += should and not did
    return Labelled("local price shock (market, window)", labels, tp, fp, fn, _relative(SHOCKS))


def score_units(
    rows: list[dict[str, str]],
    findings: list[dict[str, Any]],
    present: set[tuple[str, ...]],
    admin1: dict[str, str],
) -> Labelled:
    """Only the labelled series-months present in the run are scored."""
    held = {(f["subject"], f["period"]) for f in findings if f["kind"] == "unit-mismatch"}
    tp = fp = fn = labels = 0
    for row in rows:
        key = (row["market"], row["commodity"], row["unit"], row["price_type"], row["month"])
        if key not in present:
            continue
        labels += 1
        subject = (
            f"{row['market']} ({admin1[row['market']]}, SYR): {row['commodity']}, "
            f"{row['unit']}, {row['price_type']}"
        )
        should, did = row["mismatch"] == "yes", (subject, row["month"]) in held
        tp += did and should
        fp += did and not should
        fn += should and not did
    return Labelled("unit mismatch (series, month)", labels, tp, fp, fn, _relative(UNITS))


def _records(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    from clearinghouse.node.importers.ucdp import read_events
    from clearinghouse.node.importers.wfp import read_prices

    prices = list(read_prices(PRICES))
    events = list(read_events(GED))
    read = _data_rows()
    dropped = read - len(prices) - len(events)
    labelled = {r["market"] for r in read_labels(SHOCKS)} | {
        r["market"] for r in read_labels(UNITS)
    }
    first, last = QUICK_MONTHS if quick else FULL_MONTHS
    if quick:
        keep = [
            p
            for p in prices
            if (p["market"] in labelled or p.get("admin1") == "Damascus")
            and first <= str(p["date"])[:7] <= last
        ]
    else:
        keep = [
            p
            for p in prices
            if p.get("admin1") in FULL_AREAS and first <= str(p["date"])[:7] <= last
        ]
    areas = {str(p.get("admin1")) for p in keep}
    ged_areas = tuple(sorted({str(e["admin1"]) for e in events if e.get("admin1")}))
    pairs = join_areas(tuple(sorted(areas)), ged_areas).pairs
    ucdp_areas = {u for us in pairs.values() for u in us}
    if quick:
        events = [e for e in events if e.get("admin1") in ucdp_areas][::4]
    return keep, events, read, dropped


def _inject(prices: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    """Apply the constructed unit labels to ``prices`` (in place); the labelled keys present."""
    factors = {
        (r["market"], r["commodity"], r["unit"], r["price_type"], r["month"]): r["factor"]
        for r in read_labels(UNITS)
    }
    present = set()
    for p in prices:
        key = (p["market"], p["commodity"], p["unit"], p.get("price_type"), str(p["date"])[:7])
        factor = factors.get(key)  # type: ignore[arg-type]
        if factor is None:
            continue
        present.add(key)
        if factor != "as shipped":
            p["price"] = p["price"] * float(factor)
            if p.get("usd_price") is not None:
                p["usd_price"] = p["usd_price"] * float(factor)
    return present  # type: ignore[return-value]


def evaluate(quick: bool) -> Evaluation:
    prices, events, read, dropped = _records(quick)
    present = _inject(prices)
    admin1 = {str(p["market"]): str(p.get("admin1")) for p in prices}
    config = yaml.safe_load((ROOT / "deploy" / "examples" / "federation.yaml").read_text())
    run = OfflineRun.start(IllicitEconomyAnalyzer(), config, participant="undp", issuer="undp")
    mission = OfflineRun(run.analyzer, run.manifest, run.keys, "undp", "mission", run.state)
    views = run.views("market-price/1", prices) + mission.views("conflict-event/1", events)
    stable, picture, rate = permutation_stability(IllicitEconomyAnalyzer, views, 2 if quick else 5)
    with gzip.open(PRICES, "rt", encoding="utf-8", newline="") as handle:
        wfp = {r["admin1"] for r in csv.DictReader(handle) if r["admin1"][:1] not in ("", "#")}
    with GED.open(newline="", encoding="utf-8") as handle:
        ucdp = {r["adm_1"] for r in csv.DictReader(handle) if r["adm_1"]}
    join = join_areas(tuple(sorted(wfp)), tuple(sorted(ucdp)))
    labelled = [
        score_joins(read_labels(JOINS), dict(join.pairs)),
        score_shocks(read_labels(SHOCKS), picture.findings),
        score_units(read_labels(UNITS), picture.findings, present, admin1),
    ]
    summary = picture.summary
    by_kind = summary["counts"]["findings"]
    shown = ("items", "baseline_period", "month", "cost", "ratio", "cost_usd", "ratio_usd")
    baskets = {
        k: {x: v[x] for x in (*shown, "level_reached")} for k, v in summary["basket"].items()
    }
    return Evaluation(
        analyzer=IllicitEconomyAnalyzer.id,
        rows_read=read,
        rows_dropped=dropped,
        records_per_s=rate,
        permutations=2 if quick else 5,
        stable=stable,
        labelled=labelled,
        findings=len(picture.findings),
        details={
            "prices_analysed": len(prices),
            "events_analysed": len(events),
            "findings_by_kind": by_kind,
            "reported_on_the_way": picture.reported,
            "withdrawn_on_the_way": picture.withdrawn,
            "join_full_files": join.as_json(),
            "basket_latest": baskets,
        },
    )


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    result = evaluate("--full" not in sys.argv)
    print(json.dumps(result.as_json(), indent=1, ensure_ascii=False))
