"""``mission.security-risk``: hotspots, escalation flags, trends and conflict indicators (JMAC).

The field mission's Joint Mission Analysis Centre runs this analysis on every
``conflict-event/1`` packet it issues or receives (DESIGN.md, "Analysis"). The seed
paper ("Towards Integrated Analytical Capacity") asks for systems that pool data
from many sources "for shared 'risk assessment' and 'situation analysis'", with
field-based analytical units such as the Joint Mission Analysis Cells each
conducting "a predetermined form of analysis on the shared data". The mission's
part is *security risk*: where violence concentrates, whether it is getting worse,
whether it falls on civilians, how deadly it is, how far it spreads and how many
armed actors take part.

Method (version 2, converging: the findings and the summary are a function of the
*set* of events received, whatever their order; see :mod:`analyzers.converge`):

* **Counting by precision** (:mod:`analyzers.security_risk._hotspots`): an event is
  ranked and flagged only when its date places it in a month (UCDP ``date_prec``
  1-3, or a start and end in the same month) and its location in an admin1
  (``where_prec`` 1-4). Everything else - UCDP's year-long national summaries,
  events known only to the month span or year, regional (``where_prec`` 5) and
  country-level (6-7) events - is counted apart as "imprecise / unlocated", per
  country, admin1 and period: never an area-month, never a January spike.
* **Flags** (:mod:`analyzers.security_risk._flags`): escalation against the area's
  previous quarter, civilian harm, one-sided violence and new hotspots, with
  thresholds anchored in UCDP's 25-death minimum; judged on the complete tallies
  held and withdrawn when they no longer hold.
* **Summary** (:mod:`analyzers.security_risk._summary`): ``hotspots``,
  ``imprecise``, ``flags``, ``trends`` (for a named period with enough data),
  ``indicators`` (deadliness, diffusion over PRIO-GRID cells, fragmentation) and
  ``countries``.

Sources: Högbladh (2019), *UCDP GED Codebook version 19.1*, Uppsala University
(``date_prec``, ``where_prec``, ``type_of_violence``, ``priogrid_gid``); UCDP
Definitions (ucdp.uu.se, "Definitions": the 25 and 1,000 death thresholds);
Tollefsen, Strand & Buhaug (2012), "PRIO-GRID", Journal of Peace Research 49(2).
"""

from clearinghouse.analyzers.security_risk._analyzer import SecurityRiskAnalyzer

__all__ = ["SecurityRiskAnalyzer"]
