"""``python -m bench analysis``: each analyzer measured against labelled references.

Each built-in analyzer has a module here with ``evaluate(quick: bool) -> Evaluation``:
it runs the analyzer offline (:mod:`analyzers.offline`) on real and codebook-generated
records, compares its calls with the labelled reference set kept under
``tests/analyzers/<package>/reference/`` (a citation for every label), and measures

* precision and recall where labels exist,
* rows read and rows dropped before analysis (must be 0),
* stability: the same final findings and summary for several orders of the same input,
* records per second inside ``analyze`` (issuing and verifying packets left out).

:mod:`bench.analysis.run` prints one table of all of them and writes the JSON.
"""

from __future__ import annotations

from bench.analysis._evaluation import Evaluation, Labelled, permutation_stability

__all__ = ["Evaluation", "Labelled", "permutation_stability"]
