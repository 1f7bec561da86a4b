"""Evaluation of ``dpa.spoiler-risk`` on the UCDP GED Syria file and on constructed records.

Labelled references: ``tests/analyzers/spoiler_risk/reference/spoiler_labels.csv`` (a
citation per row; what each dimension is compared with: the README beside it).

* ``syria-ged`` labels are scored on the real file, as DPA's view shows it (the
  federation's policy): full run, every event; quick run, every ``QUICK_STEP``-th event.
* ``constructed`` labels are scored on :func:`constructed_records` - events written for
  this evaluation (invented ids and dates) that model what the cited UN documents
  describe for groups outside Syria (DRC, Nigeria, Mali), with narratives in English
  and French. They check that the rules do what they say off Syria; they do not
  measure accuracy on real data, and are reported apart.

``evaluate(quick)``: the views in file order and in 2 (quick) or 5 shuffled orders
(same final findings and summary?), records per second inside ``analyze``, rows read
and dropped, precision and recall per dimension and data set, and the calls on the
Syria file (group-years and groups per call, per year).
"""

from __future__ import annotations

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
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.spoiler_risk import SpoilerRiskAnalyzer
from clearinghouse.analyzers.spoiler_risk._typology import (
    INSUFFICIENT,
    MIN_NARRATIVES,
    NOT_TYPED,
    TYPES,
)
from clearinghouse.node.localfed import FEDERATION_YAML

__all__ = [
    "CONSTRUCTED_GROUPS",
    "DIMENSIONS",
    "LABELS",
    "QUICK_STEP",
    "constructed_records",
    "dimensions_of",
    "evaluate",
    "score",
]

ROOT = Path(__file__).resolve().parents[2]
GED = ROOT / "deploy" / "examples" / "data" / "ucdp_ged_syria_2016_2019.csv"
LABELS = ROOT / "tests" / "analyzers" / "spoiler_risk" / "reference" / "spoiler_labels.csv"
SCHEMA = "conflict-event/1"
#: Quick runs analyse every QUICK_STEP-th event of the Syria file.
QUICK_STEP = 8
#: The groups of :func:`constructed_records` (none of them is in the Syria file).
CONSTRUCTED_GROUPS = frozenset({"ADF", "Boko Haram", "CJTF", "Dogon", "Fulani"})
DIMENSIONS = ("hostile_to_state", "predation", "rent", "symbiotic", "not_typed")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def dimensions_of(group: Mapping[str, Any]) -> dict[str, bool]:
    """A summary group's output on each labelled dimension (any year of the group)."""
    periods = group["periods"]
    e = [p["evidence"] for p in periods]
    return {
        "hostile_to_state": any(x["hostility_events"] > 0 for x in e),
        "predation": any(
            x["one_sided_events"] > 0 or x["plunder_narratives"] >= MIN_NARRATIVES for x in e
        ),
        "rent": any(x["rent_narratives"] >= MIN_NARRATIVES for x in e),
        "symbiotic": any(p["call"] == "symbiotic" for p in periods),
        "not_typed": not any(p["call"] in TYPES for p in periods),
    }


def _labels() -> list[dict[str, str]]:
    rows = read_labels(LABELS)
    for row in rows:
        assert row["dimension"] in DIMENSIONS and row["expected"] in ("yes", "no"), row
    return rows


def score(summary: Mapping[str, Any]) -> tuple[list[Labelled], dict[str, Any]]:
    """The labels against a summary: one :class:`Labelled` per dimension and data set
    (a labelled group the analyzer never saw counts as "not called")."""
    groups = {g["name"]: dimensions_of(g) for g in summary["groups"]}
    absent = dict.fromkeys(DIMENSIONS, False) | {"not_typed": True}
    out: list[Labelled] = []
    per_group: dict[str, dict[str, str]] = {}
    rows = _labels()
    for data in sorted({r["data"] for r in rows}):
        for dimension in DIMENSIONS:
            cases = {
                r["group"]: r["expected"] == "yes"
                for r in rows
                if r["data"] == data and r["dimension"] == dimension
            }
            if not cases:
                continue
            out.append(
                score_labels(
                    f"{dimension} ({data})",
                    _rel(LABELS),
                    cases,
                    lambda g, d=dimension: groups.get(g, absent)[d],  # type: ignore[misc]
                )
            )
            for g, expected in cases.items():
                got = groups.get(g, absent)[dimension]
                per_group.setdefault(g, {})[dimension] = (
                    f"{'yes' if got else 'no'} (label {'yes' if expected else 'no'})"
                )
    return out, {"per_group": dict(sorted(per_group.items()))}


def _record(
    n: int,
    country: tuple[str, int, str],
    date: str,
    tov: int,
    a: tuple[int, str],
    b: tuple[int, str],
    narrative: str,
    *,
    civilians: int = 0,
    fighters: int = 1,
) -> dict[str, Any]:
    name, gwno, region = country
    conflict_id = 90000 + (a[0] + b[0]) % 1000
    return {
        "event_id": f"constructed-{n}",
        "year": int(date[:4]),
        "type_of_violence": tov,
        "conflict_id": conflict_id,
        "conflict": f"{name}: {a[1]} - {b[1]} (constructed)",
        "dyad_id": conflict_id + 1000,
        "dyad": f"{a[1]} - {b[1]}",
        "side_a_id": a[0],
        "side_a": a[1],
        "side_b_id": b[0],
        "side_b": b[1],
        "date_start": date,
        "date_end": date,
        "date_precision": 1,
        "country": name,
        "country_id": gwno,
        "region": region,
        "admin1": None,
        "place": f"{name} (constructed)",
        "latitude": 0.0,
        "longitude": 0.0,
        "where_precision": 6,
        "event_clarity": 1,
        "deaths": {"civilians": civilians, "best": civilians + fighters},
        "narrative": narrative,
    }


def constructed_records() -> list[dict[str, Any]]:
    """Events modelled on what the cited documents describe (see the module docstring).

    Actor, conflict and dyad ids are invented (90000 and up), not UCDP's; dates and
    places are invented; narratives are written for the evaluation.
    """
    drc = ("DR Congo (Zaire)", 490, "Africa")
    nigeria = ("Nigeria", 475, "Africa")
    mali = ("Mali", 432, "Africa")
    gov_drc, adf = (90490, "Government of DR Congo (Zaire)"), (90101, "ADF")
    gov_ng, boko = (90475, "Government of Nigeria"), (90102, "Boko Haram")
    cjtf, civilians = (90103, "CJTF"), (1, "Civilians")
    dogon, fulani = (90104, "Dogon"), (90105, "Fulani")
    plan: list[tuple[tuple[str, int, str], str, int, tuple[int, str], tuple[int, str], str]] = []
    for i in range(4):
        plan.append(
            (drc, f"2019-0{i + 2}-1{i}", 1, gov_drc, adf, f"FARDC positions attacked by ADF {i}")
        )
        plan.append(
            (
                drc,
                f"2019-0{i + 2}-2{i}",
                3,
                adf,
                civilians,
                f"Des présumés ADF ont tué des civils et pillé des maisons, village {i}, Beni",
            )
        )
        plan.append(
            (nigeria, f"2018-0{i + 3}-0{i + 1}", 1, gov_ng, boko, f"Boko Haram attacks army {i}")
        )
        plan.append(
            (
                nigeria,
                f"2018-0{i + 3}-1{i}",
                3,
                boko,
                civilians,
                f"Boko Haram gunmen kill villagers and abduct girls in Borno, raid {i}",
            )
        )
        plan.append(
            (
                nigeria,
                f"2018-0{i + 3}-2{i}",
                2,
                cjtf,
                boko,
                f"Pro-government CJTF vigilantes repel attack on village {i}, Borno",
            )
        )
        plan.append(
            (
                mali,
                f"2019-0{i + 3}-1{i}",
                2,
                dogon,
                fulani,
                f"Attaque d'un village peul près de Bankass {i}: maisons incendiées, "
                "bétail emporté",
            )
        )
    out = []
    for n, (country, date, tov, a, b, narrative) in enumerate(plan):
        civ = 5 if tov == 3 else 0
        out.append(_record(n, country, date, tov, a, b, narrative, civilians=civ))
    return out


def _syria_calls(summary: Mapping[str, Any]) -> dict[str, Any]:
    calls = (*TYPES, INSUFFICIENT, NOT_TYPED)
    syria = [g for g in summary["groups"] if g["name"] not in CONSTRUCTED_GROUPS]
    group_years = dict.fromkeys(calls, 0)
    groups_with = dict.fromkeys(calls, 0)
    per_group: dict[str, str] = {}
    for g in syria:
        seen = set()
        for p in g["periods"]:
            group_years[p["call"]] += 1
            seen.add(p["call"])
        for call in seen:
            groups_with[call] += 1
        typed = [f"{p['period']} {p['call']} ({p['confidence']})" for p in g["periods"]]
        if any(p["call"] in TYPES for p in g["periods"]):
            per_group[g["name"]] = "; ".join(typed)
    return {
        "groups": len(syria),
        "group_years_by_call": group_years,
        "groups_with_call_in_some_year": groups_with,
        "groups_never_typed": sum(
            1 for g in syria if not any(p["call"] in TYPES for p in g["periods"])
        ),
        "typed_groups": per_group,
    }


def evaluate(quick: bool) -> Evaluation:
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    run = OfflineRun.start(SpoilerRiskAnalyzer(), config, participant="dpa", issuer="mission")
    records, rows_read, dropped = read_source(GED, "ucdp-ged", SCHEMA)
    analysed = records[::QUICK_STEP] if quick else records
    constructed = constructed_records()
    started = time.perf_counter()
    views = run.views(SCHEMA, [*analysed, *constructed])
    issue_s = time.perf_counter() - started
    permutations = 2 if quick else 5
    stable, picture, rate = permutation_stability(SpoilerRiskAnalyzer, views, permutations)
    labelled, label_details = score(picture.summary)
    details = {
        "file": _rel(GED),
        "syria_events_analysed": len(analysed),
        "sample": f"every {QUICK_STEP}th event" if quick else "every event",
        "constructed_records": len(constructed),
        "issue_verify_s": round(issue_s, 1),
        "reported_in_file_order": picture.reported,
        "withdrawn_in_file_order": picture.withdrawn,
        "period": picture.summary["period"],
        "syria": _syria_calls(picture.summary),
        **label_details,
    }
    return Evaluation(
        analyzer=SpoilerRiskAnalyzer.id,
        rows_read=rows_read + len(constructed),
        rows_dropped=dropped,
        records_per_s=round(rate, 1),
        permutations=permutations,
        stable=stable,
        labelled=labelled,
        findings=len(picture.findings),
        details=details,
    )


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    result = evaluate("--quick" in sys.argv)
    print(json.dumps(result.as_json(), indent=1, ensure_ascii=False))
