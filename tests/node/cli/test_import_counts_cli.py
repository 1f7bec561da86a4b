"""``ingest`` and ``analyze`` report rows read / accepted / refused by reason; ``analyze``
prints the final findings, the same for any order of the file (issue 15)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.state import State
from clearinghouse.node.cli import analyze as analyze_cli
from clearinghouse.node.cli import ingest as ingest_cli
from clearinghouse.node.cli.main import app
from clearinghouse.node.importers import ImportCounts
from clearinghouse.node.importers.records_file import read_records
from tests.codebooks import ucdp_ged, wfp_prices

runner = CliRunner()


class AreaCounter:
    """A converging analyzer for the test: events and deaths per first-order area,
    a finding for each area with at least 3 events; tallies are integers."""

    id: ClassVar[str] = "mission.area-counter"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset({"conflict-event/1"})

    def analyze(self, view: View, state: State) -> list[Finding]:
        area = view.get("admin1") or "(unlocated)"
        key = f"tally:{area}"
        events, deaths = state.get(key) or (0, 0)
        events, deaths = events + 1, deaths + int((view.get("deaths") or {}).get("best", 0))
        state[key] = [events, deaths]
        findings = []
        if events >= 3:
            findings.append(
                Finding(
                    kind="busy-area",
                    subject=area,
                    admin1=area,
                    explanation=f"{events} events, {deaths} deaths in {area}",
                    indicators={"events": events, "deaths": deaths},
                )
            )
        return reconcile(state, area, findings)

    def summary(self, state: State) -> dict[str, Any]:
        return {key: list(value) for key, value in sorted(state.items("tally:"))}


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> AreaCounter:
    analyzer = AreaCounter()
    monkeypatch.setattr(analyze_cli, "load", lambda _id: analyzer)
    return analyzer


def ged_file(path: Path, rows: list[dict[str, str]]) -> Path:
    return ucdp_ged.write_csv(path, rows, "25.1")


def run_analyze(path: Path, *extra: str) -> Any:
    args = ["analyze", "--analyzer", "mission.area-counter", "--format", "ucdp-ged", str(path)]
    return runner.invoke(app, [*args, *extra])


@pytest.mark.timeout(120)
def test_analyze_prints_the_final_findings_the_same_for_any_order(
    tmp_path: Path, counter: AreaCounter
) -> None:
    rows = ucdp_ged.rows("Mali", 40, seed=3, layout="25.1")
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    first = run_analyze(ged_file(tmp_path / "a.csv", rows))
    second = run_analyze(ged_file(tmp_path / "b.csv", shuffled))
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    findings = [json.loads(line) for line in lines]
    assert findings and all(f["kind"] == "busy-area" for f in findings)
    assert [f["subject"] for f in findings] == sorted(f["subject"] for f in findings)
    assert sum(f["indicators"]["events"] for f in findings) <= 40
    assert "rows read 40, accepted 40, refused 0" in first.stderr
    assert f"{len(findings)} finding(s) hold at the end" in first.stderr


@pytest.mark.timeout(120)
def test_analyze_stream_prints_what_changed_after_each_record(
    tmp_path: Path, counter: AreaCounter
) -> None:
    rows = ucdp_ged.rows("Sudan", 25, seed=4, layout="25.1")
    result = run_analyze(ged_file(tmp_path / "a.csv", rows), "--stream")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(set(line) == {"line", "findings"} for line in lines)
    assert [line["line"] for line in lines] == sorted(line["line"] for line in lines)
    assert len(lines) == sum(1 for line in lines if line["findings"])


@pytest.mark.timeout(120)
def test_analyze_counts_refused_rows_by_reason(tmp_path: Path, counter: AreaCounter) -> None:
    rows = ucdp_ged.rows("Colombia", 12, seed=5, layout="25.1")
    rows[2]["latitude"] = "north"
    rows[5]["latitude"] = "south"
    rows[7]["type_of_violence"] = "4"
    result = run_analyze(ged_file(tmp_path / "a.csv", rows), "--summary", str(tmp_path / "s.json"))
    assert result.exit_code == 0, result.output
    assert "refused: line 4, column 'latitude': 'north' is not a number" in result.stderr
    assert "rows read 12, accepted 9, refused 3" in result.stderr
    assert "  refused 2: column 'latitude': not a number" in result.stderr
    assert "  refused 1: column 'type_of_violence': not a value the codebook lists" in (
        result.stderr
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    assert sum(events for events, _ in summary.values()) == 9


def test_final_lines_are_sorted_by_identity() -> None:
    findings = [
        {"kind": "b", "subject": "x", "explanation": "."},
        {"kind": "a", "subject": "y", "period": "2020-02", "explanation": "."},
        {"kind": "a", "subject": "y", "period": "2020-01", "explanation": "."},
    ]
    lines = analyze_cli.final_lines(findings)
    assert [json.loads(line)["kind"] for line in lines] == ["a", "a", "b"]
    assert json.loads(lines[0])["period"] == "2020-01"


# -- ingest -----------------------------------------------------------------------------------


def node_that_refuses(code: str, every: int) -> httpx.MockTransport:
    """A node's local API that refuses every ``every``-th record of a batch with ``code``."""

    def handle(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["records"]
        rejected = [
            {"index": i, "status": 422, "code": code, "detail": "seen before"}
            for i in range(len(records))
            if i % every == every - 1
        ]
        accepted = len(records) - len(rejected)
        answer = {"accepted": accepted, "issued": accepted, "duplicates": 0}
        return httpx.Response(200, json={**answer, "rejected": rejected, "packets": []})

    return httpx.MockTransport(handle)


def test_post_batches_counts_importer_and_node_refusals(tmp_path: Path) -> None:
    rows = ucdp_ged.rows("Ukraine", 20, seed=6, layout="23.1")
    rows[0]["best"] = "many"
    path = ucdp_ged.write_csv(tmp_path / "ged.csv", rows, "23.1")
    counts = ImportCounts()
    with httpx.Client(base_url="http://node", transport=node_that_refuses("duplicate", 5)) as c:
        accepted, problems = ingest_cli.post_batches(
            c,
            "conflict-event/1",
            read_records(path, "ucdp-ged", "conflict-event/1"),
            batch=10,
            counts=counts,
        )
    # batch 1: 9 records (1 refused by the importer), the node refuses its 5th; batch 2:
    # 10 records, the node refuses the 5th and the 10th.
    assert counts.as_json() == {
        "read": 20,
        "accepted": 16,
        "refused": 4,
        "refused_by": {"column 'best': not an integer": 1, "node refused: duplicate": 3},
    }
    assert accepted == 16 and len(problems) == 4


def test_ingest_prints_rows_read_accepted_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ucdp_ged.rows("Myanmar", 8, seed=8, layout="25.1")
    rows[3]["date_prec"] = "9"
    path = ucdp_ged.write_csv(tmp_path / "ged.csv", rows, "25.1")
    real_client = httpx.Client

    def client(**kw: Any) -> httpx.Client:
        return real_client(**kw, transport=node_that_refuses("duplicate", 100))

    monkeypatch.setattr(httpx, "Client", client)
    args = ["--node", "http://node", "--token", "t", "--schema", "conflict-event/1"]
    result = runner.invoke(app, ["ingest", *args, "--format", "ucdp-ged", str(path)])
    assert result.exit_code == 1  # a row was refused
    assert result.stdout.splitlines() == [
        "rows read 8, accepted 7, refused 1",
        "  refused 1: column 'date_prec': not a value the codebook lists",
    ]
    assert "refused: line 5, column 'date_prec': 9 is not a date_prec code" in result.stderr


@pytest.mark.timeout(120)
def test_analyze_counts_a_json_record_that_breaks_the_schema(
    tmp_path: Path, counter: AreaCounter
) -> None:
    rows = ucdp_ged.rows("Ukraine", 3, seed=9, layout="25.1")
    path = ucdp_ged.write_csv(tmp_path / "ged.csv", rows, "25.1")
    records = [r for _, r in read_records(path, "ucdp-ged", "conflict-event/1")]
    assert all(isinstance(r, dict) for r in records)
    second = records[1]
    assert isinstance(second, dict)
    records[1] = {**second, "type_of_violence": 7}
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n")
    args = ["analyze", "--analyzer", "mission.area-counter", "--format", "jsonl"]
    result = runner.invoke(app, [*args, "--schema", "conflict-event/1", str(jsonl)])
    assert result.exit_code == 0, result.output
    assert "rows read 4, accepted 2, refused 2" in result.stderr
    assert "refused 1: not JSON" in result.stderr
    assert "refused: line 2: " in result.stderr


def test_a_wfp_file_that_names_no_country_is_warned_of_and_placed_by_country(
    tmp_path: Path,
) -> None:
    rows = wfp_prices.rows("Mali", 30, seed=4)
    renamed = wfp_prices.write_csv(tmp_path / "prices.csv", rows)
    args = ["analyze", "--analyzer", "undp.illicit-economy", "--format", "wfp-prices"]
    told = runner.invoke(app, [*args, str(renamed)])
    assert told.exit_code == 0, told.output
    assert "warning: prices.csv names no country" in told.stderr
    assert "rows read 30, accepted 30" in told.stderr  # warned of, never dropped
    placed = runner.invoke(app, [*args, "--country", "mli", str(renamed)])
    assert placed.exit_code == 0 and "warning" not in placed.stderr
    hdx = wfp_prices.write_csv(tmp_path / "wfp_food_prices_mli.csv", rows)
    assert runner.invoke(app, [*args, str(hdx)]).stdout == placed.stdout
    wrong = runner.invoke(app, [*args, "--country", "Mali", str(renamed)])
    assert wrong.exit_code == 2 and "ISO 3166-1 alpha-3" in wrong.stderr
    ged = ged_file(tmp_path / "ged.csv", ucdp_ged.rows("Mali", 5, seed=1, layout="25.1"))
    other = ["analyze", "--analyzer", "mission.security-risk", "--format", "ucdp-ged"]
    misplaced = runner.invoke(app, [*other, "--country", "MLI", str(ged)])
    assert misplaced.exit_code == 2 and "--country is for wfp-prices files" in misplaced.stderr
