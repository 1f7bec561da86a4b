"""``dpa.spoiler-risk``: the typology of armed and criminal groups (DPA).

The seed paper distinguishes *predatory*, *parasitic* and *symbiotic* groups
("On Tactics and Strategy"): predatory groups are "hostile to existing authority
structures and are willing to engage in primitive capital accumulation (looting
and plundering)", are "less inclined to accept political solutions", and so are
"inevitable 'enemies' of peace operations"; parasitic and symbiotic groups live
off, or inside, the state and may be "susceptible to bargaining for political
settlements"; symbiotic ones forge "enduring links to the state", a stability
that "may be mistaken for peace". It asks that peacemakers be equipped "to map
and understand organized crime and related forms of non-state armed violence",
and names DPA among the bodies that would "map potential peace spoilers"
("Towards Integrated Analytical Capacity").

This analyzer makes that call for every group it sees in ``conflict-event/1``
views, from indicators observable in conflict events - hostility to the state,
violence against civilians, plunder and rent-extraction language in the
narratives, alignment with state actors, clashes with other groups - with
explicit thresholds (:mod:`analyzers.spoiler_risk._typology`) and keywords
(:mod:`analyzers.spoiler_risk._events`). Every finding carries the indicator
values behind the call, and the confidence of it.

Limits of the evidence: UCDP GED folds pro-government militias into the
government side and records most rebel factions' war on the state under
aggregates such as "Syrian insurgents"; a faction seen only in clashes with other
groups therefore shows no hostility to the state under its own name.
"""

from analyzers.spoiler_risk._analyzer import SpoilerRiskAnalyzer

__all__ = ["SpoilerRiskAnalyzer"]
