"""Evaluation of ``sanctions.screening``: names from conflict data against the UN list.

Labelled reference (``tests/analyzers/sanctions_screening/reference/names.csv``, a
citation per row): the actor names of the UCDP GED Syria file (``side_a``/``side_b``,
coalitions split into their groups) and variant spellings of them and of other
listed groups (transliterations, an added acronym in brackets, Arabic and Cyrillic
script, a listed person's name without middle names), each labelled with the list
reference it denotes or ``none``. Every label cites the list entry and which of its
names or aliases supports it, or the UN document for a name the list does not
spell (S/RES/2253 (2015) for "Da'esh"); a negative cites the search of the list
file for the group's names.

Scoring, per labelled name screened with the kind of name it is (a conflict actor
is an entity): a positive is a true positive when the labelled reference is among
the hits, else a false negative; every other reference hit (on a positive or a
negative) is a false positive.

The GED file itself: every row read through the importer (rows refused are
dropped and counted), the events issued as the sanctions panel's views, analysed
in file order and in 2 (quick) or 5 shuffled orders; in quick mode every fifth
event is analysed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.analysis._evaluation import (
    Evaluation,
    Labelled,
    permutation_stability,
    read_labels,
    read_source,
)
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.sanctions_screening import SanctionsScreeningAnalyzer
from clearinghouse.node.localfed import FEDERATION_YAML

__all__ = ["REFERENCE", "evaluate", "read_reference", "score_names"]

ROOT = Path(__file__).resolve().parents[2]
GED = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
REFERENCE = ROOT / "tests" / "analyzers" / "sanctions_screening" / "reference" / "names.csv"
SCHEMA = "conflict-event/1"
_KINDS = {"entity": "entity", "individual": "individual", "unknown": None}


def read_reference(path: Path = REFERENCE) -> list[dict[str, str]]:
    """The labelled names; every row must have a citation and a known kind."""
    rows = read_labels(path)
    for row in rows:
        assert row["kind"] in _KINDS, row["kind"]
        assert row["expected"] == "none" or "." in row["expected"], row["expected"]
    return rows


def score_names(
    analyzer: SanctionsScreeningAnalyzer, rows: list[dict[str, str]]
) -> tuple[Labelled, dict[str, Any]]:
    """Precision and recall of "listed entry matched" on the labelled names."""
    tp = fp = fn = 0
    missed: list[str] = []
    wrong: list[str] = []
    for row in rows:
        expected = row["expected"]
        found = {hit.reference for hit in analyzer.screen(row["name"], _KINDS[row["kind"]])}
        if expected != "none":
            if expected in found:
                tp += 1
            else:
                fn += 1
                missed.append(_shown(row))
        extra = sorted(found - {expected})
        fp += len(extra)
        wrong += [f"{_shown(row)} -> {reference}" for reference in extra]
    source = str(REFERENCE.relative_to(ROOT))
    labelled = Labelled("listed entry matched", len(rows), tp, fp, fn, source)
    positives = sum(1 for row in rows if row["expected"] != "none")
    details = {
        "labels": len(rows),
        "positives": positives,
        "negatives": len(rows) - positives,
        "missed": missed,
        "false_hits": wrong,
    }
    return labelled, details


def _shown(row: dict[str, str]) -> str:
    """A labelled case as the report shows it: a group by name, a person by label only."""
    if row["kind"] == "individual":
        return f"individual labelled {row['expected']}"
    return row["name"]


def evaluate(quick: bool) -> Evaluation:
    analyzer = SanctionsScreeningAnalyzer()
    labelled, label_details = score_names(analyzer, read_reference())

    records, rows_read, dropped = read_source(GED, "ucdp-ged", SCHEMA)
    analysed = records[::5] if quick else records
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    run = OfflineRun.start(analyzer, config, participant="sanctions", issuer="mission")
    views = run.views(SCHEMA, analysed)
    permutations = 2 if quick else 5
    stable, picture, rate = permutation_stability(SanctionsScreeningAnalyzer, views, permutations)
    findings = {
        f["subject"].removeprefix("sanctions:"): {
            "level": f.get("level"),
            "matched": f["indicators"]["matched_list_name"],
            "hits": f["indicators"]["hits_band"],
            "linked_individuals": len(
                [r for r in str(f["indicators"]["linked_individuals"]).split(", ") if r]
            ),
        }
        for f in picture.findings
    }
    summary = picture.summary
    return Evaluation(
        analyzer=analyzer.id,
        rows_read=rows_read,
        rows_dropped=dropped,
        records_per_s=rate,
        permutations=permutations,
        stable=stable,
        labelled=[labelled],
        findings=len(picture.findings),
        details={
            "events_analysed": len(views),
            "names_screened": summary["names_screened"],
            "names_with_hits": summary["names_with_hits"],
            "findings": findings,
            "withdrawn": picture.withdrawn,
            "reference": label_details,
        },
    )
