"""Absorbing views into the illicit-economy analyzer's order-free tallies.

A price is added to its series-month (the set of distinct prices, local and USD),
to the country-month's cross-section and, when it is a staple of a food group, to
its area's basket tally; an event is added to its area-month, keyed by event id,
and to the country's conflict span; the area names of both sides are kept for the
join (:mod:`._names`). Each function returns the scopes whose findings the view
can change (see :mod:`._analyzer`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.illicit_economy import _series as S
from clearinghouse.analyzers.illicit_economy._basket import (
    add_basket_price,
    basket_group,
    choose,
    coverage,
)
from clearinghouse.analyzers.illicit_economy._names import (
    Join,
    country_key,
    country_label,
    join_areas,
)
from clearinghouse.analyzers.illicit_economy._units import parse_unit
from clearinghouse.analyzers.state import State

PRICE_SCHEMA = "market-price/1"
CONFLICT_SCHEMA = "conflict-event/1"

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


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
    values: list[str] = state.peek(key) or []
    if value in values:
        return False
    state[key] = sorted([*values, value])
    return True


def absorb_price(view: View, state: State) -> tuple[set[str], str | None]:
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
    names = state.peek(f"areas:{country}") or {}
    return join_areas(tuple(names.get("price", [])), tuple(names.get("conflict", [])))


def label(state: State, country: str) -> str:
    names: list[str] = state.peek(f"country-names:{country}") or []
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
    names = state.peek(key) or {"price": [], "conflict": []}
    if name in names[side]:
        return set()
    before = join_of(state, country)
    state[key] = {**names, side: sorted([*names[side], name])}
    after = join_of(state, country)
    return set() if before.pairs == after.pairs else _all_price_scopes(state, country)


def absorb_event(view: View, state: State) -> tuple[set[str], str | None]:
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
    span = state.peek(f"span:{country}")
    new_span = [min(month, *(span or [month])), max(month, *(span or [month]))]
    if new_span != span:
        state[f"span:{country}"] = new_span
        for scope in _all_price_scopes(state, country):
            m = scope.rsplit("|", 1)[1]
            if scope.startswith("basket|"):
                continue
            if covered(span, m) != covered(new_span, m):
                scopes.add(scope)
    if area != "-":
        scopes |= _add_area_name(state, country, "conflict", area)
    return scopes, None if area != "-" else "no admin1"


def covered(span: list[str] | None, month: str) -> bool:
    return span is not None and span[0] <= month <= span[1]


def _scopes_of_month(state: State, country: str, month: str) -> set[str]:
    out = set()
    for currency in state.peek(f"currencies:{country}") or []:
        if f"xs:{country}|{currency}|{month}" in state:
            out.add(f"prices|{country}|{currency}|{month}")
    return out


def count(state: State, schema: str, skipped: str | None) -> None:
    counts = state.get("counts") or {"views": {}, "skipped": {}}
    counts["views"][schema] = counts["views"].get(schema, 0) + 1
    if skipped:
        reason = f"{schema}: {skipped}"
        counts["skipped"][reason] = counts["skipped"].get(reason, 0) + 1
    state["counts"] = counts
