"""The evaluation of ``mission.security-risk`` (``bench/analysis/security_risk.py``) on a slice.

The full evaluation issues all 16,566 events and takes minutes; here the reference
files are checked and the scoring is run on a slice of the real file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import yaml

from bench.analysis.security_risk import GED, REFERENCE, score_campaigns, score_codebook
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.security_risk import SecurityRiskAnalyzer
from clearinghouse.node.importers.ucdp import read_events
from tests.support import EXAMPLES

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def test_every_label_has_a_citation() -> None:
    with (REFERENCE / "campaigns.csv").open(encoding="utf-8", newline="") as handle:
        campaigns = list(csv.DictReader(handle))
    assert campaigns
    for row in campaigns:
        assert row["citation"].strip() and row["admin1"].strip() and row["campaign"].strip()
        assert MONTH.match(row["first_month"]) and MONTH.match(row["last_month"])
        assert row["first_month"] <= row["last_month"]
    with (REFERENCE / "codebook_precision.csv").open(encoding="utf-8", newline="") as handle:
        codes = list(csv.DictReader(handle))
    assert {(r["variable"], r["code"]) for r in codes} == {
        *(("date_prec", str(c)) for c in range(1, 6)),
        *(("where_prec", str(c)) for c in range(1, 8)),
    }
    assert all(row["citation"].strip() for row in codes)


def _slice(tmp_path: Path) -> Path:
    """The first 300 rows of the GED file and every national summary row."""
    out = tmp_path / "slice.csv"
    with GED.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [
            row
            for i, row in enumerate(reader)
            if i < 300 or (row["where_prec"] == "6" and row["date_prec"] == "5")
        ]
        fields = reader.fieldnames
    assert fields
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_codebook_scoring_on_a_slice(tmp_path: Path) -> None:
    path = _slice(tmp_path)
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    views = run.views("conflict-event/1", read_events(path))
    labelled, details = score_codebook(path, views)
    counted, national = labelled
    assert counted.labels == len(views) and counted.true_positive > 10
    assert (counted.precision, counted.recall) == (1.0, 1.0)
    assert details["national_summary_rows"] == national.labels > 0 and national.recall == 1.0


def test_campaign_scoring() -> None:
    def hot(admin1: str, month: str, deaths: int) -> dict[str, Any]:
        return {"country": "Syria", "admin1": admin1, "month": month, "fatalities_best": deaths}

    summary = {
        "flags": [
            {"country": "Syria", "admin1": "Rif Dimashq Governorate", "month": "2018-02"}
            | {"kind": "escalation"},
            {"country": "Syria", "admin1": "Idlib Governorate", "month": "2019-05"}
            | {"kind": "civilian-harm"},  # not an escalation call
        ],
        "hotspots": [
            hot("Rif Dimashq Governorate", "2018-02", 900),
            hot("Idlib Governorate", "2019-05", 800),
            hot("Aleppo Governorate", "2016-11", 700),
        ],
    }
    (flagged, top), details = score_campaigns(summary)
    assert flagged.true_positive == 1 and flagged.false_negative == flagged.labels - 1
    assert top.true_positive == 3  # Ghouta, Idlib, eastern Aleppo
    assert details["per_campaign"]["Rif Dimashq Governorate 2018-02/2018-03"] == ["2018-02"]
