"""Livelihood impact: the cost of a staple food basket per governorate and month.

The basket follows the items of WFP Syria's standard reference food basket, for
a household of five for one month; the quantities are this analyzer's stated
assumption (:data:`BASKET`). Its cost in a governorate and month is the sum of
quantity x the **median retail price across the governorate's markets** that
month (the median, so that one besieged or mis-recorded market does not set the
governorate's cost; single markets are the anomaly detector's business).

The cost is compared with the governorate's own earliest level: the median cost
of its first ``BASELINE_MONTHS`` complete baskets. WFP's Syrian series begin in
April 2011 in Aleppo and mostly in 2012-2013 elsewhere, so the baseline is the
earliest *observed* level, already after the uprising began: ratios understate
the change since before the war. A finding is made when the ratio first reaches
one of ``BASKET_LEVELS`` (upward crossings of a level not reached before; one
finding per level and governorate): a basket costing 2, 5, 10 ... times what it
did is a household that buys less food, sells assets, borrows, or turns to the
parallel and criminal economy for income and goods (seed paper: "survival
strategies", "siege economy ... inflating local prices and profits").

Prices arrive one record at a time and roughly in month order, so a month stays
open until a price ``LATE_MONTHS + 1`` months later arrives for the governorate
(one month of late records is tolerated; later ones are ignored and counted).
An item missing in a month is carried forward from the previous
``CARRY_FORWARD_MONTHS`` months; a basket with an item older than that is not
costed.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzers.illicit_economy._anomaly import month_index

__all__ = [
    "BASELINE_MONTHS",
    "BASKET",
    "BASKET_LEVELS",
    "BASKET_PRICE_TYPE",
    "CARRY_FORWARD_MONTHS",
    "LATE_MONTHS",
    "SERIES_LIMIT",
    "BasketItem",
    "BasketMonth",
    "baseline_period",
    "basket_item",
    "close_month",
    "new_governorate",
]


@dataclass(frozen=True)
class BasketItem:
    """``quantity`` of ``commodity`` per basket, priced per ``unit`` of ``unit_size``.

    ``key`` names the item in finding indicators (``price_<key>``).
    """

    key: str
    commodity: str
    unit: str
    quantity: float
    unit_size: float = 1.0

    def cost(self, price: float) -> float:
        return price / self.unit_size * self.quantity


#: The staple basket: WFP commodity names and units as in the Syrian price data.
BASKET: tuple[BasketItem, ...] = (
    BasketItem("bread", "Bread (bakery)", "1.1 KG", 37.0, 1.1),  # 37 kg, per 1.1 kg bundle
    BasketItem("rice", "Rice", "KG", 19.0),
    BasketItem("lentils", "Lentils", "KG", 19.0),
    BasketItem("sugar", "Sugar", "KG", 5.0),
    BasketItem("oil", "Oil", "L", 7.0),
)
BASKET_PRICE_TYPE = "Retail"
#: Complete baskets whose median cost is the governorate's baseline.
BASELINE_MONTHS = 6
#: How many months an item's last governorate median may stand in for a missing one.
CARRY_FORWARD_MONTHS = 2
#: Months a governorate-month stays open for late records after a newer month starts.
LATE_MONTHS = 1
#: Ratios to the baseline whose first upward crossing is a finding.
BASKET_LEVELS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)
#: Monthly costs kept per governorate (twenty years).
SERIES_LIMIT = 240

_ITEMS = {(item.commodity, item.unit): item for item in BASKET}


@dataclass(frozen=True)
class BasketMonth:
    """A costed basket of one governorate-month, and the level it crossed, if any."""

    month: str
    cost: float
    prices: Mapping[str, float]
    carried: tuple[str, ...]
    markets: int
    baseline_cost: float | None
    baseline_period: str | None
    crossed: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_cost is None else self.cost / self.baseline_cost


def basket_item(commodity: str, unit: str, price_type: str | None) -> BasketItem | None:
    """The basket item a price is for, or ``None``."""
    if price_type != BASKET_PRICE_TYPE:
        return None
    return _ITEMS.get((commodity, unit))


def new_governorate() -> dict[str, Any]:
    """The stored state of a governorate before its first closed month."""
    return {"last": {}, "baseline": [], "baseline_cost": None, "level": 1.0, "series": []}


def close_month(
    governorate: dict[str, Any], month: str, prices: Mapping[str, Mapping[str, float]]
) -> tuple[dict[str, Any], BasketMonth | None]:
    """The governorate's state after closing ``month``, and its costed basket if complete.

    ``prices`` is commodity -> market -> price for the month (basket items only).
    ``governorate`` (stored JSON) is not modified.
    """
    state = {
        "last": dict(governorate["last"]),
        "baseline": list(governorate["baseline"]),
        "baseline_cost": governorate["baseline_cost"],
        "level": governorate["level"],
        "series": list(governorate["series"]),
    }
    markets: set[str] = set()
    for commodity in sorted(prices):
        by_market = prices[commodity]
        if by_market:
            state["last"][commodity] = [month, statistics.median(by_market.values())]
            markets.update(by_market)
    if not markets:
        return state, None
    here = month_index(month)
    item_prices: dict[str, float] = {}
    carried: list[str] = []
    for item in BASKET:
        last = state["last"].get(item.commodity)
        if last is None or here - month_index(last[0]) > CARRY_FORWARD_MONTHS:
            return state, None
        item_prices[item.commodity] = last[1]
        if last[0] != month:
            carried.append(item.commodity)
    cost = sum(item.cost(item_prices[item.commodity]) for item in BASKET)
    state["series"] = [*state["series"], [month, cost]][-SERIES_LIMIT:]
    crossed = None
    if state["baseline_cost"] is None:
        state["baseline"].append([month, cost])
        if len(state["baseline"]) >= BASELINE_MONTHS:
            state["baseline_cost"] = statistics.median(c for _, c in state["baseline"])
    else:
        ratio = cost / state["baseline_cost"]
        reached = [level for level in BASKET_LEVELS if ratio >= level > state["level"]]
        if reached:
            crossed = reached[-1]
            state["level"] = crossed
    return state, BasketMonth(
        month=month,
        cost=cost,
        prices=item_prices,
        carried=tuple(carried),
        markets=len(markets),
        baseline_cost=state["baseline_cost"],
        baseline_period=baseline_period(state),
        crossed=crossed,
    )


def baseline_period(governorate: Mapping[str, Any]) -> str | None:
    """``"2012-07/2013-02"``: the months of the baseline, once it is complete."""
    if governorate["baseline_cost"] is None or not governorate["baseline"]:
        return None
    return f"{governorate['baseline'][0][0]}/{governorate['baseline'][-1][0]}"
