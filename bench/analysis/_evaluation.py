"""What one analyzer's evaluation reports, and the measurements every evaluation shares."""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearinghouse.analyzers.base import Analyzer, View
from clearinghouse.analyzers.offline import Picture, final_picture
from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers.records_file import read_records

__all__ = [
    "Evaluation",
    "Labelled",
    "permutation_stability",
    "read_labels",
    "read_source",
    "score_labels",
]


def read_labels(path: Path) -> list[dict[str, str]]:
    """A labelled reference set (CSV); raises :class:`ValueError` for a label without
    a citation."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if not (row.get("citation") or "").strip():
            raise ValueError(f"{path.name}: a label without a citation: {row}")
    return rows


def read_source(path: Path, format: str, schema: str) -> tuple[list[dict[str, Any]], int, int]:
    """Every record of a source file as ``clearinghouse ingest`` reads it: (records, rows
    read, rows refused)."""
    records: list[dict[str, Any]] = []
    rows_read = refused = 0
    for _, item in read_records(path, format, schema):
        rows_read += 1
        if isinstance(item, RowRejected):
            refused += 1
        else:
            records.append(dict(item))
    return records, rows_read, refused


@dataclass(frozen=True)
class Labelled:
    """Precision and recall of one kind of call against a labelled reference set."""

    name: str  # what is called, e.g. "listed entity matched"
    labels: int  # labelled cases
    true_positive: int
    false_positive: int
    false_negative: int
    source: str  # the reference file, under tests/

    @property
    def precision(self) -> float | None:
        called = self.true_positive + self.false_positive
        return None if called == 0 else self.true_positive / called

    @property
    def recall(self) -> float | None:
        actual = self.true_positive + self.false_negative
        return None if actual == 0 else self.true_positive / actual

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "labels": self.labels,
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "false_negative": self.false_negative,
            "precision": self.precision,
            "recall": self.recall,
            "source": self.source,
        }


@dataclass(frozen=True)
class Evaluation:
    """One analyzer's figures."""

    analyzer: str
    rows_read: int
    rows_dropped: int
    records_per_s: float
    permutations: int
    stable: bool
    labelled: Sequence[Labelled] = ()
    findings: int = 0
    #: per data set or country, whatever the analyzer reports (counts, calls, ...)
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "rows_read": self.rows_read,
            "rows_dropped": self.rows_dropped,
            "records_per_s": self.records_per_s,
            "permutations": self.permutations,
            "stable": self.stable,
            "findings": self.findings,
            "labelled": [label.as_json() for label in self.labelled],
            "details": self.details,
        }


def _fingerprint(picture: Picture) -> str:
    return json.dumps([picture.findings, picture.summary], sort_keys=True, ensure_ascii=False)


def permutation_stability(
    make: Callable[[], Analyzer], views: Sequence[View], permutations: int, *, seed: int = 0
) -> tuple[bool, Picture, float]:
    """Analyse ``views`` in file order and in ``permutations`` shuffled orders.

    Returns whether every order gave the same final findings and summary, the
    picture in file order, and records per second inside ``analyze`` in file order.
    """
    started = time.perf_counter()
    first = final_picture(make(), views)
    rate = len(views) / max(time.perf_counter() - started, 1e-9)
    expected = _fingerprint(first)
    rng = random.Random(seed)
    stable = True
    for _ in range(permutations):
        order = list(views)
        rng.shuffle(order)
        stable = stable and _fingerprint(final_picture(make(), order)) == expected
    return stable, first, rate


def score_labels(
    name: str, source: str, expected: dict[str, bool], called: Callable[[str], bool]
) -> Labelled:
    """Compare the calls ``called(case)`` with ``expected[case]`` (True: should be called)."""
    tp = fp = fn = 0
    for case, should in sorted(expected.items()):
        did = called(case)
        tp += did and should
        fp += did and not should
        fn += should and not did
    return Labelled(name, len(expected), tp, fp, fn, source)
