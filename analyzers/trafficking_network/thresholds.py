"""The stated thresholds of ``unodc.trafficking-network``.

The seed paper asks for a capacity "to map spoiler networks, following their
trail through foreign diaspora communities and foreign bank accounts", notes
that "organized crime operates across borders and through transnational
diasporas and commercial networks" while peace operations "are organized to
operate within a specific country", and that "the borderlands of
conflict-affected states - with their licit and illicit ties to extra-territorial
sources of support for conflict parties ... become increasingly important". The
rules below make those ideas countable: actors that recur across places and
sources, corridors that cross borders, brokers who sit between otherwise separate
parts of the network, and shifts in seizure volumes. Every finding names the
figures and the threshold it passed.
"""

from __future__ import annotations

__all__ = [
    "CORRIDOR_MIN_KG",
    "CORRIDOR_MIN_SEIZURES",
    "NETWORK_EVERY_VIEWS",
    "RECURRING_MIN_EVENTS",
    "RECURRING_MIN_SPREAD",
    "TOP_BROKERS",
    "TREND_HIGH_KG",
    "TREND_MIN_CHANGE",
    "TREND_MIN_KG",
    "TREND_SETTLE_VIEWS",
    "UNIT_KILOGRAMS",
]

#: An actor (pseudonym) is *recurring* once seen in >= this many packets ...
RECURRING_MIN_EVENTS = 5
#: ... across >= this many distinct places (country x admin1) or sources (issuers).
RECURRING_MIN_SPREAD = 2

#: Whole-network work (brokers' betweenness, settled seizure trends) runs on every
#: view whose running count is a multiple of this: deterministic by view count,
#: and a per-view cost that does not grow with the network.
NETWORK_EVERY_VIEWS = 500
#: The brokers are the actors with the highest betweenness; a finding is raised when
#: the set of the top this-many changes.
TOP_BROKERS = 5

#: A cross-border corridor (consecutive countries on seizure routes) is reported once
#: it carries >= this many seizures ...
CORRIDOR_MIN_SEIZURES = 3
#: ... or >= this many kilograms; afterwards again each time its cumulative
#: kilograms pass the next power of ten (10,000 kg, 100,000 kg ...).
CORRIDOR_MIN_KG = 1_000.0

#: A year-over-year change of an annual seizure total (country x drug group) is
#: flagged when it is >= this fraction of the earlier year (0.5 = +/-50%) ...
TREND_MIN_CHANGE = 0.5
#: ... and the change is >= this many kilograms (small totals swing wildly).
TREND_MIN_KG = 100.0
#: Changes of >= this many kilograms are "high" (else "medium").
TREND_HIGH_KG = 10_000.0
#: A country x drug group series is judged once no row for it has arrived for this
#: many views: an annual total comes as one row per drug, so a year's group total
#: is complete only when its rows have stopped coming.
TREND_SETTLE_VIEWS = 500

#: Kilograms per unit of a single seizure's ``quantity``; other units (tablets,
#: litres, plants) count the seizure but add no weight.
UNIT_KILOGRAMS = {
    "kg": 1.0,
    "kgs": 1.0,
    "kilogram": 1.0,
    "kilograms": 1.0,
    "g": 0.001,
    "gram": 0.001,
    "grams": 0.001,
    "mg": 0.000001,
    "t": 1000.0,
    "ton": 1000.0,
    "tons": 1000.0,
    "tonne": 1000.0,
    "tonnes": 1000.0,
}
