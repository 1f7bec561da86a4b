"""The situation's filters, as the page's form, its links and its exports share them.

One :class:`SituationQuery` is what an analyst asked for: a month range, an area, an
analyzer, a minimum level, a handling code, an actor and an as-of date. Every section
of the page, every drill-down link and every download carries the same query, so
what one downloads is what one sees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from clearinghouse.node.services.situation import LEVELS, FindingFilter, finding_filter

__all__ = ["HANDLING_CODES", "MONTH", "SituationQuery"]

#: A month as the period selector sends it (``<input type="month">``).
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
HANDLING_CODES = ("H0", "H1", "H2", "H3")


@dataclass(frozen=True)
class SituationQuery:
    """The filters of the situation page and its exports (query parameter names:
    ``from``, ``to``, ``country``, ``admin1``, ``analyzer``, ``level`` (at least),
    ``hc``, ``actor``, ``as_of`` (a date: as held at the end of that day, UTC))."""

    start: str | None = None
    end: str | None = None
    country: str | None = None
    admin1: str | None = None
    analyzer: str | None = None
    level: str | None = None
    hc: str | None = None
    actor: str | None = None
    as_of: date | None = None

    @property
    def as_of_instant(self) -> datetime | None:
        """The end of the as-of day (UTC): what the node held by then."""
        if self.as_of is None:
            return None
        return datetime.combine(self.as_of + timedelta(days=1), time(), UTC) - timedelta(
            microseconds=1
        )

    def where(self) -> FindingFilter:
        levels = LEVELS[LEVELS.index(self.level) :] if self.level in LEVELS else ()
        return finding_filter(
            country=self.country,
            admin1=self.admin1,
            start=self.start,
            end=self.end,
            analyzers=(self.analyzer,) if self.analyzer else (),
            levels=tuple(levels),
            handling=(self.hc,) if self.hc else (),
            actor=self.actor or None,
            as_of=self.as_of_instant,
        )

    def params(self) -> dict[str, str]:
        """The query's parameters, those set only, by their URL names."""
        names = {"start": "from", "end": "to"}
        out = {}
        for name, value in asdict(self).items():
            if value:
                out[names.get(name, name)] = value.isoformat() if isinstance(value, date) else value
        return out

    def link(self, path: str, **extra: str) -> str:
        """``path`` with this query (and ``extra``, e.g. ``format``) as its query string."""
        params = {**self.params(), **extra}
        return f"{path}?{urlencode(params)}" if params else path

    def without_area(self) -> SituationQuery:
        return replace(self, country=None, admin1=None)
