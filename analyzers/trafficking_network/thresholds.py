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
    "RECURRING_MIN_EVENTS",
    "RECURRING_MIN_SPREAD",
    "STATE_NAME_PREFIX",
    "TOP_BROKERS",
    "TREND_HIGH_KG",
    "TREND_MIN_BASE_KG",
    "TREND_MIN_CHANGE",
    "TREND_MIN_HISTORY",
    "TREND_MIN_KG",
    "TREND_VOLATILITY_K",
    "UNIT_KILOGRAMS",
]

#: An actor (a reference: pseudonym, or name where the policy discloses names) is
#: *recurring* once seen in >= this many packets ...
RECURRING_MIN_EVENTS = 5
#: ... across >= this many distinct places (country x admin1) or sources (issuers).
RECURRING_MIN_SPREAD = 2

#: The brokers are the this-many non-state actors with the highest (positive)
#: betweenness on the actor-place graph; each is one finding.
TOP_BROKERS = 5
#: An actor named like this (UCDP's name for a state: "Government of Syria") is a
#: state; so is side A of state-based violence and a side with a Gleditsch-Ward
#: number (see :mod:`._network`). States are left out of the broker graph.
STATE_NAME_PREFIX = "government of "

#: A cross-border corridor (consecutive countries on seizure routes) is reported once
#: it carries >= this many seizures ...
CORRIDOR_MIN_SEIZURES = 3
#: ... or >= this many kilograms.
CORRIDOR_MIN_KG = 1_000.0

#: Seizure trends (country x drug group, consecutive years a -> b). A change is
#: flagged only when the earlier year's total ``a`` is >= this many kilograms: below
#: it, one seizure more or less swings the total, and no percentage is given off it
#: (nor off zero) ...
TREND_MIN_BASE_KG = 100.0
#: ... and the change itself is >= this many kilograms ...
TREND_MIN_KG = 100.0
#: ... and its log change |ln(b / a)| is >= ln(1 + this) (a rise of >= 50 %, or a
#: fall to <= 2/3) ...
TREND_MIN_CHANGE = 0.5
#: ... and >= this many times the series' own typical year-on-year variation: the
#: median |log change| over the series' *other* pairs of consecutive years. For log
#: changes spread normally around zero the median |change| is 0.674 sigma, so 3
#: times it is about 2 sigma: a change a series of that volatility shows about once
#: in 20 years by chance ...
TREND_VOLATILITY_K = 3.0
#: ... which needs >= this many other pairs to estimate (else no flag: too short a
#: history to know what is unusual for the series).
TREND_MIN_HISTORY = 2
#: Changes of >= this many kilograms are "high" (else "medium").
TREND_HIGH_KG = 10_000.0

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
