"""The labelled reference sets and the evaluation's scoring, on small slices (the whole
evaluation, ``python -m bench analysis --only undp.illicit-economy``, takes minutes)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.analysis._evaluation import read_labels
from bench.analysis.illicit_economy import (
    JOINS,
    SHOCKS,
    UNITS,
    score_joins,
    score_shocks,
    score_units,
)
from clearinghouse.analyzers.illicit_economy._names import join_areas


@pytest.mark.parametrize("path", [JOINS, SHOCKS, UNITS])
def test_every_label_has_a_citation(path: Path) -> None:
    rows = read_labels(path)  # raises on a label without one
    assert rows and all(len(r["citation"]) > 40 for r in rows)


def test_the_join_labels_score_the_join_of_the_shipped_names() -> None:
    rows = read_labels(JOINS)
    prices = tuple(sorted({r["price_admin1"] for r in rows}))
    conflict = tuple(sorted({r["conflict_admin1"] for r in rows}))
    scored = score_joins(rows, dict(join_areas(prices, conflict).pairs))
    assert (scored.true_positive, scored.false_positive, scored.false_negative) == (14, 0, 0)
    assert scored.labels == 20  # 14 same governorate, 6 confusable different ones


def test_shock_calls_need_two_commodities_in_the_window() -> None:
    rows = [r for r in read_labels(SHOCKS) if r["market"] in ("Al-Cha'ar", "Lattakia")]

    def anomaly(subject: str, period: str) -> dict[str, str]:
        return {"kind": "price-anomaly", "subject": subject, "period": period}

    findings = [
        anomaly("Al-Cha'ar (Aleppo, SYR): Wheat flour, KG, Retail", "2016-09"),
        anomaly("Al-Cha'ar (Aleppo, SYR): Rice, KG, Retail", "2016-11"),
        anomaly("Lattakia (Lattakia, SYR): Rice, KG, Retail", "2020-05"),  # one commodity
        anomaly("Lattakia (Lattakia, SYR): Tea, KG, Retail", "2019-01"),  # outside
    ]
    scored = score_shocks(rows, findings)
    assert (scored.true_positive, scored.false_positive, scored.false_negative) == (1, 0, 0)


def test_unit_labels_are_scored_only_where_present() -> None:
    rows = read_labels(UNITS)
    first = rows[0]
    key = (first["market"], first["commodity"], first["unit"], first["price_type"], first["month"])
    subject = f"{first['market']} (Aleppo, SYR): {first['commodity']}, {first['unit']}, Wholesale"
    findings = [{"kind": "unit-mismatch", "subject": subject, "period": first["month"]}]
    scored = score_units(rows, findings, {key}, {first["market"]: "Aleppo"})
    assert (scored.labels, scored.true_positive) == (1, 1)


def test_the_unit_labels_name_units_of_the_shipped_file() -> None:
    import gzip

    from tests.support import EXAMPLES

    with gzip.open(EXAMPLES / "data" / "wfp_food_prices_syr.csv.gz", "rt", encoding="utf-8") as f:
        units = {r["unit"] for r in csv.DictReader(f)}
    assert {r["unit"] for r in read_labels(UNITS)} <= units
