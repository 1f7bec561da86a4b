"""``unodc.trafficking-network``: actors, places and routes linked across packets.

UNODC runs this analysis on every ``conflict-event/1`` and ``seizure/1`` packet
it issues or receives (DESIGN.md, "Analysis"). The seed paper ("Towards
Integrated Analytical Capacity") proposes a hybrid system in which missions
"gather information in the field and then share them through a network of
analytical components distributed throughout the system - for example, through
the UN's Offices on Drugs and Crime (UNODC)", each conducting "a predetermined
form of analysis on the shared data"; it asks for a capacity "to map spoiler
networks" across borders. UNODC's part is that map, drawn from pseudonyms only:

* recurring actors - a pseudonym seen again and again, in several places or by
  several sources (:mod:`._network`);
* brokers - the actors with the highest betweenness centrality on the
  actor-place graph, by Brandes' algorithm (:mod:`._brandes`, :mod:`._network`);
* cross-border corridors - consecutive countries on seizure routes, with their
  seizures and kilograms (:mod:`._routes`);
* seizure trends - year-over-year changes of annual seizure totals per country
  and drug group (:mod:`._trends`).

Thresholds: :mod:`.thresholds`. The analyzer: :mod:`._analyzer`.
"""

from analyzers.trafficking_network._analyzer import TraffickingNetworkAnalyzer

__all__ = ["TraffickingNetworkAnalyzer"]
