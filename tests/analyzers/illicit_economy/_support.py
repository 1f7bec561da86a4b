"""Records and views for the illicit-economy tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.state import State

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def months(start: str, count: int) -> list[str]:
    year, month = int(start[:4]), int(start[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def price_record(month: str, price: float, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "date": f"{month}-15",
        "country_code": "MLI",
        "admin1": "Mopti",
        "market": "Mopti",
        "commodity": "Millet",
        "unit": "KG",
        "price_type": "Retail",
        "currency": "XOF",
        "price": price,
    }
    record.update(fields)
    return record


def event_record(
    month: str, event_id: int, admin1: str = "Mopti region", **fields: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": str(event_id),
        "year": int(month[:4]),
        "type_of_violence": 1,
        "country": "Mali",
        "country_id": 432,
        "admin1": admin1,
        "date_start": f"{month}-10",
        "date_end": f"{month}-10",
        "deaths": {"best": 6, "low": 6, "high": 6},
        "conflict": "Mali: Government",
        "dyad": "Government of Mali - JNIM",
        "side_a": "Government of Mali",
        "side_b": "JNIM",
        "date_precision": 1,
        "latitude": 14.49,
        "longitude": -4.19,
        "where_precision": 3,
        "event_clarity": 1,
    }
    record.update(fields)
    return record


def price_view(month: str, price: float, **fields: Any) -> View:
    """The view undp has of a price it issued itself (every field)."""
    return View("market-price/1", "undp", "j", "d", NOW, "hc", price_record(month, price, **fields))


def event_view(month: str, event_id: int, admin1: str = "Mopti region", band: str = "5-24") -> View:
    """undp's view of a conflict event: month and fatality band, no actors."""
    claims = {
        "event_id": str(event_id),
        "year": int(month[:4]),
        "type_of_violence": 1,
        "country": "Mali",
        "admin1": admin1,
        "month": month,
        "fatality_band": band,
    }
    return View("conflict-event/1", "mission", "j", f"e{event_id}", NOW, "hc", claims)


def feed(views: list[View], state: State | None = None) -> tuple[list[Finding], State]:
    analyzer, state = IllicitEconomyAnalyzer(), state or State()
    out: list[Finding] = []
    for view in views:
        out += analyzer.analyze(view, state)
        state.commit()
    return out, state


#: Eight commodities of one market, with a gentle common inflation of 1 % a month
#: and a small alternating wobble, so that each series has a spread of changes.
COMMODITIES = (
    "Millet",
    "Sorghum",
    "Maize",
    "Rice (imported)",
    "Cowpeas",
    "Sugar",
    "Onions",
    "Peanuts",
)


def market_views(
    start: str,
    count: int,
    *,
    market: str = "Mopti",
    admin1: str = "Mopti",
    shock: dict[tuple[str, str], float] | None = None,
    inflation: dict[str, float] | None = None,
    **fields: Any,
) -> list[View]:
    """Prices of :data:`COMMODITIES` at one market; ``shock[(commodity, month)]`` multiplies
    one price; ``inflation[month]`` multiplies every price from that month on."""
    views = []
    level = 1.0
    for i, month in enumerate(months(start, count)):
        level *= (inflation or {}).get(month, 1.0)
        for j, commodity in enumerate(COMMODITIES):
            base = 100.0 * (j + 1) * (1.01**i) * (1.03 if (i + j) % 2 else 1.0)
            factor = (shock or {}).get((commodity, month), 1.0)
            price = round(base * level * factor, 2)
            views.append(
                price_view(
                    month, price, market=market, admin1=admin1, commodity=commodity, **fields
                )
            )
    return views
