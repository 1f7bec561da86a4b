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

from typing import Any, ClassVar

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.illicit_economy._absorb import (
    CONFLICT_SCHEMA,
    PRICE_SCHEMA,
    absorb_event,
    absorb_price,
    count,
    join_of,
)
from clearinghouse.analyzers.illicit_economy._derive import (
    ANOMALY_KIND,
    BASKET_KIND,
    MIN_CROSS,
    MIN_UNIT_PEERS,
    MISMATCH_KIND,
    Z_CRITICAL,
    Z_HIGH,
    Z_THRESHOLD,
    derive,
)
from clearinghouse.analyzers.illicit_economy._summary import summarise
from clearinghouse.analyzers.state import State

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


class IllicitEconomyAnalyzer:
    """Price anomalies judged against the country's general movement, unit mix-ups,
    and staple-basket cost in local currency and USD, joined with conflict intensity."""

    id: ClassVar[str] = "undp.illicit-economy"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({PRICE_SCHEMA, CONFLICT_SCHEMA})

    def analyze(self, view: View, state: State) -> list[Finding]:
        """Absorb one view; the findings of every scope it touched that changed."""
        if view.schema == PRICE_SCHEMA:
            scopes, skipped = absorb_price(view, state)
        elif view.schema == CONFLICT_SCHEMA:
            scopes, skipped = absorb_event(view, state)
        else:
            return []
        count(state, view.schema, skipped)
        out: list[Finding] = []
        for scope in sorted(scopes):
            out += reconcile(state, scope, derive(state, scope))
        return out

    def summary(self, state: State) -> dict[str, Any]:
        return summarise(state, analyzer_id=self.id, version=self.version)
