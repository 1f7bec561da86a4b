"""``mission.security-risk`` on codebook-generated GED files of other countries.

Rows from :mod:`tests.codebooks.ucdp_ged` (every ``date_prec`` and ``where_prec`` code,
national summaries, ``-1`` unknowns, the global 25.1 layout) are imported as
``clearinghouse ingest`` would and analysed as the mission sees them: the same
picture in two orders, no national summary or unlocated event ranked, and the
codebook's precision rules followed for every event.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from bench.analysis.security_risk import score_codebook
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from clearinghouse.analyzers.security_risk import SecurityRiskAnalyzer
from clearinghouse.analyzers.security_risk._analyzer import IMPRECISE_KIND
from clearinghouse.node.importers._errors import RowRejected
from clearinghouse.node.importers.records_file import read_records
from tests.codebooks import ucdp_ged
from tests.support import EXAMPLES

SCHEMA = "conflict-event/1"


@pytest.mark.parametrize("country", ["Mali", "DR Congo", "Colombia"])
def test_a_generated_ged_file_of_another_country(country: str, tmp_path: Path) -> None:
    rows = ucdp_ged.rows(country, 300, seed=3, layout="25.1", years=(2018, 2020))
    path = ucdp_ged.write_csv(tmp_path / "ged.csv", rows, "25.1")
    items = [item for _, item in read_records(path, "ucdp-ged", SCHEMA)]
    records = [item for item in items if not isinstance(item, RowRejected)]
    assert len(records) > 250
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    views = run.views(SCHEMA, records)
    picture = final_picture(SecurityRiskAnalyzer(), views)
    shuffled = list(views)
    random.Random(7).shuffle(shuffled)
    again = final_picture(SecurityRiskAnalyzer(), shuffled)
    assert (again.findings, again.summary) == (picture.findings, picture.summary)

    summary = picture.summary
    name = ucdp_ged.country_of(country).name
    assert summary["hotspots"] and all(h["admin1"] for h in summary["hotspots"])
    assert {h["country"] for h in summary["hotspots"]} == {name}
    assert summary["imprecise"]
    (totals,) = summary["countries"]
    assert totals["events"] == len(records)
    kept = sum(h["events"] for h in summary["hotspots"])
    assert kept + sum(i["events"] for i in summary["imprecise"]) == len(records)
    for finding in picture.findings:
        if finding["kind"] == IMPRECISE_KIND:
            assert finding["country"] == name and "level" not in finding
            continue
        assert finding["admin1"] and finding["country"] == name and finding["score"] >= 1
    if len(records) == len(rows):  # every row accepted: the codebook rules, event by event
        counted, national = score_codebook(path, views)[0]
        assert (counted.precision, counted.recall) == (1.0, 1.0)
        assert national.labels > 0 and national.recall == 1.0
