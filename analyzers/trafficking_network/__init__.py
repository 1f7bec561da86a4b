"""``unodc.trafficking-network``: actors, places and routes linked across packets.

UNODC runs this analysis on every ``conflict-event/1`` and ``seizure/1`` packet
it issues or receives (DESIGN.md, "Analysis"). The seed paper ("Towards
Integrated Analytical Capacity") proposes a hybrid system in which missions
"gather information in the field and then share them through a network of
analytical components distributed throughout the system - for example, through
the UN's Offices on Drugs and Crime (UNODC)", each conducting "a predetermined
form of analysis on the shared data"; it asks for a capacity "to map spoiler
networks" across borders. UNODC's part is that map, drawn from the references the
views carry (pseudonyms under UNODC's policy), never from names it would resolve:

* one place scheme, ISO 3166-1 alpha-3, whatever a schema writes ("Syria",
  "SYR", "Syrian Arab Republic" are one place; :mod:`._places`);
* actors - the references the views carry (pseudonyms under UNODC's policy: conflict
  sides, and the persons a single seizure names); states recognised from UCDP's
  coding and left out of the broker ranking (:mod:`._network`);
* recurring actors - seen again and again, in several places or by several sources;
* brokers - the non-state actors with the highest betweenness centrality on the
  actor-place graph, by Brandes' algorithm (:mod:`._brandes`, :mod:`._network`);
* cross-border corridors - consecutive countries on seizure routes, with their
  seizures and kilograms (:mod:`._routes`);
* seizure trends - year-on-year changes of annual totals per country and drug
  group that are large, off a real base, and unusual for the series' own
  volatility (:mod:`._trends`).

Findings converge (:mod:`analyzers.converge`): every view is absorbed into
order-free tallies, and the findings of the scopes it touched are derived from the
complete tallies held, with withdrawals of those that no longer hold.

Thresholds: :mod:`.thresholds`. The analyzer: :mod:`._analyzer`.
"""

from clearinghouse.analyzers.trafficking_network._analyzer import TraffickingNetworkAnalyzer

__all__ = ["TraffickingNetworkAnalyzer"]
