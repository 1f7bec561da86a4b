"""Price series: order-free tallies and what is derived from them per month.

A series is one country x currency x area x market x commodity x unit x price
type. Its tally (:func:`add_price`) keeps, per month, the *set* of distinct prices
received (sorted) and of distinct USD prices: a price received twice counts once,
and the month's price is the median of the set, so the tally is the same in any
order. Everything else is derived from the tally (:func:`derive`), per month:

* ``per_base``: the price per base unit (kg, litre, piece; :mod:`._units`);
* ``local_mismatch``: the price is about 1000 times or 1/1000 of the median of the
  series' other prices within :data:`NEIGHBOUR_MONTHS` months (a kg/tonne mix-up
  inside the series); such a price enters no change;
* ``change``: the log change from the previous priced month within
  :data:`MAX_GAP_MONTHS` months, per month of gap (``ln(p_t / p_{t-k}) / k``);
* ``z``: the robust z of that change against the series' own consecutive-month
  changes of the previous :data:`HISTORY_MONTHS` months (at least
  :data:`MIN_HISTORY`): ``(change - median) / max(MAD_SCALE x MAD, MIN_SIGMA)``
  (Iglewicz and Hoaglin's modified z-score).

The cross-sectional judgement (against the country-month's other commodities)
and the cross-series unit check are made per country-month in
:mod:`._analyzer`, from the derived entries of every series of that month.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from clearinghouse.analyzers.illicit_economy._units import Unit, is_unit_mismatch

__all__ = [
    "CHANGE",
    "HISTORY",
    "HISTORY_MONTHS",
    "LOCAL_MISMATCH",
    "LOCAL_REF",
    "MAD_SCALE",
    "MAX_GAP_MONTHS",
    "MEDIAN",
    "MIN_HISTORY",
    "MIN_SIGMA",
    "NEIGHBOUR_MONTHS",
    "PER_BASE",
    "PREV",
    "PRICE",
    "SIGMA",
    "USD",
    "Z",
    "add_price",
    "derive",
    "month_index",
    "month_of",
    "robust",
]

#: Previous monthly changes needed before a series' change is scored (a year).
MIN_HISTORY = 12
#: Months of the series' own history a change is scored against (three years).
HISTORY_MONTHS = 36
#: Longest gap (months since the previous price) over which a change is computed.
MAX_GAP_MONTHS = 3
#: Months either side whose prices are the series' local reference for unit mix-ups.
NEIGHBOUR_MONTHS = 6
#: Consistency constant: MAD_SCALE * MAD estimates the standard deviation of a normal.
MAD_SCALE = 1.4826
#: Floor of the robust standard deviation of monthly log changes (5 % a month), so
#: that administered prices (MAD 0) do not turn a small adjustment into an infinite z;
#: a finding then needs a change at least 3.5 x 0.05 = 0.175 (about 19 %) beyond the
#: median. Kept from version 1, where it was chosen on the WFP Syria prices.
MIN_SIGMA = 0.05

# Positions in a derived entry (a JSON list, cheap to copy).
PRICE, USD, PER_BASE, CHANGE, Z, PREV, LOCAL_MISMATCH, LOCAL_REF, MEDIAN, SIGMA, HISTORY = range(11)


def month_index(month: str) -> int:
    """``"2016-03"`` -> a month count, so that consecutive months differ by one."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_price(
    series: dict[str, Any] | None, month: str, price: float, usd: float | None
) -> tuple[dict[str, Any], bool]:
    """The tally after one more price (a copy), and whether it changed."""
    out = series or {"p": {}, "u": {}, "d": {}}
    changed = False
    values = out["p"].setdefault(month, [])
    if price not in values:
        values.append(price)
        values.sort()
        changed = True
    if usd is not None:
        dollars = out["u"].setdefault(month, [])
        if usd not in dollars:
            dollars.append(usd)
            dollars.sort()
            changed = True
    return out, changed


def robust(value: float, history: list[float]) -> tuple[float, float, float]:
    """(z, median, sigma) of ``value`` against ``history`` (not empty)."""
    ordered = sorted(history)
    median = statistics.median(ordered)
    mad = statistics.median(sorted(abs(x - median) for x in ordered))
    sigma = max(MAD_SCALE * mad, MIN_SIGMA)
    return (value - median) / sigma, median, sigma


def derive(series: dict[str, Any], unit: Unit) -> dict[str, list[Any]]:
    """Month -> derived entry (see the module), from the tally alone."""
    prices = {
        m: statistics.median(v) for m, v in series["p"].items() if v and statistics.median(v) > 0
    }
    usd = {m: statistics.median(v) for m, v in series["u"].items() if v}
    months = sorted(prices, key=month_index)
    index = {m: month_index(m) for m in months}
    mismatch: dict[str, float | None] = {}
    for i, m in enumerate(months):
        here = index[m]
        near = []
        for j in range(max(0, i - NEIGHBOUR_MONTHS), min(len(months), i + NEIGHBOUR_MONTHS + 1)):
            if j != i and abs(index[months[j]] - here) <= NEIGHBOUR_MONTHS:
                near.append(prices[months[j]])
        near.sort()
        ref = statistics.median(near) if len(near) >= 2 else None
        mismatch[m] = ref if ref is not None and is_unit_mismatch(prices[m], ref) else None
    changes: dict[int, tuple[float | None, str | None, int]] = {}
    previous: str | None = None
    for m in months:
        change: float | None = None
        prev: str | None = None
        gap = 0
        if previous is not None:
            gap = index[m] - index[previous]
            if gap <= MAX_GAP_MONTHS:
                prev = previous
                if mismatch[m] is None and mismatch[previous] is None:
                    change = math.log(prices[m] / prices[previous]) / gap
        changes[index[m]] = (change, prev, gap)
        previous = m
    out: dict[str, list[Any]] = {}
    for m in months:
        here = index[m]
        change, prev, _ = changes[here]
        history = [
            c
            for k in range(here - HISTORY_MONTHS, here)
            if k in changes
            for c, _, g in [changes[k]]
            if c is not None and g == 1
        ]
        z = median = sigma = None
        if change is not None and len(history) >= MIN_HISTORY:
            z, median, sigma = robust(change, history)
        out[m] = [
            prices[m],
            usd.get(m),
            unit.per_base(prices[m]),
            change,
            z,
            prev,
            mismatch[m] is not None,
            mismatch[m],
            median,
            sigma,
            len(history),
        ]
    return out
