"""The UNDP illicit-economy analyzer (DESIGN.md, "Analysis"; seed paper, "Towards
Integrated Analytical Capacity": each body runs a predetermined analysis on the
shared data and shares the results).

Why these are signals of black-market activity. The seed paper describes how
criminal economies live off conflict: sieges and sanctions create "a siege
economy, inflating local prices and profits, rewarding ... those with close ties
to black marketers"; subsidised and relief goods are diverted and resold
("misappropriated food aid", skimmed fuel); and where incomes collapse, black
markets become "survival strategies" and crime a livelihood. Prices show all
three. A market's price jumping far out of line with its own usual monthly
movement (:mod:`._anomaly`) marks a market cut off, taxed at checkpoints, or fed
by diverted stock; its fall when a siege lifts marks the rent that had been
extracted. The cost of a staple basket against its earliest level
(:mod:`._basket`) measures the livelihood pressure that pushes households into
the parallel economy. Both are joined with conflict intensity in the same
governorate and month (:mod:`._conflict`), since UNDP sees where and when
fighting was, and how deadly, but not who fought.

State keys (JSON values; a view reads and writes a handful):

* ``series:<country>|<admin1>|<market>|<commodity>|<unit>|<price type>|<currency>``
  one price series (last price and month, last ``HISTORY_LIMIT`` changes);
* ``open:<country>|<admin1>`` the governorate's open months (basket prices per
  market) and the last closed month; ``basket:<country>|<admin1>`` its carried
  item medians, baseline, highest level reached and monthly costs;
* ``conflict:<country>|<adm_1>|<month>`` events and fatality index;
  ``conflict-span`` the first and last month of conflict data seen;
* ``top-anomalies`` the largest anomalies found; ``counts`` views, findings, and
  views skipped (prices too late for their month's basket, events without a
  month or area).
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.illicit_economy._anomaly import month_index, update_series
from analyzers.illicit_economy._basket import (
    LATE_MONTHS,
    basket_item,
    close_month,
    new_governorate,
)
from analyzers.illicit_economy._conflict import add_event, intensity
from analyzers.illicit_economy._explain import (
    Conflict,
    PriceSeries,
    anomaly_finding,
    basket_finding,
)
from analyzers.illicit_economy._names import conflict_area, ucdp_area
from analyzers.illicit_economy._summary import summarise
from analyzers.state import State

__all__ = ["CONFLICT_SCHEMA", "PRICE_SCHEMA", "TOP_ANOMALIES", "IllicitEconomyAnalyzer"]

PRICE_SCHEMA = "market-price/1"
CONFLICT_SCHEMA = "conflict-event/1"
#: Anomalies kept for the summary, largest |z| first.
TOP_ANOMALIES = 20

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class IllicitEconomyAnalyzer:
    """Market-price anomalies and staple-basket levels, joined with conflict intensity."""

    id: ClassVar[str] = "undp.illicit-economy"
    version: ClassVar[str] = "1.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({PRICE_SCHEMA, CONFLICT_SCHEMA})

    def analyze(self, view: View, state: State) -> list[Finding]:
        """Findings of one view (usually none); never raises on absent or odd claims."""
        if view.schema == PRICE_SCHEMA:
            findings, late = _on_price(view, state)
        elif view.schema == CONFLICT_SCHEMA:
            findings, late = [], _on_event(view, state)
        else:
            return []
        _count(state, view.schema, findings, late)
        return findings

    def summary(self, state: State) -> dict[str, Any]:
        """Latest basket ratios, largest anomalies and joined series (JSON)."""
        return summarise(state, analyzer_id=self.id, version=self.version)


def _on_price(view: View, state: State) -> tuple[list[Finding], bool]:
    month = _month(view, "date")
    if month is None:
        return [], False
    country, admin1 = _text(view, "country_code"), _text(view, "admin1")
    market, commodity, unit = _text(view, "market"), _text(view, "commodity"), _text(view, "unit")
    currency, price = _text(view, "currency"), _number(view, "price")
    findings: list[Finding] = []
    series = None
    if market and commodity and unit and currency and price is not None and price > 0:
        series = PriceSeries(
            country, admin1, market, commodity, unit, _text(view, "price_type"), currency
        )
        parts = (country, admin1, market, commodity, unit, series.price_type, currency)
        key = "series:" + "|".join(part or "-" for part in parts)
        stored = state.get(key)
        updated, anomaly = update_series(stored, month, price)
        if updated is not stored:
            state[key] = updated
        if anomaly is not None and anomaly.notable:
            finding = anomaly_finding(series, anomaly, _conflict(state, country, admin1, month))
            findings.append(finding)
            _remember(state, finding)
    if admin1 is None:
        return findings, False
    basket, late = _on_basket(state, month, country, admin1, series, price)
    return findings + basket, late


def _on_basket(
    state: State,
    month: str,
    country: str | None,
    admin1: str,
    series: PriceSeries | None,
    price: float | None,
) -> tuple[list[Finding], bool]:
    """Add a price to its governorate's open month; close the months now complete."""
    key = f"open:{country or '-'}|{admin1}"
    open_ = state.get(key) or {"closed": None, "currency": None, "months": {}}
    if open_["closed"] is not None and month <= open_["closed"]:
        return [], True
    months = open_["months"]
    changed = month not in months
    months.setdefault(month, {})
    item = None if series is None else basket_item(series.commodity, series.unit, series.price_type)
    if item is not None and series is not None and price is not None:
        open_["currency"] = open_["currency"] or series.currency
        if series.currency == open_["currency"]:
            months[month].setdefault(item.commodity, {})[series.market] = price
            changed = True
    due = sorted(m for m in months if month_index(m) < month_index(month) - LATE_MONTHS)
    findings = []
    if due:
        gkey = f"basket:{country or '-'}|{admin1}"
        governorate = state.get(gkey) or new_governorate()
        for closing in due:
            governorate, basket = close_month(governorate, closing, months.pop(closing))
            open_["closed"] = closing
            if basket is not None and basket.crossed is not None:
                conflict = _conflict(state, country, admin1, closing)
                currency = open_["currency"] or "-"
                findings.append(basket_finding(country, admin1, currency, basket, conflict))
        governorate["currency"] = open_["currency"]
        state[gkey] = governorate
        changed = True
    if changed:
        state[key] = open_
    return findings, False


def _on_event(view: View, state: State) -> bool:
    """Count one conflict event in its area-month; True when it could not be placed."""
    month = _month(view, "date_start")
    admin1 = _text(view, "admin1")
    if month is None or admin1 is None:
        return True
    country = _text(view, "country") or "-"
    key = f"conflict:{country}|{conflict_area(admin1)}|{month}"
    violence = view.get("type_of_violence")
    if isinstance(violence, bool) or not isinstance(violence, int):
        violence = None
    band = view.get("fatality_band")
    state[key] = add_event(state.get(key), violence, band if isinstance(band, str) else None)
    span = state.get("conflict-span")
    if span is None or month < span[0] or month > span[1]:
        state["conflict-span"] = [min(month, *(span or [month])), max(month, *(span or [month]))]
    return False


def _conflict(state: State, country: str | None, admin1: str | None, month: str) -> Conflict:
    joined = None if admin1 is None else ucdp_area(country, admin1)
    if joined is None:
        return Conflict(None, month)
    events, fatality = intensity(state.get(f"conflict:{joined[0]}|{joined[1]}|{month}"))
    span = state.get("conflict-span")
    covers = None if span is None else (span[0], span[1])
    return Conflict(joined[1], month, events, fatality, covers)


def _remember(state: State, finding: Finding) -> None:
    """Keep the ``TOP_ANOMALIES`` largest anomalies (by |z|; ties by period, subject)."""
    entry = {
        "subject": finding.subject,
        "admin1": finding.admin1,
        "period": finding.period,
        "robust_z": finding.indicators["robust_z"],
        "change_pct": finding.indicators["change_pct"],
        "price": finding.indicators["price"],
        "previous_price": finding.indicators["previous_price"],
        "currency": finding.indicators["currency"],
    }
    top = [*state.get("top-anomalies", []), entry]
    top.sort(key=lambda e: (-abs(e["robust_z"]), e["period"], e["subject"]))
    state["top-anomalies"] = top[:TOP_ANOMALIES]


def _count(state: State, schema: str, findings: list[Finding], skipped: bool) -> None:
    counts = state.get("counts") or {"views": {}, "skipped": {}, "findings": {}}
    counts["views"][schema] = counts["views"].get(schema, 0) + 1
    if skipped:
        counts["skipped"][schema] = counts["skipped"].get(schema, 0) + 1
    if findings:
        counts["views_with_findings"] = counts.get("views_with_findings", 0) + 1
    for finding in findings:
        counts["findings"][finding.kind] = counts["findings"].get(finding.kind, 0) + 1
    state["counts"] = counts


def _text(view: View, name: str) -> str | None:
    value = view.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _number(view: View, name: str) -> float | None:
    value = view.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _month(view: View, date_claim: str) -> str | None:
    """``YYYY-MM`` from the ``month`` claim, or from the ISO date in ``date_claim``."""
    for value in (view.get("month"), view.get(date_claim)):
        if isinstance(value, str) and _MONTH.match(value[:7]) and len(value) in (7, 10):
            return value[:7]
    return None
