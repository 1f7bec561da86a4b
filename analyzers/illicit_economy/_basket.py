"""Livelihood impact: the cost of a staple food basket per area and month, in the
local currency and in US dollars, from order-free tallies, for any country.

**Food groups, not named items.** The basket is the general food ration of WFP and
UNHCR planned at 2,100 kcal per person per day (UNHCR/UNICEF/WFP/WHO, *Food and
Nutrition Needs in Emergencies*, 2002: the 2,100 kcal planning figure; WFP, "The
WFP food basket", wfp.org/nutrition/wfp-foodbasket: 400 g of cereal flour, rice
or bulgur, 60 g of pulses, 25 g of vitamin A fortified oil, 50 g of fortified
blended food, 15 g of sugar and 5 g of iodised salt per person per day). Four of
its groups are priced (:data:`BASKET`): cereals 400 g, pulses 60 g, oil and fats
25 g and sugar 15 g per person per day, for a household of
:data:`HOUSEHOLD_SIZE` people and :data:`DAYS` days: 60 kg, 9 kg, 3.75 kg and
2.25 kg a month. Fortified blended food (not sold in the markets WFP monitors) and
salt (5 g, a negligible cost that many countries' price files do not carry) are
left out.

**Which prices belong to a group** (:func:`food_group`): WFP's ``category`` claim
where it is one of WFP's categories ("cereals and tubers", "pulses and nuts", "oil
and fats", "miscellaneous food", ...), read with the commodity's name: fresh tubers
(potatoes, cassava, yams...) are not cereals (a kg of potatoes has a quarter of the
energy of a kg of grain) unless the name says flour or dried; nuts (groundnuts,
sesame...) are not pulses; in "miscellaneous food" only sugar counts. Without a
WFP category, the commodity's name decides, by words in English, French, Spanish,
Portuguese and transliterated Arabic (mil, sorgho, maïs, riz, blé, farine, niébé,
haricot, lentilles, huile, sucre, arroz, frijol, ruz, adas, sukkar...). Names are
transliterated (``anyascii``), case-folded and split into words; a final "s" is
ignored. Only retail prices in a mass unit count (for oil and fats, a volume unit
too, at :data:`OIL_DENSITY` kg per litre).

**Which commodity stands for a group in an area** (:func:`choose`): the group's
commodity priced (retail) in the most months in the area; ties go to the one
priced in the most distinct (market, month) pairs, then to the first name in
code-point order. Months come first because the basket is a series: a commodity
priced in many markets but with a gap of a year would leave the basket uncosted
for that year (in Damascus, white beans are priced in more market-months than
lentils but not from 2015-10 to 2016-07). The most observed commodity is the
staple the monitoring itself treats as the main one there (millet or sorghum in
the Sahel, wheat flour or rice in Syria), and one commodity per group keeps the
series' composition fixed: a median across a changing set of commodities would
move with whichever were priced that month. The choice is a function of the set
of prices held, so it can change as prices arrive; the area's basket is then
derived again, and its findings change or are withdrawn.

**Cost.** An area-month's group price is the **median across the area's markets**
of each market's price per kg (a market's own price is the median of the distinct
prices it reported that month). The USD cost is the same computation on WFP's
``usd_price`` (``market-price/1`` discloses it to undp). Where a group has no USD
price in a month, the USD cost of that month is absent and the summary says so; it
is never filled in from an exchange rate the analyzer would have to choose.

The cost is compared with the area's own earliest level: the median cost of its
first :data:`BASELINE_MONTHS` costed months (the earliest *observed* level: in
Syria, already after 2011). A finding is made for each month in which the ratio
first reaches one of :data:`BASKET_LEVELS` (the highest level first reached that
month). This is a measure of livelihood pressure, not an anomaly: in local
currency it includes inflation on purpose (households earn the local currency),
and the USD cost and ratio beside it show how much of the rise is the currency.
A month whose group price is about 1000 times or 1/1000 of the group's neighbouring
months (a unit mix-up, :mod:`._units`) counts as missing for that group. A group
missing in a month is carried forward from up to :data:`CARRY_FORWARD_MONTHS`
months before; otherwise the month is not costed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from anyascii import anyascii

from clearinghouse.analyzers.illicit_economy._series import NEIGHBOUR_MONTHS, month_index
from clearinghouse.analyzers.illicit_economy._units import Unit, is_unit_mismatch, parse_unit

__all__ = [
    "BASELINE_MONTHS",
    "BASKET",
    "BASKET_LEVELS",
    "BASKET_PRICE_TYPE",
    "CARRY_FORWARD_MONTHS",
    "DAYS",
    "HOUSEHOLD_SIZE",
    "OIL_DENSITY",
    "WFP_CATEGORIES",
    "BasketMonth",
    "BasketSeries",
    "FoodGroup",
    "add_basket_price",
    "basket_group",
    "choose",
    "coverage",
    "derive_basket",
    "food_group",
]

#: People in the household the basket feeds, and days in its month (WFP's usual
#: planning household and a 30-day month).
HOUSEHOLD_SIZE = 5
DAYS = 30
#: kg per litre of vegetable oil: relative densities of 0.91 to 0.93 at 20 degC for the
#: common edible oils (Codex Alimentarius, Standard for Named Vegetable Oils, CXS
#: 210-1999, table of relative densities).
OIL_DENSITY = 0.92

#: WFP's commodity categories (the ``category`` column and ``#item+type`` of WFP's
#: price files on HDX).
WFP_CATEGORIES = frozenset(
    {
        "cereals and tubers",
        "pulses and nuts",
        "oil and fats",
        "miscellaneous food",
        "vegetables and fruits",
        "meat, fish and eggs",
        "milk and dairy",
        "non-food",
    }
)

_WORD = re.compile(r"[a-z]+")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _words(text: str) -> frozenset[str]:
    """Transliterated, case-folded words, a final "s" ignored: "Maïs (blanc)" -> mai, blanc."""
    return frozenset(_stem(w) for w in _WORD.findall(anyascii(text).casefold()))


@dataclass(frozen=True)
class FoodGroup:
    """A group of the ration: ``grams`` per person per day; the WFP ``category`` it is
    recognised by (``needs_word``: only names holding one of ``words`` in it), the
    ``words`` that recognise it by name alone, and the ``excluded`` words (unless
    one of ``excused`` is there too)."""

    key: str
    label: str
    grams: float
    category: str
    needs_word: bool
    words: frozenset[str]
    excluded: frozenset[str] = frozenset()
    excused: frozenset[str] = frozenset()
    volume: bool = False

    @property
    def quantity(self) -> float:
        """kg for :data:`HOUSEHOLD_SIZE` people and :data:`DAYS` days."""
        return self.grams * HOUSEHOLD_SIZE * DAYS / 1000.0

    def holds(self, words: frozenset[str], by_name: bool) -> bool:
        if (by_name or self.needs_word) and not words & self.words:
            return False
        return not (words & self.excluded) or bool(words & self.excused)

    def kilograms(self, unit: Unit) -> float | None:
        """kg in one ``unit``, or None when it is neither mass nor (oil) volume."""
        if unit.dimension == "mass":
            return unit.quantity
        if unit.dimension == "volume" and self.volume:
            return unit.quantity * OIL_DENSITY
        return None


_TUBERS = _words(
    "potato potatoes pomme terre patate batata papa cassava manioc mandioca yuca yam yams "
    "igname taro cocoyam macabo plantain"
)
_TUBER_EXCUSED = _words(
    "flour farine harina farinha meal gari garri attieke cossette dry dried sec seche"
)
_NUTS = _words(
    "peanut groundnut arachide cacahuete mani amendoim nut noix cashew cajou almond amande "
    "walnut hazelnut pistachio sesame sesamo"
)

#: The priced groups of the ration, in the order of the explanation.
BASKET: tuple[FoodGroup, ...] = (
    FoodGroup(
        "cereals",
        "cereals",
        400.0,
        "cereals and tubers",
        False,
        _words(
            "millet mil sorghum sorgho sorgo maize mais maiz milho corn rice riz arroz paddy "
            "wheat ble trigo flour farine harina farinha bread pain pan bulgur burghul teff "
            "fonio barley orge cebada oat avoine pasta spaghetti macaroni semolina semoule "
            "couscous mijo ruz khubz taheen"
        ),
        _TUBERS,
        _TUBER_EXCUSED,
    ),
    FoodGroup(
        "pulses",
        "pulses",
        60.0,
        "pulses and nuts",
        False,
        _words(
            "bean lentil chickpea pea cowpea soybean soya soja niebe haricot lentille pois "
            "dolique feve frijol lenteja garbanzo feijao ervilha grao dal dhal fasolia "
            "fasoulia adas hummus"
        ),
        _NUTS,
    ),
    FoodGroup(
        "oil",
        "oil and fats",
        25.0,
        "oil and fats",
        False,
        _words("oil huile aceite oleo azeite ghee zeit zayt"),
        _words(
            "fuel diesel kerosene petrol petrole gasoline gasoil carburant essence engine "
            "motor lubricant lamp"
        ),
        volume=True,
    ),
    FoodGroup(
        "sugar",
        "sugar",
        15.0,
        "miscellaneous food",
        True,
        _words("sugar sucre azucar acucar sukkar sukar"),
    ),
)
BASKET_PRICE_TYPE = "Retail"
#: Costed months whose median cost is the area's baseline.
BASELINE_MONTHS = 6
#: How many months a group's last price may stand in for a missing one.
CARRY_FORWARD_MONTHS = 2
#: Ratios to the baseline whose first reaching is a finding.
BASKET_LEVELS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)


@lru_cache(maxsize=4096)
def food_group(category: str | None, commodity: str) -> FoodGroup | None:
    """The ration group a commodity belongs to, or ``None`` (see the module)."""
    words = _words(commodity)
    known = " ".join((category or "").casefold().split())
    if known in WFP_CATEGORIES:
        for group in BASKET:
            if group.category == known and group.holds(words, by_name=False):
                return group
        return None
    for group in (BASKET[2], BASKET[3], BASKET[1], BASKET[0]):  # "peanut oil" is oil
        if group.holds(words, by_name=True):
            return group
    return None


def basket_group(
    category: str | None, commodity: str, unit: str, price_type: str | None
) -> tuple[FoodGroup, float] | None:
    """The group of a price that enters the basket and the kg in its unit, or ``None``."""
    if price_type != BASKET_PRICE_TYPE:
        return None
    group = food_group(category, commodity)
    if group is None:
        return None
    kilograms = group.kilograms(parse_unit(unit))
    return None if kilograms is None else (group, kilograms)


def add_basket_price(
    tally: dict[str, Any] | None, month: str, market: str, per_kg: float, usd: float | None
) -> tuple[dict[str, Any], bool]:
    """``{month: {market: [[per-kg prices], [per-kg USD prices]]}}`` after one more."""
    out = tally or {}
    cell = out.setdefault(month, {}).setdefault(market, [[], []])
    changed = False
    for values, value in ((cell[0], per_kg), (cell[1], usd)):
        if value is not None and value not in values:
            values.append(value)
            values.sort()
            changed = True
    return out, changed


def coverage(tally: Mapping[str, Mapping[str, Any]]) -> list[int]:
    """[months, distinct (market, month) pairs] priced in a commodity's tally."""
    return [len(tally), sum(len(markets) for markets in tally.values())]


def choose(candidates: Mapping[str, Sequence[int]]) -> str | None:
    """The commodity priced in the most months; ties: in the most (market, month)
    pairs, then the first name (code-point order)."""
    if not candidates:
        return None
    return min(candidates, key=lambda name: (-candidates[name][0], -candidates[name][1], name))


@dataclass(frozen=True)
class BasketMonth:
    month: str
    cost: float
    usd_cost: float | None
    prices: Mapping[str, float]  # group key -> price per kg
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
    chosen: Mapping[str, str]  # group key -> the commodity that stands for it
    missing: tuple[str, ...]  # group keys with no commodity priced in the area

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
    """Month -> (area price, area USD price, markets) of one commodity, without the
    months whose price is a unit mix-up (about 1000 times or 1/1000 of the median of
    its other months within :data:`NEIGHBOUR_MONTHS`): such a month is missing."""
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


def derive_basket(
    tallies: Mapping[str, Mapping[str, Any]], chosen: Mapping[str, str]
) -> BasketSeries:
    """The area's basket series from the tallies of the chosen commodities (group key ->
    tally) and the choice (group key -> commodity)."""
    missing = tuple(group.key for group in BASKET if group.key not in chosen)
    if missing:
        return BasketSeries((), None, None, None, {}, dict(chosen), missing)
    items = {group.key: _item_months(tallies.get(group.key, {})) for group in BASKET}
    months = sorted({m for t in items.values() for m in t}, key=month_index)
    last: dict[str, tuple[int, float, float | None]] = {}
    costed: list[BasketMonth] = []
    for month in months:
        here = month_index(month)
        markets = 0
        for group in BASKET:
            found = items[group.key].get(month)
            if found is not None:
                last[group.key] = (here, found[0], found[1])
                markets = max(markets, found[2])
        if not markets:
            continue
        if any(
            group.key not in last or here - last[group.key][0] > CARRY_FORWARD_MONTHS
            for group in BASKET
        ):
            continue
        prices = {group.key: last[group.key][1] for group in BASKET}
        usd_missing = tuple(group.key for group in BASKET if last[group.key][2] is None)
        cost = sum(group.quantity * prices[group.key] for group in BASKET)
        usd_cost = None
        if not usd_missing:
            usd_cost = sum(group.quantity * (last[group.key][2] or 0.0) for group in BASKET)
        carried = tuple(group.key for group in BASKET if last[group.key][0] != here)
        costed.append(BasketMonth(month, cost, usd_cost, prices, carried, markets, usd_missing))
    baseline = costed[:BASELINE_MONTHS]
    if len(baseline) < BASELINE_MONTHS:
        return BasketSeries(tuple(costed), None, None, None, {}, dict(chosen), ())
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
    return BasketSeries(tuple(costed), base, base_usd, period, crossings, dict(chosen), ())
