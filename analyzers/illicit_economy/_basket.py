"""Livelihood impact: the cost of a staple food basket per area and month, in the
local currency and in US dollars, from order-free tallies.

The basket follows the items of WFP's standard reference food basket for a
household of five for one month (bread, rice, lentils, sugar, vegetable oil); the
quantities are this analyzer's stated assumption (:data:`BASKET`). Items are
matched by WFP's global commodity names (:attr:`BasketItem.names`), and priced
per base unit (kg or litre, :mod:`._units`), so "Sugar" at "KG" and at "25 KG"
are the same item. An area-month's item price is the **median across the area's
markets** of each market's price per base unit (a market's own price is the
median of the distinct prices it reported that month).

The USD cost is the same computation on WFP's ``usd_price`` (``market-price/1``
discloses it to undp). Where an item has no USD price in a month, the USD cost
of that month is absent and the summary says so; it is never filled in from an
exchange rate the analyzer would have to choose.

The cost is compared with the area's own earliest level: the median cost of its
first :data:`BASELINE_MONTHS` costed months (the earliest *observed* level: in
Syria, already after 2011). A finding is made for each month in which the ratio
first reaches one of :data:`BASKET_LEVELS` (the highest level first reached that
month). This is a measure of livelihood pressure, not an anomaly: in local
currency it includes inflation on purpose (households earn the local currency),
and the USD cost and ratio beside it show how much of the rise is the currency.
A month whose item price is about 1000 times or 1/1000 of the item's neighbouring
months (a unit mix-up, :mod:`._units`) counts as missing for that item. An item
missing in a month is carried forward from up to
:data:`CARRY_FORWARD_MONTHS` months before; otherwise the month is not costed.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzers.illicit_economy._series import NEIGHBOUR_MONTHS, month_index
from analyzers.illicit_economy._units import is_unit_mismatch, parse_unit

__all__ = [
    "BASELINE_MONTHS",
    "BASKET",
    "BASKET_LEVELS",
    "BASKET_PRICE_TYPE",
    "CARRY_FORWARD_MONTHS",
    "BasketItem",
    "BasketMonth",
    "BasketSeries",
    "add_basket_price",
    "basket_item",
    "derive_basket",
]


@dataclass(frozen=True)
class BasketItem:
    """``quantity`` base units (kg, or litres for ``dimension == "volume"``) a month."""

    key: str
    names: tuple[str, ...]
    dimension: str
    quantity: float


#: The staple basket (WFP commodity names; quantities for five people, one month).
BASKET: tuple[BasketItem, ...] = (
    BasketItem("bread", ("Bread (bakery)", "Bread"), "mass", 37.0),
    BasketItem("rice", ("Rice", "Rice (imported)", "Rice (local)", "Rice (white)"), "mass", 19.0),
    BasketItem("lentils", ("Lentils", "Lentils (red)"), "mass", 19.0),
    BasketItem("sugar", ("Sugar", "Sugar (white)"), "mass", 5.0),
    BasketItem("oil", ("Oil", "Oil (vegetable)", "Oil (sunflower)"), "volume", 7.0),
)
BASKET_PRICE_TYPE = "Retail"
#: Costed months whose median cost is the area's baseline.
BASELINE_MONTHS = 6
#: How many months an item's last price may stand in for a missing one.
CARRY_FORWARD_MONTHS = 2
#: Ratios to the baseline whose first reaching is a finding.
BASKET_LEVELS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)

_BY_NAME = {name: item for item in BASKET for name in item.names}


def basket_item(commodity: str, unit: str, price_type: str | None) -> BasketItem | None:
    """The basket item a price is for, or ``None``."""
    item = _BY_NAME.get(commodity)
    if item is None or price_type != BASKET_PRICE_TYPE:
        return None
    return item if parse_unit(unit).dimension == item.dimension else None


def add_basket_price(
    tally: dict[str, Any] | None, month: str, market: str, per_base: float, usd: float | None
) -> tuple[dict[str, Any], bool]:
    """``{month: {market: [[per-base prices], [per-base USD prices]]}}`` after one more."""
    out = tally or {}
    cell = out.setdefault(month, {}).setdefault(market, [[], []])
    changed = False
    for values, value in ((cell[0], per_base), (cell[1], usd)):
        if value is not None and value not in values:
            values.append(value)
            values.sort()
            changed = True
    return out, changed


@dataclass(frozen=True)
class BasketMonth:
    month: str
    cost: float
    usd_cost: float | None
    prices: Mapping[str, float]
    carried: tuple[str, ...]
    markets: int
    usd_missing: tuple[str, ...]


@dataclass(frozen=True)
class BasketSeries:
    months: tuple[BasketMonth, ...]
    baseline_cost: float | None
    baseline_usd: float | None
    baseline_period: str | None
    crossings: Mapping[str, float]  # month -> highest level first reached that month

    def ratio(self, month: BasketMonth) -> float | None:
        return None if self.baseline_cost is None else month.cost / self.baseline_cost

    def usd_ratio(self, month: BasketMonth) -> float | None:
        if self.baseline_usd is None or month.usd_cost is None:
            return None
        return month.usd_cost / self.baseline_usd


def _median_of_markets(cells: Mapping[str, list[list[float]]], which: int) -> float | None:
    values = sorted(statistics.median(c[which]) for c in cells.values() if c[which])
    return statistics.median(values) if values else None


def _item_months(tally: Mapping[str, Any]) -> dict[str, tuple[float, float | None, int]]:
    """Month -> (area price, area USD price, markets) of one item, without the months
    whose price is a unit mix-up (about 1000 times or 1/1000 of the median of the
    item's other months within :data:`NEIGHBOUR_MONTHS`): such a month is missing."""
    raw = {}
    for month, cells in tally.items():
        price = _median_of_markets(cells, 0)
        if price is not None and price > 0:
            raw[month] = (price, _median_of_markets(cells, 1), len(cells))
    months = sorted(raw, key=month_index)
    out = {}
    for i, month in enumerate(months):
        here = month_index(month)
        near = sorted(
            raw[months[j]][0]
            for j in range(max(0, i - NEIGHBOUR_MONTHS), min(len(months), i + NEIGHBOUR_MONTHS + 1))
            if j != i and abs(month_index(months[j]) - here) <= NEIGHBOUR_MONTHS
        )
        if len(near) >= 2 and is_unit_mismatch(raw[month][0], statistics.median(near)):
            continue
        out[month] = raw[month]
    return out


def derive_basket(tallies: Mapping[str, Mapping[str, Any]]) -> BasketSeries:
    """The area's basket series from its item tallies (item key -> tally)."""
    items = {item.key: _item_months(tallies.get(item.key, {})) for item in BASKET}
    months = sorted({m for t in items.values() for m in t}, key=month_index)
    last: dict[str, tuple[int, float, float | None]] = {}
    costed: list[BasketMonth] = []
    for month in months:
        here = month_index(month)
        markets = 0
        for item in BASKET:
            found = items[item.key].get(month)
            if found is not None:
                last[item.key] = (here, found[0], found[1])
                markets = max(markets, found[2])
        if not markets:
            continue
        if any(
            item.key not in last or here - last[item.key][0] > CARRY_FORWARD_MONTHS
            for item in BASKET
        ):
            continue
        prices = {item.key: last[item.key][1] for item in BASKET}
        usd_missing = tuple(item.key for item in BASKET if last[item.key][2] is None)
        cost = sum(item.quantity * prices[item.key] for item in BASKET)
        usd_cost = None
        if not usd_missing:
            usd_cost = sum(item.quantity * (last[item.key][2] or 0.0) for item in BASKET)
        carried = tuple(item.key for item in BASKET if last[item.key][0] != here)
        costed.append(BasketMonth(month, cost, usd_cost, prices, carried, markets, usd_missing))
    baseline = costed[:BASELINE_MONTHS]
    if len(baseline) < BASELINE_MONTHS:
        return BasketSeries(tuple(costed), None, None, None, {})
    base = statistics.median(sorted(b.cost for b in baseline))
    usd_values = sorted(b.usd_cost for b in baseline if b.usd_cost is not None)
    base_usd = statistics.median(usd_values) if len(usd_values) == BASELINE_MONTHS else None
    crossings: dict[str, float] = {}
    level = 1.0
    for costed_month in costed[BASELINE_MONTHS:]:
        ratio = costed_month.cost / base
        reached = [lv for lv in BASKET_LEVELS if ratio >= lv > level]
        if reached:
            level = reached[-1]
            crossings[costed_month.month] = level
    period = f"{baseline[0].month}/{baseline[-1].month}"
    return BasketSeries(tuple(costed), base, base_usd, period, crossings)
