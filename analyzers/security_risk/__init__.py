"""``mission.security-risk``: incident hotspots, trends and escalation flags (JMAC).

The field mission's Joint Mission Analysis Centre runs this analysis on every
``conflict-event/1`` packet it issues or receives (DESIGN.md, "Analysis"). The seed
paper ("Towards Integrated Analytical Capacity") asks for systems that pool data
from many sources "for shared 'risk assessment' and 'situation analysis'", with
field-based analytical units such as the Joint Mission Analysis Cells each
conducting "a predetermined form of analysis on the shared data" whose results are
shared among all participating bodies. The mission's part is *security risk*:
where violence concentrates, whether it is getting worse, and whether it falls on
civilians.

What it computes, per country x admin1 x month (the month of ``date_start``, or
the ``month`` claim when the date is withheld):

* the **hotspot** tally - events, deaths (best, low, high), civilian deaths and
  the one-sided-violence share (``type_of_violence == 3``);
* the **trend** of each area - its latest month against the mean of its previous
  3 months;
* **escalation flags** with stated thresholds (see
  :mod:`analyzers.security_risk._flags`): escalation against the baseline,
  civilian harm, one-sided violence, and a new hotspot entering the country's top
  areas.

Every result with findings is signed and broadcast to all participants, so a
finding reports only a change - a flag raised, or its level climbing - and a
typical event yields none.
"""

from analyzers.security_risk._analyzer import SecurityRiskAnalyzer

__all__ = ["SecurityRiskAnalyzer"]
