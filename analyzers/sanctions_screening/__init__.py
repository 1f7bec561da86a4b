"""``sanctions.screening``: disclosed names against the UN Security Council Consolidated List.

The Security Council sanctions panel runs this analysis on every
``conflict-event/1``, ``seizure/1`` and ``financial-flow/1`` packet whose policy
discloses names to it (DESIGN.md, "Analysis"). The seed paper ("Towards
Integrated Analytical Capacity") has peace operations "more systematically
connected to sanctions mechanisms" and sanctions panels sharing information with
the missions' Joint Mission Analysis Cells; in the hybrid system each body runs
"a predetermined form of analysis on the shared data, and the results would be
shared among all the participating bodies". The panel's part is to say when a
name in the shared data matches a listed individual or entity.

Modules: :mod:`._consolidated_list` reads the official XML and the alias table
bundled in ``data/`` (the analyzer's only I/O, at construction); :mod:`._names`
transliterates (``anyascii``) and folds spelling variants; :mod:`._index` finds
candidates and scores them (``rapidfuzz``); :mod:`._analyzer` turns hits into
order-free tallies and findings; :mod:`.thresholds` states the thresholds.
"""

from clearinghouse.analyzers.sanctions_screening._analyzer import (
    DEFAULT_LIST,
    SanctionsScreeningAnalyzer,
)
from clearinghouse.analyzers.sanctions_screening._consolidated_list import ConsolidatedListError

__all__ = ["DEFAULT_LIST", "ConsolidatedListError", "SanctionsScreeningAnalyzer"]
