"""Evaluation of ``mission.security-risk`` on the UCDP GED Syria file (2016-2019).

Labelled references (``tests/analyzers/security_risk/reference/``, a citation per row):

* ``campaigns.csv`` - major offensives documented by the UN Commission of Inquiry on
  Syria and the Security Council, as area-periods (admin1, first and last month).
  Two calls are scored per campaign: *flagged* (an ``escalation`` or ``new-hotspot``
  flag holds for the area in a month of the period) and *top hotspot* (the area
  ranks in the country's top 3 area-months by deaths in a month of the period).
  The labels are positives only (a quiet area-month is not something UN reports
  document), so their precision is not measured; ``details`` gives the share of all
  flagged area-months that fall inside a labelled campaign, a lower bound on
  precision since the labels list only the largest campaigns.
* ``codebook_precision.csv`` - how the GED codebook's ``date_prec`` and
  ``where_prec`` codes decide whether an event can be ranked as an area-month or
  must be counted apart. Applied to the raw CSV columns of every event (not to
  the importer's output), and compared with how the analyzer counted the event:
  precision and recall of "counted apart", and the national summary rows (the
  codebook's year-long, country-level events), which must all be apart.

``evaluate(quick)``: the whole file (16,566 events) in file order and in 2 (quick)
or 5 shuffled orders.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.analysis._evaluation import (
    Evaluation,
    Labelled,
    permutation_stability,
    read_labels,
    read_source,
    score_labels,
)
from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.security_risk import SecurityRiskAnalyzer
from clearinghouse.analyzers.security_risk._hotspots import incident_of
from clearinghouse.node.localfed import FEDERATION_YAML

__all__ = ["REFERENCE", "evaluate", "score_campaigns", "score_codebook"]

ROOT = Path(__file__).resolve().parents[2]
GED = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
REFERENCE = ROOT / "tests" / "analyzers" / "security_risk" / "reference"
SCHEMA = "conflict-event/1"
TOP_RANK = 3
_FLAG_KINDS = {"escalation", "new-hotspot"}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _campaigns() -> list[dict[str, str]]:
    return read_labels(REFERENCE / "campaigns.csv")


def score_campaigns(summary: Mapping[str, Any]) -> tuple[list[Labelled], dict[str, Any]]:
    """The campaign labels against a summary's ``flags`` and ``hotspots``."""
    campaigns = _campaigns()
    flagged = {
        (f["country"], f["admin1"], f["month"])
        for f in summary["flags"]
        if f["kind"] in _FLAG_KINDS
    }
    ranked: dict[tuple[str, str], list[str]] = {}
    for h in summary["hotspots"]:  # already by deaths, descending
        ranked.setdefault((h["country"], h["month"]), []).append(h["admin1"])

    def months_of(row: Mapping[str, str]) -> list[tuple[str, str, str]]:
        return [
            (row["country"], row["admin1"], month)
            for (country, month) in ranked
            if country == row["country"] and row["first_month"] <= month <= row["last_month"]
        ] or [(row["country"], row["admin1"], row["first_month"])]

    cases = {f"{r['admin1']} {r['first_month']}/{r['last_month']}": r for r in campaigns}
    source = _rel(REFERENCE / "campaigns.csv")
    flag_call = score_labels(
        "campaign flagged (escalation/new-hotspot; positives only)",
        source,
        dict.fromkeys(cases, True),
        lambda case: any(m in flagged for m in months_of(cases[case])),
    )
    top_call = score_labels(
        f"campaign in the top {TOP_RANK} hotspots (positives only)",
        source,
        dict.fromkeys(cases, True),
        lambda case: any(
            a in ranked.get((c, m), [])[:TOP_RANK] for c, a, m in months_of(cases[case])
        ),
    )
    inside = {m for r in campaigns for m in months_of(r)}
    details = {
        "flagged_area_months": len(flagged),
        "flagged_area_months_inside_campaigns": len(flagged & inside),
        "per_campaign": {
            case: sorted(m for _, _, m in months_of(r) if (r["country"], r["admin1"], m) in flagged)
            for case, r in cases.items()
        },
    }
    return [flag_call, top_call], details


def _codebook() -> dict[tuple[str, int], str]:
    rows = read_labels(REFERENCE / "codebook_precision.csv")
    return {(row["variable"], int(row["code"])): row["counted"] for row in rows}


def _expected_apart(row: Mapping[str, str], rules: Mapping[tuple[str, int], str]) -> bool:
    """Whether the codebook rules say a raw GED row must be counted apart."""
    when = rules[("date_prec", int(row["date_prec"]))]
    same_month = row["date_start"][:7] == row["date_end"][:7]
    month_known = when == "month" or (when.startswith("month if") and same_month)
    located = rules[("where_prec", int(row["where_prec"]))] == "admin1" and bool(row["adm_1"])
    return not (month_known and located)


def _national_summary(row: Mapping[str, str]) -> bool:
    return (
        row["where_prec"] == "6"
        and row["date_prec"] == "5"
        and row["date_start"][5:10] == "01-01"
        and row["date_end"][5:10] == "12-31"
    )


def score_codebook(path: Path, views: list[View]) -> tuple[list[Labelled], dict[str, Any]]:
    """The codebook's precision rules on the raw rows of ``path`` against the analyzer's
    counting of the same events (``views``, in file order)."""
    rules = _codebook()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(views)
    expected: dict[str, bool] = {}
    national: dict[str, bool] = {}
    apart: dict[str, bool] = {}
    for row, view in zip(rows, views, strict=True):
        assert str(view.get("event_id")) == row["id"]
        incident = incident_of(view)
        apart[row["id"]] = incident is None or not incident.precise
        expected[row["id"]] = _expected_apart(row, rules)
        if _national_summary(row):
            national[row["id"]] = True
    source = _rel(REFERENCE / "codebook_precision.csv")
    labelled = [
        score_labels(
            "event counted apart (codebook precision)", source, expected, apart.__getitem__
        ),
        score_labels("national summary counted apart", source, national, apart.__getitem__),
    ]
    return labelled, {"national_summary_rows": len(national)}


def evaluate(quick: bool) -> Evaluation:
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    run = OfflineRun.start(SecurityRiskAnalyzer(), config, participant="mission", issuer="mission")
    records, rows_read, dropped = read_source(GED, "ucdp-ged", SCHEMA)
    started = time.perf_counter()
    views = run.views(SCHEMA, records)
    issue_s = time.perf_counter() - started
    permutations = 2 if quick else 5
    stable, picture, rate = permutation_stability(SecurityRiskAnalyzer, views, permutations)
    summary = picture.summary
    campaign_labels, campaign_details = score_campaigns(summary)
    codebook_labels, codebook_details = score_codebook(GED, views)
    country = summary["countries"][0] if summary["countries"] else {}
    kinds: dict[str, int] = {}
    for f in summary["flags"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    details = {
        "file": _rel(GED),
        "issue_verify_s": round(issue_s, 1),
        "reported_in_file_order": picture.reported,
        "withdrawn_in_file_order": picture.withdrawn,
        "flags_by_kind": kinds,
        "top_hotspots": summary["hotspots"][:5],
        "top_imprecise": summary["imprecise"][:3],
        "country": country,
        "trends": [t for t in summary["trends"] if t["admin1"] is None],
        **campaign_details,
        **codebook_details,
    }
    return Evaluation(
        analyzer=SecurityRiskAnalyzer.id,
        rows_read=rows_read,
        rows_dropped=dropped,
        records_per_s=round(rate, 1),
        permutations=permutations,
        stable=stable,
        labelled=[*campaign_labels, *codebook_labels],
        findings=len(picture.findings),
        details=details,
    )


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    result = evaluate("--quick" in sys.argv)
    print(json.dumps(result.as_json(), indent=1, ensure_ascii=False))
