"""Deriving the illicit-economy analyzer's findings from its tallies alone.

Price anomalies and unit mix-ups of a country-month, the staple basket of an area,
and the conflict indicators of a price area-month (see :mod:`._analyzer` for the
rules and their thresholds).
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from clearinghouse.analyzers.base import Finding
from clearinghouse.analyzers.illicit_economy import _series as S
from clearinghouse.analyzers.illicit_economy._absorb import covered, join_of, label
from clearinghouse.analyzers.illicit_economy._basket import (
    BASKET,
    HOUSEHOLD_SIZE,
    BasketSeries,
    choose,
    derive_basket,
)
from clearinghouse.analyzers.illicit_economy._names import (
    FATALITY_INDEX,
    Join,
)
from clearinghouse.analyzers.illicit_economy._units import is_unit_mismatch, parse_unit
from clearinghouse.analyzers.state import State

ANOMALY_KIND = "price-anomaly"
MISMATCH_KIND = "unit-mismatch"
BASKET_KIND = "basket-cost-level"
#: |robust z| at or above which a change is anomalous (Iglewicz and Hoaglin, 1993).
Z_THRESHOLD = 3.5
#: The smaller of the two |z| for level "high" and "critical" (2x and 4x the threshold).
Z_HIGH = 7.0
Z_CRITICAL = 14.0
#: Series changes a country-month needs before its median change can stand for the
#: general movement of prices (below it, no anomaly is judged that month).
MIN_CROSS = 5
#: Prices of one commodity and dimension in a country-month needed for the
#: cross-series unit check (the median of three is robust to one mix-up).
MIN_UNIT_PEERS = 3

#: Position, in an ``xs`` entry, of the commodity and dimension ("Rice|mass").
GROUP = S.HISTORY + 1


def derive(state: State, scope: str) -> list[Finding]:
    kind, country, currency, rest = scope.split("|", 3)
    if kind == "prices":
        return _price_findings(state, country, currency, rest)
    return _basket_findings(state, country, currency, rest)


def conflict_in(
    state: State, country: str, area: str, month: str, join: Join
) -> dict[str, float | int | str]:
    """Conflict indicators of a price area-month (empty when the area is not joined)."""
    names = join.pairs.get(area)
    if not names:
        return {}
    out: dict[str, float | int | str] = {"conflict_admin1": names[0]}
    if not covered(state.get(f"span:{country}"), month):
        out["conflict_data"] = "none for this month"
        return out
    events = 0
    bands: dict[str, int] = {}
    for name in names:
        for band_type in (state.get(f"conflict:{country}|{name}|{month}") or {}).values():
            events += 1
            band = band_type[1]
            if band in FATALITY_INDEX:
                bands[band] = bands.get(band, 0) + 1
    out["conflict_events"] = events
    out["fatality_index"] = sum(FATALITY_INDEX[b] * n for b, n in sorted(bands.items()))
    return out


def _conflict_words(indicators: dict[str, float | int | str], area: str) -> str:
    if "conflict_admin1" not in indicators:
        return f"No conflict area is joined to {area} (see the summary's join)."
    where = indicators["conflict_admin1"]
    if "conflict_events" not in indicators:
        return f"No conflict data covers {where} in this month."
    return (
        f"Conflict in {where} that month: {indicators['conflict_events']} events, "
        f"fatality index {indicators['fatality_index']:g}."
    )


def _groups(cell: dict[str, list[Any]]) -> dict[str, float]:
    """(commodity, dimension) -> median price per base unit of the country-month."""
    values: dict[str, list[float]] = {}
    for entry in cell.values():
        if not entry[S.LOCAL_MISMATCH]:
            values.setdefault(entry[GROUP], []).append(entry[S.PER_BASE])
    return {g: statistics.median(sorted(v)) for g, v in values.items() if len(v) >= MIN_UNIT_PEERS}


def _mismatch(entry: list[Any], refs: dict[str, float]) -> float | None:
    """The reference the price mismatches (series' own neighbours or the country's
    median per base unit), or None."""
    if entry[S.LOCAL_MISMATCH]:
        return float(entry[S.LOCAL_REF])
    ref = refs.get(entry[GROUP])
    if ref is not None and is_unit_mismatch(entry[S.PER_BASE], ref):
        return ref
    return None


def _subject(parts: list[str]) -> str:
    country, _, area, market, commodity, unit, price_type = parts
    kind = "" if price_type == "-" else f", {price_type}"
    return f"{market} ({area}, {country}): {commodity}, {unit}{kind}"


def _where(state: State, country: str, area: str, join: Join) -> tuple[str, str | None]:
    names = join.pairs.get(area)
    return label(state, country), (names[0] if names else (None if area == "-" else area))


def _fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def _price_findings(state: State, country: str, currency: str, month: str) -> list[Finding]:
    cell: dict[str, list[Any]] = state.get(f"xs:{country}|{currency}|{month}") or {}
    if not cell:
        return []
    join = join_of(state, country)
    refs = _groups(cell)
    mismatched = {sid: ref for sid, e in cell.items() if (ref := _mismatch(e, refs))}
    changes = sorted(
        e[S.CHANGE] for sid, e in cell.items() if e[S.CHANGE] is not None and sid not in mismatched
    )
    findings: list[Finding] = []
    for sid in sorted(mismatched):
        findings.append(
            _mismatch_finding(
                state, country, json.loads(sid), month, cell[sid], mismatched[sid], join
            )
        )
    if len(changes) < MIN_CROSS:
        return findings
    median = statistics.median(changes)
    mad = statistics.median(sorted(abs(c - median) for c in changes))
    sigma = max(S.MAD_SCALE * mad, S.MIN_SIGMA)
    previous: dict[str, tuple[dict[str, list[Any]], dict[str, float]]] = {}
    for sid in sorted(cell):
        entry = cell[sid]
        z_own, change = entry[S.Z], entry[S.CHANGE]
        if z_own is None or change is None or sid in mismatched or abs(z_own) < Z_THRESHOLD:
            continue
        z_cross = (change - median) / sigma
        if abs(z_cross) < Z_THRESHOLD or (z_cross > 0) != (z_own > 0):
            continue
        prev = entry[S.PREV]
        if prev not in previous:
            prev_cell = state.get(f"xs:{country}|{currency}|{prev}") or {}
            previous[prev] = (prev_cell, _groups(prev_cell))
        prev_cell, prev_refs = previous[prev]
        if sid in prev_cell and _mismatch(prev_cell[sid], prev_refs) is not None:
            continue
        cross = {"median": median, "mad": mad, "sigma": sigma, "n": len(changes), "z": z_cross}
        findings.append(
            _anomaly_finding(
                state, country, json.loads(sid), month, entry, prev_cell.get(sid), cross, join
            )
        )
    return findings


def _anomaly_finding(
    state: State,
    country: str,
    parts: list[str],
    month: str,
    entry: list[Any],
    prev_entry: list[Any] | None,
    cross: dict[str, float],
    join: Join,
) -> Finding:
    _, currency, area, _, commodity, unit, _ = parts
    price = entry[S.PRICE]
    prev_price = prev_entry[S.PRICE] if prev_entry else math.exp(math.log(price) - entry[S.CHANGE])
    percent = (price / prev_price - 1.0) * 100.0
    z_own, z_cross = entry[S.Z], cross["z"]
    size = min(abs(z_own), abs(z_cross))
    level = "critical" if size >= Z_CRITICAL else "high" if size >= Z_HIGH else "medium"
    conflict = conflict_in(state, country, area, month, join)
    usd, prev_usd = entry[S.USD], prev_entry[S.USD] if prev_entry else None
    usd_words = "No USD price was given."
    if usd is not None and prev_usd is not None:
        usd_words = f"In USD: {_fmt(prev_usd)} to {_fmt(usd)} ({(usd / prev_usd - 1) * 100:+.1f}%)."
    direction = "rose" if price >= prev_price else "fell"
    explanation = (
        f"The price of {commodity} ({unit}) at {parts[3]} ({area}) {direction} "
        f"{abs(percent):.1f}% from {_fmt(prev_price)} {currency} in {entry[S.PREV]} to "
        f"{_fmt(price)} {currency} in {month}. {usd_words} Its monthly log change, "
        f"{entry[S.CHANGE]:.3f}, is {abs(z_own):.1f} robust standard deviations "
        f"{'above' if z_own > 0 else 'below'} the series' own previous {entry[S.HISTORY]} "
        f"changes (median {entry[S.MEDIAN]:.3f}, sigma {entry[S.SIGMA]:.3f}) and "
        f"{abs(z_cross):.1f} from the median change of the country's {cross['n']} price "
        f"series in {currency} that month ({cross['median']:.3f}, sigma {cross['sigma']:.3f}), "
        f"so it is not the general movement of prices (inflation, the currency). Findings "
        f"need both |z| >= {Z_THRESHOLD}. {_conflict_words(conflict, area)}"
    )
    indicators: dict[str, float | int | str] = {
        "price": price,
        "previous_price": prev_price,
        "previous_month": entry[S.PREV],
        "currency": currency,
        "change_pct": round(percent, 2),
        "log_change": round(entry[S.CHANGE], 4),
        "robust_z": round(z_own, 2),
        "cross_z": round(z_cross, 2),
        "country_median_change": round(cross["median"], 4),
        "country_series": int(cross["n"]),
        "history": entry[S.HISTORY],
        "z_threshold": Z_THRESHOLD,
        **conflict,
    }
    if usd is not None:
        indicators["usd_price"] = usd
    if prev_usd is not None:
        indicators["previous_usd_price"] = prev_usd
    label, admin1 = _where(state, country, area, join)
    return Finding(
        kind=ANOMALY_KIND,
        subject=_subject(parts),
        explanation=explanation,
        level=level,
        score=round(size, 2),
        country=label,
        admin1=admin1,
        area=None if area == "-" else area,
        period=month,
        indicators=indicators,
    )


def _mismatch_finding(
    state: State,
    country: str,
    parts: list[str],
    month: str,
    entry: list[Any],
    ref: float,
    join: Join,
) -> Finding:
    _, currency, area, market, commodity, unit, _ = parts
    local = bool(entry[S.LOCAL_MISMATCH])
    value = entry[S.PRICE] if local else entry[S.PER_BASE]
    factor = value / ref
    dimension = parse_unit(unit).dimension
    base = {"mass": "kg", "volume": "L", "count": "piece"}.get(dimension, dimension)
    against = (
        f"the median of the series' own prices within {S.NEIGHBOUR_MONTHS} months "
        f"({_fmt(ref)} {currency} per {unit})"
        if local
        else f"the median price per base unit of {commodity} in the country that month "
        f"({_fmt(ref)} {currency} per {base})"
    )
    explanation = (
        f"The price of {commodity} at {market} ({area}) in {month}, {_fmt(entry[S.PRICE])} "
        f"{currency} per {unit}, is {factor:,.4g} times {against}: a factor near "
        f"{'1000' if factor > 1 else '1/1000'}, the mark of a kg/tonne (or g/kg, mL/L) unit "
        f"mix-up, not of a price movement. It is reported here and enters no price anomaly."
    )
    label, admin1 = _where(state, country, area, join)
    return Finding(
        kind=MISMATCH_KIND,
        subject=_subject(parts),
        explanation=explanation,
        level="low",
        score=round(abs(math.log10(factor)), 2),
        country=label,
        admin1=admin1,
        area=None if area == "-" else area,
        period=month,
        indicators={
            "price": entry[S.PRICE],
            "currency": currency,
            "unit": unit,
            "reference": ref,
            "reference_kind": "series neighbours" if local else "country commodity median",
            "factor": round(factor, 4),
        },
    )


def basket_of(state: State, country: str, currency: str, area: str) -> BasketSeries:
    where = f"{country}|{currency}|{area}"
    index = state.get(f"bgroups:{where}") or {}
    chosen = {group.key: name for group in BASKET if (name := choose(index.get(group.key, {})))}
    tallies = {key: state.get(f"bitem:{where}|{key}|{name}") or {} for key, name in chosen.items()}
    return derive_basket(tallies, chosen)


def _basket_findings(state: State, country: str, currency: str, area: str) -> list[Finding]:
    series = basket_of(state, country, currency, area)
    if not series.crossings or series.baseline_cost is None:
        return []
    join = join_of(state, country)
    label, admin1 = _where(state, country, area, join)
    out = []
    for month in series.months:
        level = series.crossings.get(month.month)
        if level is None:
            continue
        ratio = series.ratio(month) or 0.0
        usd_ratio = series.usd_ratio(month)
        if month.usd_cost is not None and usd_ratio is not None:
            usd_words = (
                f"In USD it cost {_fmt(month.usd_cost)}, {usd_ratio:.2f} times its baseline of "
                f"{_fmt(series.baseline_usd or 0.0)} USD: the difference between the two "
                "ratios is the local currency's loss of value."
            )
        else:
            missing = ", ".join(month.usd_missing) or "the baseline months"
            usd_words = f"No USD cost: no USD price for {missing}."
        items = ", ".join(f"{g.quantity:g} kg {g.label} ({series.chosen[g.key]})" for g in BASKET)
        carried = f" Carried forward: {', '.join(month.carried)}." if month.carried else ""
        indicators: dict[str, float | int | str] = {
            "basket_cost": round(month.cost, 2),
            "currency": currency,
            "baseline_cost": round(series.baseline_cost, 2),
            "baseline_period": series.baseline_period or "",
            "ratio": round(ratio, 3),
            "level_crossed": level,
            "markets": month.markets,
            "items_carried_forward": len(month.carried),
            **{f"item_{g.key}": series.chosen[g.key] for g in BASKET},
        }
        if month.usd_cost is not None:
            indicators["basket_cost_usd"] = round(month.usd_cost, 2)
        if usd_ratio is not None:
            indicators["ratio_usd"] = round(usd_ratio, 3)
        out.append(
            Finding(
                kind=BASKET_KIND,
                subject=f"{area} ({country}): staple food basket in {currency}",
                explanation=(
                    f"In {area}, the monthly staple basket of a household of "
                    f"{HOUSEHOLD_SIZE} ({items}: the general food ration of 2,100 kcal per "
                    f"person per day, each group stood for by the area's most observed "
                    f"commodity of the group, at the median retail price per kg across the "
                    f"area's markets, up to {month.markets} per group) cost "
                    f"{_fmt(month.cost)} {currency} in "
                    f"{month.month}, {ratio:.2f} times its baseline of "
                    f"{_fmt(series.baseline_cost)} {currency} (median of its first costed "
                    f"months, {series.baseline_period}): it reached {level:g}x for the first "
                    f"time. {usd_words}{carried}"
                ),
                level=_basket_level(ratio),
                score=round(ratio, 3),
                country=label,
                admin1=admin1,
                area=area,
                period=month.month,
                indicators=indicators,
            )
        )
    return out


def _basket_level(ratio: float) -> str:
    return "critical" if ratio >= 20 else "high" if ratio >= 5 else "medium"
