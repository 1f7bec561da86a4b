"""``undp.illicit-economy`` on a real sample: the same picture in any order, and the
siege of eastern Aleppo found.

The sample: WFP prices (read with the project's importer) of eight staples at four
Syrian markets, 2015-01 to 2017-03 (Al-Cha'ar in eastern Aleppo, besieged from
July to December 2016; Moghambo in western Aleppo; Lattakia and Tartous on the
coast), issued by undp itself, and every third UCDP GED event in Aleppo
governorate from 2016-07 to 2017-01, issued by the mission (undp's restricted
view: month and fatality band, no actors, no coordinates). Views are issued and
verified once, then analysed in permuted orders.
"""

from __future__ import annotations

from random import Random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.offline import OfflineRun, Picture, final_picture
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.importers.wfp import read_prices
from tests.analyzers._order import assert_same_in_any_order
from tests.support import EXAMPLES

DATA = EXAMPLES / "data"
MARKETS = {"Al-Cha'ar", "Moghambo", "Lattakia", "Tartous"}
COMMODITIES = {
    "Wheat flour",
    "Rice",
    "Tea",
    "Sugar",
    "Lentils",
    "Bread (bakery)",
    "Oil",
    "Fuel (gas)",
}


def _prices() -> list[dict[str, object]]:
    return [
        p
        for p in read_prices(DATA / "wfp_food_prices_syr.csv.gz")
        if p["market"] in MARKETS
        and p["commodity"] in COMMODITIES
        and "2015-01" <= str(p["date"])[:7] <= "2017-03"
    ]


def _events() -> list[dict[str, object]]:
    return [
        e
        for e in read_events(DATA / "ucdp_ged_syria_2016_2019.csv")
        if e.get("admin1") == "Aleppo Governorate"
        and "2016-07" <= str(e["date_start"])[:7] <= "2017-01"
        and int(str(e["event_id"])) % 3 == 0
    ]


@pytest.fixture(scope="module")
def views() -> list[View]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(IllicitEconomyAnalyzer(), config, participant="undp", issuer="undp")
    events = OfflineRun(run.analyzer, run.manifest, run.keys, "undp", "mission", run.state)
    return run.views("market-price/1", _prices()) + events.views("conflict-event/1", _events())


@pytest.fixture(scope="module")
def in_file_order(views: list[View]) -> Picture:
    return final_picture(IllicitEconomyAnalyzer(), views)


def test_the_sample_is_real_and_rich_enough(views: list[View], in_file_order: Picture) -> None:
    assert 600 <= len(views) <= 1200
    kinds = {f["kind"] for f in in_file_order.findings}
    assert {"price-anomaly", "basket-cost-level"} <= kinds
    assert in_file_order.withdrawn > 0  # findings on partial tallies were withdrawn


@settings(max_examples=10, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_any_order_gives_the_same_findings_and_summary(
    views: list[View], in_file_order: Picture, rng: Random
) -> None:
    assert_same_in_any_order(IllicitEconomyAnalyzer, views, in_file_order, rng)


def test_the_siege_of_eastern_aleppo_shows_with_conflict_intensity(in_file_order: Picture) -> None:
    found = {(f["subject"], f["period"]): f for f in in_file_order.findings}
    flour = found["Al-Cha'ar (Aleppo, SYR): Wheat flour, KG, Retail", "2016-11"]
    assert flour["indicators"]["change_pct"] == 450.0 and flour["level"] == "critical"
    assert flour["country"] == "Syria" and flour["admin1"] == "Aleppo Governorate"
    assert flour["indicators"]["conflict_events"] > 30
    reopened = found["Al-Cha'ar (Aleppo, SYR): Wheat flour, KG, Retail", "2017-01"]
    assert reopened["indicators"]["robust_z"] < -14
    # The coast, far from the siege: at most a medium anomaly (one, in Tartous).
    coast = [f for f in in_file_order.findings if f["area"] in ("Lattakia", "Tartous")]
    assert all(f["level"] == "medium" for f in coast if f["kind"] == "price-anomaly")


def test_the_summary_joins_and_shows_usd_beside_local(in_file_order: Picture) -> None:
    summary = in_file_order.summary
    join = summary["join"]["SYR"]
    assert join["pairs"]["Aleppo"] == ["Aleppo Governorate"]
    assert join["unjoined_price_areas"] == ["Lattakia", "Tartous"]  # no events sampled there
    aleppo = summary["basket"]["SYR|SYP|Aleppo"]
    assert aleppo["cost"] > 0 and aleppo["cost_usd"] > 0 and aleppo["months_without_usd"] == 0
    # The basket's groups, each stood for by a commodity of the Syrian file itself.
    assert aleppo["groups_missing"] == []
    assert aleppo["items"]["cereals"] in {"Rice", "Wheat flour", "Bread (bakery)"}
    assert {k: aleppo["items"][k] for k in ("pulses", "oil", "sugar")} == {
        "pulses": "Lentils",
        "oil": "Oil",
        "sugar": "Sugar",
    }
    assert aleppo["ratio_usd"] < aleppo["ratio"]  # the pound lost value over the period
