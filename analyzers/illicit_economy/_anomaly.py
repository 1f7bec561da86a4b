"""Price anomalies: a robust z-score of each month's price change (DESIGN.md, "Analysis").

Each series is one market x commodity x unit x price type x currency, in the
local currency the price was recorded in (never WFP's USD conversion: Syria's
exchange rates are contested). The statistic is the **month-on-month log change**
``ln(p_t / p_{t-1})``, scored against that series' own previous changes:

    z = (change - median(history)) / max(MAD_SCALE * MAD(history), MIN_SIGMA)

Why changes and not levels: Syrian prices rose a hundredfold between 2012 and
2023 as the pound collapsed, so a price level scored against its own past is
"anomalous" every month of a devaluation. Subtracting the series' median change
removes that drift; what is left are jumps out of line with the series' usual
month-to-month movement: a market cut off by a siege, a supply seized or taxed
by an armed group, a subsidised good diverted to a parallel market, or a sudden
collapse when hoarded stock is dumped. ``MAD_SCALE * MAD`` estimates a standard
deviation without being moved by the jumps themselves (Iglewicz and Hoaglin's
modified z-score; their threshold is 3.5). ``MIN_SIGMA`` keeps administered
prices (subsidised bread, fixed for months, MAD = 0) from turning a small
adjustment into an infinite z, while a decreed 50 % rise still stands out.

After a gap of up to ``MAX_GAP_MONTHS`` months the change is scored as the
average monthly change over the gap (``ln(p_t / p_{t-k}) / k``), which is
conservative: averaging damps noise, so a gap never makes a change look more
anomalous than it was. Only consecutive months enter the history (averaged
changes would shrink its spread); a longer gap restarts the reference price. A
duplicate or older month leaves the series unchanged (the first price wins).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HISTORY_LIMIT",
    "MAD_SCALE",
    "MAX_GAP_MONTHS",
    "MIN_HISTORY",
    "MIN_SIGMA",
    "Z_CRITICAL",
    "Z_HIGH",
    "Z_THRESHOLD",
    "Anomaly",
    "month_index",
    "robust_z",
    "update_series",
]

#: Previous monthly changes needed before a series is scored (a year of history).
MIN_HISTORY = 12
#: Monthly changes kept per series (three years): bounded state, recent volatility.
HISTORY_LIMIT = 36
#: |robust z| at or above which a change is a finding (Iglewicz and Hoaglin).
Z_THRESHOLD = 3.5
#: |robust z| for level "high" and "critical".
Z_HIGH = 7.0
Z_CRITICAL = 14.0
#: Longest gap (months since the previous price) over which a change is scored.
MAX_GAP_MONTHS = 3
#: Consistency constant: MAD_SCALE * MAD estimates the standard deviation of a normal.
MAD_SCALE = 1.4826
#: Floor of the robust standard deviation of monthly log changes (5 % a month), so
#: that a finding needs a change at least 3.5 x 0.05 = 0.175 (about 19 %) beyond the
#: series' median monthly change. Calibrated on the WFP Syria prices 2011-2023: with
#: a 2 % floor 5.9 % of price reports were flagged, mostly ordinary devaluation
#: months of series that had been stable; with 5 %, 3.5 %.
MIN_SIGMA = 0.05


@dataclass(frozen=True)
class Anomaly:
    """A scored monthly change (whether or not it crosses the threshold)."""

    month: str
    previous_month: str
    gap: int
    price: float
    previous_price: float
    change: float
    z: float
    median: float
    mad: float
    sigma: float
    history: int

    @property
    def percent(self) -> float:
        """The change in percent of the previous price."""
        return (self.price / self.previous_price - 1.0) * 100.0

    @property
    def notable(self) -> bool:
        return abs(self.z) >= Z_THRESHOLD

    @property
    def level(self) -> str:
        size = abs(self.z)
        return "critical" if size >= Z_CRITICAL else "high" if size >= Z_HIGH else "medium"


def month_index(month: str) -> int:
    """``"2016-03"`` -> a month count, so that consecutive months differ by one."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def robust_z(value: float, history: list[float]) -> tuple[float, float, float, float]:
    """(z, median, MAD, sigma) of ``value`` against ``history`` (not empty)."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    sigma = max(MAD_SCALE * mad, MIN_SIGMA)
    return (value - median) / sigma, median, mad, sigma


def update_series(
    series: dict[str, Any] | None, month: str, price: float
) -> tuple[dict[str, Any], Anomaly | None]:
    """The series after a new price, and the scored change (``None`` if not scored).

    ``series`` is the stored JSON value (``None`` for a new series) and is not
    modified; ``price`` must be positive.
    """
    if series is None:
        return {"month": month, "price": price, "changes": []}, None
    gap = month_index(month) - month_index(series["month"])
    if gap <= 0:
        return series, None
    changes = list(series["changes"])
    scored = None
    if gap <= MAX_GAP_MONTHS:
        change = math.log(price / series["price"]) / gap
        if len(changes) >= MIN_HISTORY:
            z, median, mad, sigma = robust_z(change, changes)
            scored = Anomaly(
                month=month,
                previous_month=series["month"],
                gap=gap,
                price=price,
                previous_price=series["price"],
                change=change,
                z=z,
                median=median,
                mad=mad,
                sigma=sigma,
                history=len(changes),
            )
        if gap == 1:
            changes = [*changes, change][-HISTORY_LIMIT:]
    return {"month": month, "price": price, "changes": changes}, scored
