"""``python -m bench analysis [--quick] [--only ID] [--out FILE]``: every analyzer's evaluation.

Prints, per analyzer, one table: rows read and dropped before analysis (must be
0), whether several orders of the same input gave the same final findings and
summary, the analyzer's records per second inside ``analyze`` beside the rate at
which the same machine issues and verifies a recipient's view of a packet (the
protocol's own cost per record, measured in this run), and precision and recall
for each labelled reference set. Then the same analyzers on codebook-generated
GED files of several countries (:mod:`bench.analysis.countries`): every row
accepted and analysed, and what each analyzer makes of each country.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import time
from pathlib import Path
from typing import Any

import yaml

from bench._report import Row, figures, log, note, write_json
from bench.analysis import countries
from bench.analysis._evaluation import Evaluation
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.registry import load
from clearinghouse.node.importers.records_file import read_records
from clearinghouse.node.localfed import FEDERATION_YAML

__all__ = ["ANALYZERS", "main", "protocol_rate"]

ROOT = Path(__file__).resolve().parents[2]
GED = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"

#: analyzer id -> the module of bench.analysis that evaluates it
ANALYZERS: dict[str, str] = {
    "mission.security-risk": "security_risk",
    "dpa.spoiler-risk": "spoiler_risk",
    "sanctions.screening": "sanctions_screening",
    "unodc.trafficking-network": "trafficking_network",
    "undp.illicit-economy": "illicit_economy",
}


def protocol_rate(n: int) -> float:
    """Views issued and verified per second (a GED event, as mission's analyzer sees it)."""
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    run = OfflineRun.start(load("mission.security-risk"), config)
    records = [r for _, r in itertools.islice(read_records(GED, "ucdp-ged", "conflict-event/1"), n)]
    started = time.perf_counter()
    run.views("conflict-event/1", records)  # type: ignore[arg-type]
    return len(records) / (time.perf_counter() - started)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _rows(result: Evaluation, yardstick: float) -> list[Row | None]:
    rows: list[Row | None] = [
        ("rows read", f"{result.rows_read:,}", "", ""),
        ("rows dropped before analysis", f"{result.rows_dropped:,}", "", ""),
        (
            f"same final picture over {result.permutations} shuffles",
            "yes" if result.stable else "NO",
            "",
            "",
        ),
        ("findings that hold at the end", f"{result.findings:,}", "", ""),
        (
            "analyze, records/s",
            f"{result.records_per_s:,.0f}/s",
            f"issue+verify {yardstick:,.0f}/s",
            f"{result.records_per_s / yardstick:.2f}",
        ),
    ]
    for label in result.labelled:
        rows += [
            None,
            (f"{label.name}: labels", f"{label.labels}", label.source, ""),
            (f"{label.name}: precision", _fmt(label.precision), "", ""),
            (f"{label.name}: recall", _fmt(label.recall), "", ""),
        ]
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench analysis",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="2 shuffles, smaller samples")
    parser.add_argument("--records", type=int, help="(ignored: each evaluation sizes itself)")
    parser.add_argument("--only", choices=sorted(ANALYZERS), action="append", help="analyzer")
    parser.add_argument("--no-countries", action="store_true", help="skip the GED countries")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    log("analysis: the protocol's issue+verify rate as the yardstick")
    yardstick = protocol_rate(200 if args.quick else 1000)
    out: dict[str, Any] = {"issue_verify_per_s": yardstick, "analyzers": {}}
    for analyzer_id in args.only or list(ANALYZERS):
        log(f"analysis: evaluating {analyzer_id}")
        module = importlib.import_module(f"bench.analysis.{ANALYZERS[analyzer_id]}")
        started = time.monotonic()
        result: Evaluation = module.evaluate(args.quick)
        figures(f"{analyzer_id} ({time.monotonic() - started:.0f} s)", _rows(result, yardstick))
        out["analyzers"][analyzer_id] = result.as_json()
    if not args.no_countries:
        out["countries"] = countries.run(args.quick)
    dropped = sum(a["rows_dropped"] for a in out["analyzers"].values())
    unstable = [a for a, r in out["analyzers"].items() if not r["stable"]]
    note(f"rows dropped before analysis: {dropped}; unstable over shuffles: {unstable or 'none'}")
    write_json(args.out, out)
    return out
