"""README.md's metrics table ("Observability") is exact: every metric the node exports is
listed with its exposed name, type, labels and meaning (its help text), and nothing else."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from clearinghouse.node.metrics import NodeMetrics
from clearinghouse.node.storage.sqlite_writers import WriterLockStats
from tests.support import ROOT

ROW = re.compile(r"^\| `(clearinghouse_[a-z_]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|$")


class Documented(NamedTuple):
    type: str
    labels: frozenset[str]
    meaning: str


def documented() -> dict[str, Documented]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Observability\n", 1)[1].split("\n#", 1)[0]
    table: dict[str, Documented] = {}
    for line in section.splitlines():
        found = ROW.match(line)
        if found:
            name, kind, labels, meaning = found.groups()
            names = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", labels))
            assert name not in table, f"{name} is listed twice"
            table[name] = Documented(kind, frozenset(names), meaning.strip())
    return table


def exposed(name: str, kind: str) -> str:
    """The name a family has on /metrics: counters gain ``_total``."""
    return f"{name}_total" if kind == "counter" else name


@pytest.fixture
def metrics() -> NodeMetrics:
    return NodeMetrics(
        outbox_depth=lambda: {"unodc": 3},
        writer_lock=WriterLockStats(acquisitions=2, wait_s=0.25, held_s=0.5),
    )


def test_the_table_lists_exactly_the_exported_families(metrics: NodeMetrics) -> None:
    table = documented()
    families = {exposed(f.name, f.type): f for f in metrics.registry.collect()}
    assert len(families) >= 15
    assert sorted(table) == sorted(families)
    for name, family in families.items():
        assert (table[name].type, table[name].meaning) == (family.type, family.documentation)


def test_the_documented_labels_are_exactly_each_metrics_labels(metrics: NodeMetrics) -> None:
    table = documented()
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        [family] = metric.describe()
        labels = table[exposed(family.name, family.type)].labels
        # .labels() refuses other names, and a labelled metric refuses to be used without
        try:
            child = metric.labels(**dict.fromkeys(labels, "x")) if labels else metric
            if isinstance(child, Histogram):
                child.observe(1)
            elif isinstance(child, Counter | Gauge):
                child.inc()
        except ValueError as exc:
            raise AssertionError(f"{family.name}: documented labels {sorted(labels)}") from exc
    for family in metrics.registry.collect():
        labels = table[exposed(family.name, family.type)].labels
        assert family.samples, family.name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (family.name, sample)
