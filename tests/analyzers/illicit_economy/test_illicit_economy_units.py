"""The illicit-economy analyzer on hand-built views: known robust z, basket crossings,
the conflict join, bounded state, and views with missing or odd claims."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from analyzers.base import Analyzer, Finding, View
from analyzers.illicit_economy import IllicitEconomyAnalyzer
from analyzers.illicit_economy._anomaly import HISTORY_LIMIT, MAD_SCALE, MIN_SIGMA, Z_THRESHOLD
from analyzers.illicit_economy._basket import BASKET, BASKET_LEVELS
from analyzers.state import State

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def price_view(month: str, price: Any, **claims: Any) -> View:
    record = {
        "date": f"{month}-15",
        "country_code": "SYR",
        "admin1": "Aleppo",
        "market": "Aleppo",
        "commodity": "Sugar",
        "unit": "KG",
        "price_type": "Retail",
        "currency": "SYP",
        "price": price,
    }
    record.update(claims)
    return View("market-price/1", "undp", "jti", "digest", NOW, "hc", record)


def event_view(month: str, band: str, admin1: str = "Aleppo governorate") -> View:
    claims = {
        "event_id": "1",
        "year": int(month[:4]),
        "type_of_violence": 3,
        "country": "Syria",
        "admin1": admin1,
        "month": month,
        "fatality_band": band,
    }
    return View("conflict-event/1", "mission", "jti", "digest", NOW, "hc", claims)


def months(start: str, count: int) -> list[str]:
    year, month = int(start[:4]), int(start[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def feed(analyzer: IllicitEconomyAnalyzer, state: State, views: list[View]) -> list[Finding]:
    found = []
    for view in views:
        found += analyzer.analyze(view, state)
        state.commit()
    return found


def test_satisfies_the_protocol() -> None:
    analyzer = IllicitEconomyAnalyzer()
    assert isinstance(analyzer, Analyzer)
    assert analyzer.id == "undp.illicit-economy"
    assert analyzer.version == "1.0.0"
    assert analyzer.schemas == frozenset({"market-price/1", "conflict-event/1"})


def test_a_known_outlier_gets_the_expected_robust_z() -> None:
    # Monthly log changes alternate 0.00 and 0.10: median 0.05, MAD 0.05.
    prices, price = [100.0], 100.0
    for i in range(12):
        price *= math.exp(0.10 if i % 2 else 0.0)
        prices.append(price)
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2014-01", 14)
    history = [price_view(m, p) for m, p in zip(span, prices, strict=False)]
    assert feed(analyzer, state, history) == []
    doubled = prices[-1] * 2
    (finding,) = analyzer.analyze(price_view(span[13], doubled), state)
    expected = (math.log(2) - 0.05) / (MAD_SCALE * 0.05)
    assert finding.kind == "price-anomaly"
    assert finding.indicators["robust_z"] == round(expected, 2) == 8.68
    assert finding.indicators["history"] == 12
    assert finding.indicators["change_pct"] == 100.0
    assert finding.level == "high"
    assert finding.period == "2015-02"
    assert finding.area == "Aleppo" and finding.admin1 == "Aleppo Governorate"
    assert finding.country == "Syria"
    assert finding.subject == "Aleppo (Aleppo): Sugar, KG, Retail"
    assert "8.7 robust standard deviations above" in finding.explanation
    assert f"|z| >= {Z_THRESHOLD}" in finding.explanation
    assert finding.indicators["conflict_admin1"] == "Aleppo Governorate"
    assert "conflict_events" not in finding.indicators  # no conflict data: unknown, not zero
    assert "No conflict data received yet" in finding.explanation


def test_conflict_intensity_outside_the_span_of_conflict_data_is_unknown() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2015-01", 15)
    views = [event_view("2016-06", "5-24"), *(price_view(m, 10.0) for m in span[:14])]
    feed(analyzer, state, views)
    (finding,) = analyzer.analyze(price_view(span[14], 30.0), state)
    assert finding.indicators["conflict_data"] == "none for this month"
    assert "unknown: the conflict data received so far covers 2016-06 to 2016-06" in (
        finding.explanation
    )


def test_flat_series_uses_the_sigma_floor() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2016-01", 16)
    assert feed(analyzer, state, [price_view(m, 50.0) for m in span[:13]]) == []
    # +10%: z = ln(1.1) / MIN_SIGMA = 1.9, below the threshold.
    assert analyzer.analyze(price_view(span[13], 55.0), state) == []
    state.commit()
    (finding,) = analyzer.analyze(price_view(span[14], 82.5), state)
    assert finding.indicators["sigma"] == MIN_SIGMA
    assert finding.indicators["robust_z"] == round(math.log(1.5) / MIN_SIGMA, 2)


def test_short_history_gaps_and_stale_months() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2016-01", 30)
    # Fewer than MIN_HISTORY changes: a tenfold jump is not scored.
    assert feed(analyzer, state, [price_view(m, 10.0) for m in span[:5]]) == []
    assert analyzer.analyze(price_view(span[5], 100.0), state) == []
    feed(analyzer, state, [price_view(m, 100.0) for m in span[6:19]])
    # A gap of two months: the average monthly change is scored.
    (finding,) = analyzer.analyze(price_view(span[20], 400.0), state)
    assert finding.indicators["gap_months"] == 2
    assert finding.indicators["log_change"] == round(math.log(4) / 2, 4)
    assert "average monthly log change over 2 months" in finding.explanation
    state.commit()
    # An older or duplicate month changes nothing; a gap of four is not scored.
    key = state.keys("series:")[0]
    before = state.get(key)
    assert analyzer.analyze(price_view(span[19], 1.0), state) == []
    assert analyzer.analyze(price_view(span[20], 1.0), state) == []
    assert state.get(key) == before
    assert analyzer.analyze(price_view(span[24], 9000.0), state) == []


def test_series_state_is_bounded() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    feed(analyzer, state, [price_view(m, 10.0 + i) for i, m in enumerate(months("2012-01", 60))])
    (key,) = state.keys("series:")
    assert len(state.get(key)["changes"]) == HISTORY_LIMIT


def basket_views(month: str, factor: float, markets: tuple[str, ...] = ("A", "B", "C")) -> list:
    """One price per basket item and market; market B is twice as dear (median = A's x 1)."""
    views = []
    base = {"Bread (bakery)": 11.0, "Rice": 20.0, "Lentils": 10.0, "Sugar": 8.0, "Oil": 30.0}
    for item in BASKET:
        for i, market in enumerate(markets):
            price = base[item.commodity] * factor * (1.0, 2.0, 0.5)[i % 3]
            views.append(
                price_view(month, price, market=market, commodity=item.commodity, unit=item.unit)
            )
    return views


#: Cost of the hand-built basket at factor 1: 37 kg / 1.1 kg x 11 + 19x20 + 19x10 + 5x8 + 7x30.
UNIT_COST = 37 / 1.1 * 11 + 19 * 20 + 19 * 10 + 5 * 8 + 7 * 30


def test_basket_ratio_crossing_is_a_finding_with_conflict_intensity() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2013-01", 10)
    views = [v for m in span[:6] for v in basket_views(m, 1.0)]
    views += [event_view(span[6], "1-4"), event_view(span[6], "5-24"), event_view(span[6], "0")]
    views += [event_view(span[6], "25-99", admin1="Homs Governorate")]
    views += basket_views(span[6], 2.5) + basket_views(span[7], 2.6)
    assert feed(analyzer, state, views) == []  # 2013-07 stays open for late records
    (finding,) = analyzer.analyze(price_view(span[8], 1.0, commodity="Tea"), state)
    assert finding.kind == "basket-cost-level"
    assert finding.period == span[6] and finding.area == "Aleppo"
    assert finding.indicators["baseline_cost"] == round(UNIT_COST, 2)
    assert finding.indicators["basket_cost"] == round(2.5 * UNIT_COST, 2)
    assert finding.indicators["ratio"] == 2.5
    assert finding.indicators["level_crossed"] == BASKET_LEVELS[0] == 2.0
    assert finding.indicators["markets"] == 3
    assert finding.indicators["price_bread"] == 11.0 * 2.5
    assert finding.indicators["conflict_admin1"] == "Aleppo Governorate"
    assert finding.indicators["conflict_events"] == 3
    assert finding.indicators["conflict_fatality_index"] == 2 + 8 + 0
    assert "3 events, fatality index 10" in finding.explanation
    assert "2013-01/2013-06" in finding.explanation
    state.commit()
    # 2.6x is above 2x but below 5x: no new level, no finding.
    assert analyzer.analyze(price_view(span[9], 1.0, commodity="Tea"), state) == []


def test_missing_items_are_carried_forward_two_months_only() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2013-01", 14)
    views = [v for m in span[:6] for v in basket_views(m, 1.0)]
    no_oil = [v for m in span[6:9] for v in basket_views(m, 3.0) if v.get("commodity") != "Oil"]
    views += [*no_oil, price_view(span[11], 1.0, commodity="Tea")]
    found = feed(analyzer, state, views)
    assert [f.period for f in found] == ["2013-07"]
    assert found[0].indicators["items_carried_forward"] == 1
    series = state.get("basket:SYR|Aleppo")["series"]
    # 2013-07 and -08 carry oil from 2013-06; 2013-09 (three months on) is not costed.
    assert [m for m, _ in series] == [*span[:6], "2013-07", "2013-08"]


def test_late_prices_are_counted_not_used() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    feed(analyzer, state, basket_views("2013-01", 1.0) + basket_views("2013-03", 1.0))
    assert analyzer.analyze(price_view("2013-01", 99.0, market="Z"), state) == []
    assert state.get("counts")["skipped"] == {"market-price/1": 1}


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"price": "12"},
        {"price": True},
        {"price": float("nan")},
        {"price": -3.0},
        {"price": 0.0},
        {"date": "2016-13-15"},
        {"date": None},
        {"date": 20160115},
        {"market": None, "admin1": None},
        {"currency": None, "unit": 5},
        {"commodity": ["Sugar"]},
        {"admin1": ""},
        {"country_code": "XXX"},
    ],
)
def test_missing_or_odd_price_claims_never_raise(claims: dict[str, Any]) -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    feed(analyzer, state, [price_view(m, 10.0 + i) for i, m in enumerate(months("2015-01", 14))])
    view = price_view("2016-03", 10.0)
    merged = {k: v for k, v in {**view.claims, **claims}.items() if v is not None}
    assert isinstance(analyzer.analyze(View(*_head(view), claims=merged), state), list)
    assert analyzer.analyze(View(*_head(view), claims={}), state) == []
    json.dumps(analyzer.summary(state), allow_nan=False)


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"month": "2016-01"},
        {"admin1": "Homs Governorate"},
        {"month": "2016-01", "admin1": "Homs Governorate", "fatality_band": 7},
        {"month": "2016-1", "admin1": "X"},
        {"date_start": "2016-01-04", "admin1": "X", "type_of_violence": True},
    ],
)
def test_missing_or_odd_event_claims_never_raise(claims: dict[str, Any]) -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    view = View("conflict-event/1", "mission", "j", "d", NOW, "hc", claims)
    assert analyzer.analyze(view, state) == []
    json.dumps(analyzer.summary(state), allow_nan=False)


def test_other_schemas_are_ignored() -> None:
    state = State()
    view = View("seizure/1", "unodc", "j", "d", NOW, "hc", {"kilograms": 5})
    assert IllicitEconomyAnalyzer().analyze(view, state) == []
    assert len(state) == 0


def test_summary_joins_basket_and_conflict_by_month() -> None:
    analyzer, state = IllicitEconomyAnalyzer(), State()
    span = months("2016-01", 9)
    views = [event_view(span[0], "1-4"), event_view(span[8], "100-999")]
    views += [v for m in span[:8] for v in basket_views(m, 1.0 + 0.1 * span.index(m))]
    feed(analyzer, state, views)
    summary = analyzer.summary(state)
    json.dumps(summary, allow_nan=False)
    aleppo = summary["joined"]["Aleppo"]
    assert aleppo["conflict_admin1"] == "Aleppo Governorate"
    rows = {row["month"]: row for row in aleppo["series"]}
    assert rows["2016-01"] == {
        "month": "2016-01",
        "basket_ratio": round(1.0 / 1.25, 4),  # baseline: median of 1.0 ... 1.5
        "conflict_events": 1,
        "fatality_index": 2.0,
    }
    assert rows["2016-02"]["conflict_events"] == 0  # inside the span of conflict data
    assert rows["2016-09"]["basket_ratio"] is None
    assert summary["basket"]["Aleppo"]["month"] == "2016-06"
    assert summary["basket"]["Aleppo"]["baseline_period"] == "2016-01/2016-06"
    assert summary["basket"]["Aleppo"]["provisional"] == {
        "month": "2016-08",
        "cost": round(1.7 * UNIT_COST, 2),
        "ratio": round(1.7 / 1.25, 4),
    }
    assert summary["conflict_span"] == ["2016-01", "2016-09"]
    assert summary["finding_share"] == 0.0


def _head(view: View) -> tuple[str, str, str, str, datetime, str]:
    return view.schema, view.issuer, view.jti, view.digest, view.issued_at, view.hc
