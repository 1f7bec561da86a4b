"""The findings of the illicit-economy analyzer, with their explanations in words.

Each explanation states the figures, the statistic and the threshold that made
the finding, and the conflict intensity of the same governorate-month as known
when the finding was made (conflict views may still arrive later; the summary's
joined series is the up-to-date picture).
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzers.base import Finding
from analyzers.illicit_economy._anomaly import MAD_SCALE, MIN_SIGMA, Z_THRESHOLD, Anomaly
from analyzers.illicit_economy._basket import (
    BASELINE_MONTHS,
    BASKET,
    BASKET_LEVELS,
    CARRY_FORWARD_MONTHS,
    BasketMonth,
)
from analyzers.illicit_economy._names import ucdp_area

__all__ = [
    "ANOMALY_KIND",
    "BASKET_KIND",
    "Conflict",
    "PriceSeries",
    "anomaly_finding",
    "basket_finding",
    "basket_level",
    "number",
]

ANOMALY_KIND = "price-anomaly"
BASKET_KIND = "basket-cost-level"


@dataclass(frozen=True)
class PriceSeries:
    """What identifies a price series, as the view disclosed it."""

    country: str | None
    admin1: str | None
    market: str
    commodity: str
    unit: str
    price_type: str | None
    currency: str

    @property
    def subject(self) -> str:
        where = f"{self.market} ({self.admin1})" if self.admin1 else self.market
        kind = f", {self.price_type}" if self.price_type else ""
        return f"{where}: {self.commodity}, {self.unit}{kind}"


@dataclass(frozen=True)
class Conflict:
    """Conflict intensity joined to a governorate-month.

    ``area`` is None when the governorate has no UCDP mapping; ``span`` the first
    and last month of conflict data received so far (None: none yet). Inside the
    span a month without events counts zero; outside it, intensity is unknown.
    """

    area: str | None
    month: str
    events: int = 0
    fatality_index: float = 0.0
    span: tuple[str, str] | None = None

    @property
    def covered(self) -> bool:
        return self.span is not None and self.span[0] <= self.month <= self.span[1]

    def indicators(self) -> dict[str, float | int | str]:
        if self.area is None:
            return {}
        if not self.covered:
            return {"conflict_admin1": self.area, "conflict_data": "none for this month"}
        return {
            "conflict_admin1": self.area,
            "conflict_events": self.events,
            "conflict_fatality_index": self.fatality_index,
        }

    def sentence(self, admin1: str | None) -> str:
        if self.area is None:
            return f"No conflict data is joined: governorate {admin1!r} has no UCDP mapping."
        if self.span is None:
            return f"No conflict data received yet to join for {self.area} in {self.month}."
        if not self.covered:
            return (
                f"Conflict intensity for {self.area} in {self.month} is unknown: the conflict "
                f"data received so far covers {self.span[0]} to {self.span[1]}."
            )
        return (
            f"Conflict in {self.area} in {self.month} (events received so far): "
            f"{self.events} events, fatality index {self.fatality_index:,.0f}."
        )


def number(value: float) -> str:
    """A figure for an explanation: thousands separated, two decimals below 100."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def basket_level(ratio: float) -> str:
    """Qualitative level of a basket ratio."""
    if ratio >= 50:
        return "critical"
    if ratio >= 10:
        return "high"
    return "medium" if ratio >= 5 else "low"


def anomaly_finding(series: PriceSeries, anomaly: Anomaly, conflict: Conflict) -> Finding:
    direction = "rose" if anomaly.price >= anomaly.previous_price else "fell"
    side = "above" if anomaly.z >= 0 else "below"
    change = "month-on-month log change"
    if anomaly.gap > 1:
        change = f"average monthly log change over {anomaly.gap} months"
    explanation = (
        f"{series.price_type or 'The'} price of {series.commodity} ({series.unit}) at "
        f"{series.market}{f' ({series.admin1})' if series.admin1 else ''} {direction} "
        f"{abs(anomaly.percent):.1f}% from {number(anomaly.previous_price)} {series.currency} "
        f"in {anomaly.previous_month} to {number(anomaly.price)} {series.currency} in "
        f"{anomaly.month}. The {change}, {anomaly.change:.3f}, is {abs(anomaly.z):.1f} robust "
        f"standard deviations {side} the median of the series' previous {anomaly.history} "
        f"monthly changes ({anomaly.median:.3f}; MAD {anomaly.mad:.3f}, "
        f"sigma = max({MAD_SCALE} x MAD, {MIN_SIGMA}) = {anomaly.sigma:.3f}); findings are "
        f"made at |z| >= {Z_THRESHOLD}. {conflict.sentence(series.admin1)}"
    )
    indicators: dict[str, float | int | str] = {
        "price": anomaly.price,
        "previous_price": anomaly.previous_price,
        "previous_month": anomaly.previous_month,
        "currency": series.currency,
        "change_pct": round(anomaly.percent, 2),
        "log_change": round(anomaly.change, 4),
        "gap_months": anomaly.gap,
        "robust_z": round(anomaly.z, 2),
        "median_change": round(anomaly.median, 4),
        "mad": round(anomaly.mad, 4),
        "sigma": round(anomaly.sigma, 4),
        "history": anomaly.history,
        "z_threshold": Z_THRESHOLD,
        **conflict.indicators(),
    }
    country, admin1 = _where(series.country, series.admin1)
    return Finding(
        kind=ANOMALY_KIND,
        subject=series.subject,
        explanation=explanation,
        level=anomaly.level,
        score=round(abs(anomaly.z), 2),
        country=country,
        admin1=admin1,
        area=series.admin1,
        period=anomaly.month,
        indicators=indicators,
    )


def _basket_words() -> str:
    """``"37 kg Bread (bakery), ..., 7 L Oil"``: quantities are in kg, or litres for "L"."""
    return ", ".join(
        f"{item.quantity:g} {'L' if item.unit == 'L' else 'kg'} {item.commodity}" for item in BASKET
    )


def basket_finding(
    country: str | None, admin1: str, currency: str, basket: BasketMonth, conflict: Conflict
) -> Finding:
    ratio = basket.ratio or 0.0
    baseline = basket.baseline_cost or 0.0
    levels = ", ".join(f"{level:g}x" for level in BASKET_LEVELS)
    carried = ""
    if basket.carried:
        carried = (
            f" Carried forward from up to {CARRY_FORWARD_MONTHS} months earlier: "
            f"{', '.join(basket.carried)}."
        )
    explanation = (
        f"In {admin1}, the monthly staple basket ({_basket_words()}; each at the median "
        f"retail price across the governorate's markets, {basket.markets} markets reporting) "
        f"cost {number(basket.cost)} {currency} in {basket.month}, {ratio:.2f} times its "
        f"baseline of {number(baseline)} {currency} (median of the first {BASELINE_MONTHS} "
        f"complete baskets, {basket.baseline_period}). It crossed the {basket.crossed:g}x "
        f"level for the first time (levels: {levels}).{carried} "
        f"{conflict.sentence(admin1)}"
    )
    indicators: dict[str, float | int | str] = {
        "basket_cost": round(basket.cost, 2),
        "baseline_cost": round(baseline, 2),
        "baseline_period": basket.baseline_period or "",
        "ratio": round(ratio, 3),
        "level_crossed": basket.crossed or 0.0,
        "currency": currency,
        "markets": basket.markets,
        "items_carried_forward": len(basket.carried),
        **{f"price_{item.key}": round(basket.prices[item.commodity], 2) for item in BASKET},
        **conflict.indicators(),
    }
    ucdp_country, ucdp_admin1 = _where(country, admin1)
    return Finding(
        kind=BASKET_KIND,
        subject=f"{admin1}: staple food basket",
        explanation=explanation,
        level=basket_level(ratio),
        score=round(ratio, 3),
        country=ucdp_country,
        admin1=ucdp_admin1,
        area=admin1,
        period=basket.month,
        indicators=indicators,
    )


def _where(country: str | None, admin1: str | None) -> tuple[str | None, str | None]:
    """Country and admin1 as UCDP names them, so that findings of the security and
    economy analyzers about one governorate meet in the situation view (the WFP name
    stays in ``area``)."""
    mapped = ucdp_area(country, admin1) if admin1 else None
    return mapped if mapped else (country, admin1)
