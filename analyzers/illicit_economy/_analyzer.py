"""The UNDP illicit-economy analyzer (DESIGN.md, "Analysis"; seed paper, "Towards
Integrated Analytical Capacity").

Why these are signals of black-market activity. The seed paper describes how
criminal economies live off conflict: sieges and sanctions create "a siege
economy, inflating local prices and profits, rewarding ... those with close ties
to black marketers"; relief goods are diverted and resold; where incomes collapse,
black markets become "survival strategies". A market's price jumping out of line
both with its own usual movement *and* with the country's other prices that month
marks a market cut off, taxed at checkpoints, or fed by diverted stock; the cost of
a staple basket measures the livelihood pressure. Both are joined with conflict
intensity in the same area and month, by the data's own area names
(:mod:`._names`), for any country.

Convergence (:mod:`analyzers.converge`): a view is first absorbed into order-free
tallies (sets of distinct prices per series-month, events per area-month keyed by
event id, sets of area names, the span of conflict months); then the findings of
every scope it could change are derived from the tallies alone and reconciled.
Scopes: ``prices|<country>|<currency>|<month>`` (price anomalies and unit
mix-ups of a country-month) and ``basket|<country>|<currency>|<area>`` (the staple
basket of an area, :mod:`._basket`: food groups, each stood for by the area's most
observed commodity of the group).

Price anomaly (``price-anomaly``), for a series and month, needs all of:

1. the series' robust z (:mod:`._series`) of its monthly log change, against its own
   previous changes, at least :data:`Z_THRESHOLD` in size;
2. the **cross-sectional** robust z of the same change against the changes of all
   the country's series in that currency and month (median and MAD, at least
   :data:`MIN_CROSS` series) at least :data:`Z_THRESHOLD` in size, with the same
   sign. Nominal inflation or a collapse of the local currency moves every
   commodity at once: it moves the median, and is not an anomaly;
3. neither price of the change is a unit mix-up.

Unit mix-up (``unit-mismatch``): a price per base unit about 1000 times or 1/1000
(:mod:`._units`) of the median of the same commodity's prices per base unit in
the country-month (at least :data:`MIN_UNIT_PEERS` prices), or of the series' own
neighbouring months. It is reported as what it is and never scored as a movement.

Basket tallies: ``bitem:<country>|<currency>|<area>|<group>|<commodity>`` (per month
and market, the sets of distinct prices per kg, local and USD) and, as their index,
``bgroups:<country>|<currency>|<area>``: group -> commodity -> [months, distinct
(market, month) pairs] priced, counted from the tally itself.

Cached state (derived, recomputed whenever its inputs change, never read as input):
``d`` in each series and ``xs:<country>|<currency>|<month>``, the derived entries
of every series of a country-month.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.converge import reconcile
from analyzers.illicit_economy import _series as S
from analyzers.illicit_economy._basket import (
    BASKET,
    HOUSEHOLD_SIZE,
    BasketSeries,
    add_basket_price,
    basket_group,
    choose,
    coverage,
    derive_basket,
)
from analyzers.illicit_economy._names import (
    FATALITY_INDEX,
    Join,
    country_key,
    country_label,
    join_areas,
)
from analyzers.illicit_economy._units import is_unit_mismatch, parse_unit
from analyzers.state import State

__all__ = [
    "ANOMALY_KIND",
    "BASKET_KIND",
    "CONFLICT_SCHEMA",
    "MIN_CROSS",
    "MIN_UNIT_PEERS",
    "MISMATCH_KIND",
    "PRICE_SCHEMA",
    "Z_CRITICAL",
    "Z_HIGH",
    "Z_THRESHOLD",
    "IllicitEconomyAnalyzer",
    "join_of",
]

PRICE_SCHEMA = "market-price/1"
CONFLICT_SCHEMA = "conflict-event/1"
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

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class IllicitEconomyAnalyzer:
    """Price anomalies judged against the country's general movement, unit mix-ups,
    and staple-basket cost in local currency and USD, joined with conflict intensity."""

    id: ClassVar[str] = "undp.illicit-economy"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({PRICE_SCHEMA, CONFLICT_SCHEMA})

    def analyze(self, view: View, state: State) -> list[Finding]:
        """Absorb one view; the findings of every scope it touched that changed."""
        if view.schema == PRICE_SCHEMA:
            scopes, skipped = _absorb_price(view, state)
        elif view.schema == CONFLICT_SCHEMA:
            scopes, skipped = _absorb_event(view, state)
        else:
            return []
        _count(state, view.schema, skipped)
        out: list[Finding] = []
        for scope in sorted(scopes):
            out += reconcile(state, scope, _derive(state, scope))
        return out

    def summary(self, state: State) -> dict[str, Any]:
        from analyzers.illicit_economy._summary import summarise

        return summarise(state, analyzer_id=self.id, version=self.version)


# --- absorbing ----------------------------------------------------------------------


def _text(view: View, name: str) -> str | None:
    value = view.get(name)
    return (" ".join(value.split()) or None) if isinstance(value, str) else None


def _number(view: View, name: str) -> float | None:
    value = view.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _month(view: View, date_claim: str) -> str | None:
    for value in (view.get("month"), view.get(date_claim)):
        if isinstance(value, str) and _MONTH.match(value[:7]) and len(value) in (7, 10):
            return value[:7]
    return None


def series_id(parts: list[str]) -> str:
    """[country, currency, area, market, commodity, unit, price type] as a JSON key."""
    return json.dumps(parts, ensure_ascii=False)


def _add_to_sorted(state: State, key: str, value: str) -> bool:
    values: list[str] = state.get(key) or []
    if value in values:
        return False
    values.append(value)
    values.sort()
    state[key] = values
    return True


def _absorb_price(view: View, state: State) -> tuple[set[str], str | None]:
    month = _month(view, "date")
    market, commodity, unit = _text(view, "market"), _text(view, "commodity"), _text(view, "unit")
    currency, price = _text(view, "currency"), _number(view, "price")
    if month is None or not (market and commodity and unit and currency) or price is None:
        return set(), "incomplete"
    if price <= 0:
        return set(), "price not positive"
    country = _text(view, "country_code") or "?"
    area = _text(view, "admin1") or "-"
    price_type = _text(view, "price_type") or "-"
    usd = _number(view, "usd_price")
    usd = usd if usd is not None and usd > 0 else None
    scopes: set[str] = set()
    sid = series_id([country, currency, area, market, commodity, unit, price_type])
    skey = "series:" + sid
    series, changed = S.add_price(state.get(skey), month, price, usd)
    if changed:
        parsed = parse_unit(unit)
        derived = S.derive(series, parsed)
        before: dict[str, Any] = series["d"]
        series["d"] = derived
        state[skey] = series
        touched = set()
        for m in sorted(set(before) | set(derived)):
            if before.get(m) != derived.get(m):
                xkey = f"xs:{country}|{currency}|{m}"
                cell = state.get(xkey) or {}
                if m in derived:
                    cell[sid] = [*derived[m], f"{commodity}|{parsed.dimension}"]
                else:
                    cell.pop(sid, None)
                state[xkey] = cell
                touched.add(S.month_index(m))
        for index in touched:
            for k in range(index, index + S.MAX_GAP_MONTHS + 1):
                if f"xs:{country}|{currency}|{S.month_of(k)}" in state:
                    scopes.add(f"prices|{country}|{currency}|{S.month_of(k)}")
    entry = basket_group(
        _text(view, "category"), commodity, unit, None if price_type == "-" else price_type
    )
    if entry is not None and area != "-":
        group, kilograms = entry
        bkey = f"bitem:{country}|{currency}|{area}|{group.key}|{commodity}"
        tally, bchanged = add_basket_price(
            state.get(bkey),
            month,
            market,
            price / kilograms,
            None if usd is None else usd / kilograms,
        )
        if bchanged:
            state[bkey] = tally
            if _index_basket(state, f"{country}|{currency}|{area}", group.key, commodity, tally):
                scopes.add(f"basket|{country}|{currency}|{area}")
    _add_to_sorted(state, f"currencies:{country}", currency)
    if area != "-":
        scopes |= _add_area_name(state, country, "price", area)
    return scopes, None


def _index_basket(
    state: State, where: str, group: str, commodity: str, tally: dict[str, Any]
) -> bool:
    """Record the commodity's coverage (months, (market, month) pairs); whether the
    area's basket may have changed: the commodity stands for its group, or the choice
    of the group changed."""
    key = f"bgroups:{where}"
    index = state.get(key) or {}
    candidates = index.setdefault(group, {})
    before = choose(candidates)
    count = coverage(tally)
    if candidates.get(commodity) != count:
        candidates[commodity] = count
        state[key] = index
    after = choose(candidates)
    return after == commodity or after != before


def join_of(state: State, country: str) -> Join:
    names = state.get(f"areas:{country}") or {}
    return join_areas(tuple(names.get("price", [])), tuple(names.get("conflict", [])))


def _label(state: State, country: str) -> str:
    names: list[str] = state.get(f"country-names:{country}") or []
    return names[0] if names else country_label(country)


def _all_price_scopes(state: State, country: str) -> set[str]:
    """Every scope of a country: its price scopes and its basket scopes."""
    prefix = f"xs:{country}|"
    out = {"prices|" + key.removeprefix("xs:") for key in state.keys(prefix)}
    for key in state.keys(f"bgroups:{country}|"):
        out.add("basket|" + key.removeprefix("bgroups:"))
    return out


def _add_area_name(state: State, country: str, side: str, name: str) -> set[str]:
    """Record an area name; every price scope of the country if the join changed."""
    key = f"areas:{country}"
    names = state.get(key) or {"price": [], "conflict": []}
    if name in names[side]:
        return set()
    before = join_of(state, country)
    names[side] = sorted([*names[side], name])
    state[key] = names
    after = join_of(state, country)
    return set() if before.pairs == after.pairs else _all_price_scopes(state, country)


def _absorb_event(view: View, state: State) -> tuple[set[str], str | None]:
    month = _month(view, "date_start")
    area = _text(view, "admin1")
    name = _text(view, "country")
    if month is None or name is None:
        return set(), "no month or country"
    country = country_key(name)
    scopes: set[str] = set()
    if _add_to_sorted(state, f"country-names:{country}", name):
        scopes |= _all_price_scopes(state, country)
    area = area or "-"
    event_id = view.get("event_id")
    eid = str(event_id) if event_id is not None else "digest:" + view.digest
    violence = view.get("type_of_violence")
    violence = violence if isinstance(violence, int) and not isinstance(violence, bool) else None
    band = view.get("fatality_band")
    value = [violence, band if isinstance(band, str) else None]
    ckey = f"conflict:{country}|{area}|{month}"
    cell = state.get(ckey) or {}
    old = cell.get(eid)
    if old is None or json.dumps(value) < json.dumps(old):
        cell[eid] = value
        state[ckey] = cell
        joined = {n for names in join_of(state, country).pairs.values() for n in names}
        if area in joined:
            scopes |= _scopes_of_month(state, country, month)
    span = state.get(f"span:{country}")
    new_span = [min(month, *(span or [month])), max(month, *(span or [month]))]
    if new_span != span:
        state[f"span:{country}"] = new_span
        for scope in _all_price_scopes(state, country):
            m = scope.rsplit("|", 1)[1]
            if scope.startswith("basket|"):
                continue
            if _covered(span, m) != _covered(new_span, m):
                scopes.add(scope)
    if area != "-":
        scopes |= _add_area_name(state, country, "conflict", area)
    return scopes, None if area != "-" else "no admin1"


def _covered(span: list[str] | None, month: str) -> bool:
    return span is not None and span[0] <= month <= span[1]


def _scopes_of_month(state: State, country: str, month: str) -> set[str]:
    out = set()
    for currency in state.get(f"currencies:{country}") or []:
        if f"xs:{country}|{currency}|{month}" in state:
            out.add(f"prices|{country}|{currency}|{month}")
    return out


def _count(state: State, schema: str, skipped: str | None) -> None:
    counts = state.get("counts") or {"views": {}, "skipped": {}}
    counts["views"][schema] = counts["views"].get(schema, 0) + 1
    if skipped:
        reason = f"{schema}: {skipped}"
        counts["skipped"][reason] = counts["skipped"].get(reason, 0) + 1
    state["counts"] = counts


# --- deriving -----------------------------------------------------------------------


def _derive(state: State, scope: str) -> list[Finding]:
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
    if not _covered(state.get(f"span:{country}"), month):
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
    return _label(state, country), (names[0] if names else (None if area == "-" else area))


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
