"""The evaluation (``bench/analysis/trafficking_network.py``) runs and its labels are cited."""

from __future__ import annotations

import csv

from bench.analysis.trafficking_network import PLACES, STATES, evaluate, score_places


def test_every_label_has_a_citation() -> None:
    for path in (PLACES, STATES):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert rows and all(row["citation"].strip() for row in rows)


def test_place_scoring_counts_wrong_codes_as_both_errors() -> None:
    rows = [
        {"name": "a", "alpha_3": "AAA"},
        {"name": "b", "alpha_3": "BBB"},
        {"name": "c", "alpha_3": ""},
    ]
    calls = {"a": ("AAA", True), "b": ("XXX", True), "c": ("CCC", True)}
    scored = score_places(rows, lambda name: calls[name])
    assert (scored.true_positive, scored.false_positive, scored.false_negative) == (1, 2, 1)


def test_quick_evaluation() -> None:
    result = evaluate(quick=True)
    assert result.rows_dropped == 0 and result.stable
    assert result.rows_read == 16_566 + 10_941
    for labelled in result.labelled:
        assert labelled.precision == 1.0 and labelled.recall == 1.0
    assert not any(name.startswith("Government of") for name in result.details["brokers"])
