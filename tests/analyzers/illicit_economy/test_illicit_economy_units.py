"""Units, unit mix-ups, inflation, USD beside local currency, and withdrawals."""

from __future__ import annotations

import pytest

from clearinghouse.analyzers.base import Analyzer
from clearinghouse.analyzers.converge import current_findings
from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.illicit_economy._units import parse_unit
from tests.analyzers.illicit_economy._support import (
    COMMODITIES,
    feed,
    market_views,
    months,
    price_view,
)

START, COUNT = "2019-01", 16  # 12 months of history, then 2020-01 .. 2020-04


def test_satisfies_the_protocol() -> None:
    analyzer = IllicitEconomyAnalyzer()
    assert isinstance(analyzer, Analyzer)
    assert analyzer.id == "undp.illicit-economy" and analyzer.version == "2.0.0"
    assert analyzer.schemas == frozenset({"market-price/1", "conflict-event/1"})


@pytest.mark.parametrize(
    ("label", "quantity", "dimension"),
    [
        ("KG", 1.0, "mass"),
        ("1.1 KG", 1.1, "mass"),
        ("400 G", 0.4, "mass"),
        ("160 G", 0.16, "mass"),
        ("25 KG", 25.0, "mass"),
        ("MT", 1000.0, "mass"),
        ("L", 1.0, "volume"),
        ("1.5 L", 1.5, "volume"),
        ("900 ML", 0.9, "volume"),
        ("Cubic meter", 1000.0, "volume"),
        ("Unit", 1.0, "count"),
        ("30 pcs", 30.0, "count"),
        ("Dozen", 12.0, "count"),
        ("Bunch", 1.0, "bunch"),
        ("Head", 1.0, "head"),
        ("USD/LCU", 1.0, "usd/lcu"),
    ],
)
def test_units_parse_into_a_quantity_of_a_base_unit(
    label: str, quantity: float, dimension: str
) -> None:
    unit = parse_unit(label)
    assert unit.quantity == pytest.approx(quantity) and unit.dimension == dimension


def test_a_price_per_tonne_recorded_as_per_kg_is_a_unit_mismatch_not_two_anomalies() -> None:
    views = market_views(START, COUNT, shock={("Millet", "2020-02"): 1000.0})
    findings, state = feed(views)
    assert not [f for f in findings if f.kind == "price-anomaly"]  # not even on the way
    (mismatch,) = current_findings(state)
    assert (mismatch["kind"], mismatch["period"]) == ("unit-mismatch", "2020-02")
    assert mismatch["indicators"]["factor"] == pytest.approx(1000, rel=0.1)
    assert "mix-up" in mismatch["explanation"]


def test_a_series_mislabelled_in_tonnes_is_caught_against_the_commodity_median() -> None:
    views = []
    for market in ("Mopti", "Gao", "Sevare"):
        views += market_views(START, COUNT, market=market)
    # A wholesale "MT" series whose prices are in fact per kg (about 100 XOF).
    views += [
        price_view(
            m, 100.0 + i, market="Gao", commodity="Millet", unit="MT", price_type="Wholesale"
        )
        for i, m in enumerate(months(START, COUNT))
    ]
    _, state = feed(views)
    held = current_findings(state)
    assert {(f["kind"], f["period"]) for f in held} == {
        ("unit-mismatch", m) for m in months(START, COUNT)
    }
    assert all(f["indicators"]["reference_kind"] == "country commodity median" for f in held)


def held(state: object) -> list[tuple[str, str, str]]:
    return [(f["kind"], f["period"], f["subject"]) for f in current_findings(state)]  # type: ignore[arg-type]


def test_inflation_of_every_price_is_not_an_anomaly_but_one_commodity_is() -> None:
    common, _ = feed(market_views(START, COUNT, inflation={"2020-03": 2.5}))
    assert [f for f in common if f.kind == "price-anomaly"] == []  # not even on the way
    _, state = feed(market_views(START, COUNT, shock={("Sorghum", "2020-03"): 2.5}))
    # The jump, and the fall back the month after: both out of line with the rest.
    anomaly, fall = current_findings(state)
    assert (anomaly["period"], fall["period"]) == ("2020-03", "2020-04")
    assert "Sorghum" in anomaly["subject"] and fall["indicators"]["robust_z"] < 0
    assert anomaly["indicators"]["robust_z"] >= 3.5 and anomaly["indicators"]["cross_z"] >= 3.5
    assert anomaly["indicators"]["country_series"] == 8
    assert "not the general movement" in anomaly["explanation"]


def test_a_finding_is_withdrawn_when_later_prices_show_a_general_movement() -> None:
    _, state = feed(market_views(START, COUNT, shock={("Millet", "2020-03"): 3.0}))
    assert [k[:2] for k in held(state)] == [
        ("price-anomaly", "2020-03"),
        ("price-anomaly", "2020-04"),
    ]
    # Later: a second market whose every commodity tripled that month.
    shocks = {(c, "2020-03"): 3.0 for c in COMMODITIES}
    later, state = feed(market_views(START, COUNT, market="Gao", shock=shocks), state)
    withdrawn = [f for f in later if f.status == "withdrawn" and f.subject.startswith("Mopti")]
    assert sorted((f.kind, f.period) for f in withdrawn) == [
        ("price-anomaly", "2020-03"),
        ("price-anomaly", "2020-04"),
    ]
    assert all("Millet" in f.subject for f in withdrawn)
    assert held(state) == []  # Gao's own flags, raised while its prices arrived, are gone too


def basket_views(usd: bool, oil_factor: float = 1.0) -> list:
    """Six months at a baseline, then local prices doubling while USD prices stay."""
    items = (
        ("Bread", "KG", 10.0),
        ("Rice", "KG", 20.0),
        ("Lentils", "KG", 30.0),
        ("Sugar", "KG", 15.0),
        ("Oil (vegetable)", "L", 40.0),
    )
    views = []
    for i, month in enumerate(months("2020-01", 9)):
        factor = 2.2 if i >= 7 else 1.0
        for commodity, unit, price in items:
            extra = {"usd_price": price / 500} if usd else {}
            if commodity.startswith("Oil") and month == "2020-07":
                factor *= oil_factor
            views.append(
                price_view(month, price * factor * 500, commodity=commodity, unit=unit, **extra)
            )
    return views


def test_basket_cost_in_usd_beside_local_currency() -> None:
    _, state = feed(basket_views(usd=True))
    (crossing,) = [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]
    assert crossing["period"] == "2020-08" and crossing["indicators"]["currency"] == "XOF"
    assert crossing["indicators"]["ratio"] == pytest.approx(2.2)
    assert crossing["indicators"]["ratio_usd"] == pytest.approx(1.0)
    # 400 g cereals, 60 g pulses, 25 g oil, 15 g sugar, 5 people, 30 days; the oil's
    # price per litre at 0.92 kg a litre; bread and rice tie on (market, month) prices,
    # and the first name, Bread, stands for the cereals.
    assert crossing["indicators"]["item_cereals"] == "Bread"
    assert crossing["indicators"]["basket_cost_usd"] == pytest.approx(
        (60 * 10 + 9 * 30 + 2.25 * 15 + 3.75 * 40 / 0.92) / 500, abs=0.005
    )
    summary = IllicitEconomyAnalyzer().summary(state)
    latest = summary["basket"]["MLI|XOF|Mopti"]
    assert latest["ratio_usd"] == pytest.approx(1.0) and latest["months_without_usd"] == 0


def test_a_unit_mix_up_does_not_move_the_basket() -> None:
    findings, state = feed(basket_views(usd=True, oil_factor=1000.0))
    crossings = [f for f in findings if f.kind == "basket-cost-level"]
    assert {(f.period, f.indicators["level_crossed"]) for f in crossings} == {("2020-08", 2.0)}
    (held,) = [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]
    assert held["indicators"]["ratio"] == pytest.approx(2.2)


def test_an_absent_usd_price_is_stated_not_filled_in() -> None:
    _, state = feed(basket_views(usd=False))
    (crossing,) = [f for f in current_findings(state) if f["kind"] == "basket-cost-level"]
    assert "basket_cost_usd" not in crossing["indicators"]
    assert "No USD cost" in crossing["explanation"]
    latest = IllicitEconomyAnalyzer().summary(state)["basket"]["MLI|XOF|Mopti"]
    assert latest["cost_usd"] is None and latest["months_without_usd"] == 9


def test_odd_views_are_counted_not_fatal() -> None:
    odd = [
        price_view("2020-01", 0.0),
        price_view("2020-01", float("nan")),
        price_view("2020-01", 10.0, date="not a date"),
        price_view("2020-01", 10.0, market=None),
    ]
    findings, state = feed(odd)
    assert findings == []
    skipped = IllicitEconomyAnalyzer().summary(state)["counts"]["skipped"]
    assert sum(skipped.values()) == 4
