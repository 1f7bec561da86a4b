"""The staple basket is built from food groups, for any country: a Mali-like set of
``market-price/1`` records (millet, sorghum, cowpeas, oil, sugar; English and French
names, with and without WFP's category) gets a basket, the same in any order, and the
commodity standing for a group follows the data (findings change when it does)."""

from __future__ import annotations

import csv
import gzip
from random import Random
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.illicit_economy._basket import (
    BASKET,
    basket_group,
    choose,
    food_group,
)
from clearinghouse.analyzers.offline import OfflineRun, Picture, final_picture
from tests.analyzers._order import dump
from tests.analyzers.illicit_economy._support import feed, months, price_record, price_view
from tests.support import EXAMPLES

MONTHS = months("2022-01", 12)
#: From September (the lean season) every price is 2.1 times its level before.
LEAN = "2022-09"


@pytest.mark.parametrize(
    ("category", "commodity", "group"),
    [
        ("cereals and tubers", "Millet", "cereals"),
        ("cereals and tubers", "Wheat flour", "cereals"),
        ("cereals and tubers", "Bread (bakery)", "cereals"),
        ("cereals and tubers", "Potatoes", None),  # a fresh tuber is not a cereal
        ("cereals and tubers", "Cassava (dry)", "cereals"),
        ("pulses and nuts", "Cowpeas", "pulses"),
        ("pulses and nuts", "Beans (white)", "pulses"),
        ("pulses and nuts", "Peanut", None),  # a nut is not a pulse
        ("oil and fats", "Oil", "oil"),
        ("oil and fats", "Ghee (artificial)", "oil"),
        ("miscellaneous food", "Sugar", "sugar"),
        ("miscellaneous food", "Salt (iodised)", None),
        ("miscellaneous food", "Tea", None),
        ("non-food", "Fuel (diesel)", None),
        ("vegetables and fruits", "Beans (green)", None),  # the category decides
        (None, "Mil", "cereals"),
        (None, "Sorgho", "cereals"),
        (None, "Maïs (blanc)", "cereals"),
        (None, "Riz (importé)", "cereals"),
        (None, "Niébé", "pulses"),
        (None, "Haricot (rouge)", "pulses"),
        (None, "Huile (arachide)", "oil"),
        (None, "Sucre", "sugar"),
        (None, "Arachide (décortiquée)", None),
        (None, "Pomme de terre", None),
        (None, "Fuel (oil)", None),
        (None, "Oignons", None),
    ],
)
def test_groups_are_recognised_by_category_and_name(
    category: str | None, commodity: str, group: str | None
) -> None:
    found = food_group(category, commodity)
    assert (found and found.key) == group


def test_ration_quantities_and_units() -> None:
    # 400, 60, 25 and 15 g per person per day, 5 people, 30 days.
    assert [(g.key, g.quantity) for g in BASKET] == [
        ("cereals", 60.0),
        ("pulses", 9.0),
        ("oil", 3.75),
        ("sugar", 2.25),
    ]
    assert basket_group("oil and fats", "Oil", "1.5 L", "Retail") == (
        BASKET[2],
        pytest.approx(1.38),
    )
    assert basket_group("miscellaneous food", "Sugar", "L", "Retail") is None  # not a mass
    assert basket_group("cereals and tubers", "Millet", "MT", "Wholesale") is None
    assert basket_group("cereals and tubers", "Millet", "100 KG", "Retail") == (BASKET[0], 100.0)


def test_the_most_observed_commodity_stands_for_a_group() -> None:
    # Months first (a series needs continuity), then (market, month) pairs, then name.
    assert choose({"Beans (white)": [90, 230], "Lentils": [116, 174]}) == "Lentils"
    assert choose({"Sorghum": [12, 24], "Millet": [12, 36]}) == "Millet"
    assert choose({"Sorgho": [12, 24], "Mil": [12, 24]}) == "Mil"
    assert choose({}) is None


# (category, commodity, unit, price in XOF before the lean season, markets)
MOPTI = (
    ("cereals and tubers", "Millet", "KG", 250.0, ("Mopti", "Sevare", "Djenne")),
    ("cereals and tubers", "Sorghum", "KG", 230.0, ("Mopti", "Sevare")),
    ("cereals and tubers", "Rice (imported)", "KG", 450.0, ("Mopti",)),
    ("cereals and tubers", "Potatoes", "KG", 350.0, ("Mopti", "Sevare", "Djenne", "Konna")),
    ("pulses and nuts", "Cowpeas", "KG", 500.0, ("Mopti", "Sevare")),
    ("pulses and nuts", "Peanuts", "KG", 700.0, ("Mopti", "Sevare", "Djenne")),
    ("oil and fats", "Oil (vegetable)", "L", 1000.0, ("Mopti", "Sevare")),
    ("miscellaneous food", "Sugar", "KG", 600.0, ("Mopti", "Djenne")),
    ("miscellaneous food", "Salt", "KG", 200.0, ("Mopti", "Sevare", "Djenne")),
)
SEGOU = (
    (None, "Mil", "KG", 240.0, ("Segou", "San")),
    (None, "Sorgho", "KG", 220.0, ("Segou", "San")),
    (None, "Niébé", "KG", 480.0, ("Segou",)),
    (None, "Arachide (décortiquée)", "KG", 650.0, ("Segou", "San")),
    (None, "Huile (arachide)", "L", 1100.0, ("San",)),
    (None, "Sucre", "KG", 620.0, ("Segou",)),
)


def mali_records(
    area: str, rows: tuple[tuple[Any, ...], ...], lean: float = 2.1
) -> list[dict[str, Any]]:
    out = []
    for i, month in enumerate(MONTHS):
        level = lean if month >= LEAN else 1.0 + 0.01 * (i % 3)
        for category, commodity, unit, price, markets in rows:
            for k, market in enumerate(markets):
                local = round(price * level * (1 + 0.02 * k), 2)
                out.append(
                    price_record(
                        month,
                        local,
                        admin1=area,
                        market=market,
                        commodity=commodity,
                        category=category,
                        unit=unit,
                        usd_price=round(local / 600.0, 4),
                    )
                )
    return out


@pytest.fixture(scope="module")
def mali_views() -> list[View]:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(IllicitEconomyAnalyzer(), config, participant="undp", issuer="undp")
    records = mali_records("Mopti", MOPTI) + mali_records("Ségou", SEGOU)
    return run.views("market-price/1", records)


@pytest.fixture(scope="module")
def mali(mali_views: list[View]) -> Picture:
    return final_picture(IllicitEconomyAnalyzer(), mali_views)


def test_a_sahel_country_gets_a_basket(mali: Picture) -> None:
    basket = mali.summary["basket"]
    mopti, segou = basket["MLI|XOF|Mopti"], basket["MLI|XOF|Ségou"]
    assert mopti["items"] == {
        "cereals": "Millet",
        "pulses": "Cowpeas",
        "oil": "Oil (vegetable)",
        "sugar": "Sugar",
    }
    assert segou["items"] == {
        "cereals": "Mil",  # ties with Sorgho on (market, month) prices: the first name
        "pulses": "Niébé",
        "oil": "Huile (arachide)",
        "sugar": "Sucre",
    }
    for area in (mopti, segou):
        assert area["groups_missing"] == [] and area["months_costed"] == 12
        assert area["ratio"] == pytest.approx(2.1, rel=0.03)
        assert area["ratio_usd"] == pytest.approx(area["ratio"], rel=0.01)
    crossings = [f for f in mali.findings if f["kind"] == "basket-cost-level"]
    assert sorted(
        (f["area"], f["period"], f["indicators"]["level_crossed"]) for f in crossings
    ) == [
        ("Mopti", LEAN, 2.0),
        ("Ségou", LEAN, 2.0),
    ]
    assert "60 kg cereals (Millet)" in crossings[0]["explanation"]


@settings(max_examples=10, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_the_basket_is_the_same_in_any_order(
    mali_views: list[View], mali: Picture, rng: Random
) -> None:
    shuffled = list(mali_views)
    rng.shuffle(shuffled)
    assert dump(final_picture(IllicitEconomyAnalyzer(), shuffled)) == dump(mali)


def test_a_group_needs_a_commodity_before_a_basket_is_costed() -> None:
    rows = tuple(r for r in MOPTI if r[1] != "Sugar")
    _, state = feed([price_view(**_as_view(r)) for r in mali_records("Mopti", rows)])
    latest = IllicitEconomyAnalyzer().summary(state)["basket"]["MLI|XOF|Mopti"]
    assert latest["groups_missing"] == ["sugar"] and latest["months_costed"] == 0
    assert not [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]


def _as_view(record: dict[str, Any]) -> dict[str, Any]:
    fields = dict(record)
    month = fields.pop("date")[:7]
    return {"month": month, **fields}


def test_the_choice_follows_the_data_and_findings_are_withdrawn() -> None:
    views = [price_view(**_as_view(r)) for r in mali_records("Mopti", MOPTI)]
    _, state = feed(views)
    (held,) = [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]
    assert held["indicators"]["item_cereals"] == "Millet"
    # Later: sorghum reported from three more markets, where it did not rise. Sorghum is
    # now the most observed cereal (5 markets x 12 months against 3 x 12), its area
    # price (the median of 5 markets) did not double, and the basket no longer does.
    more = (("cereals and tubers", "Sorghum", "KG", 230.0, ("Konna", "Bandiagara", "Douentza")),)
    later, state = feed(
        [price_view(**_as_view(r)) for r in mali_records("Mopti", more, lean=1.0)], state
    )
    withdrawn = {(f.area, f.period) for f in later if f.status == "withdrawn"}
    assert ("Mopti", LEAN) in withdrawn  # (and crossings made on the way, withdrawn again)
    assert not [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]
    latest = IllicitEconomyAnalyzer().summary(state)["basket"]["MLI|XOF|Mopti"]
    assert latest["items"]["cereals"] == "Sorghum" and latest["ratio"] < 2.0


def test_every_area_of_the_shipped_syrian_file_has_every_group() -> None:
    groups: dict[str, set[str]] = {}
    path = EXAMPLES / "data" / "wfp_food_prices_syr.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["date"].startswith("#"):
                continue
            entry = basket_group(row["category"], row["commodity"], row["unit"], row["pricetype"])
            if entry is not None:
                groups.setdefault(row["admin1"], set()).add(entry[0].key)
    assert len(groups) == 14
    assert all(found == {g.key for g in BASKET} for found in groups.values())
