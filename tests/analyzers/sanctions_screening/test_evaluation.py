"""The labelled reference set and the evaluation of ``bench analysis``."""

from __future__ import annotations

from bench.analysis.sanctions_screening import evaluate, read_reference, score_names
from clearinghouse.analyzers.sanctions_screening import SanctionsScreeningAnalyzer


def test_every_label_is_cited_and_names_an_entry_of_the_list() -> None:
    rows = read_reference()
    entries = SanctionsScreeningAnalyzer().consolidated_list.entries
    assert len(rows) >= 80
    assert sum(r["expected"] == "none" for r in rows) >= 30  # negatives too
    for row in rows:
        assert row["citation"].strip()
        assert row["expected"] == "none" or row["expected"] in entries, row["expected"]
        if row["expected"] != "none" and row["citation"].startswith("UN SC Consolidated"):
            assert row["expected"] in row["citation"]
    assert len({r["name"] for r in rows}) == len(rows)


def test_scores_on_the_reference() -> None:
    labelled, details = score_names(SanctionsScreeningAnalyzer(), read_reference())
    assert labelled.false_positive == 0, details["false_hits"]
    assert labelled.recall is not None and labelled.recall >= 0.95, details["missed"]


def test_quick_evaluation() -> None:
    result = evaluate(quick=True)
    assert result.rows_read == 16_566 and result.rows_dropped == 0
    assert result.stable and result.permutations == 2
    assert set(result.details["findings"]) >= {"QDe.115", "QDe.137"}
    assert result.details["withdrawn"] == 0
