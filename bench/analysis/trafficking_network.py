"""``unodc.trafficking-network`` measured on the shipped data and two labelled reference sets.

Data (``deploy/examples/data/``), read with the project's importers and issued as
unodc's views under the demo federation's policy:

* UCDP GED Syria 2016-2019 (quick: every 8th event; full: all 16,566), issued by
  the mission (actors as pseudonyms);
* UNODC drug seizures 2018-2022, country-year totals (quick: three subregions;
  full: all 10,941 rows), issued by UNODC.

Labels (``tests/analyzers/trafficking_network/reference/``, a citation per row):

* ``place_names.csv``: country names and codes as UCDP and UNODC write them, with
  the ISO 3166-1 alpha-3 code ISO assigns (or none): is each mapped to that code?
* ``state_actors.csv``: every actor of the GED Syria file, a state when UCDP names
  it "Government of <country>": does the analyzer, which sees only pseudonyms and
  ``type_of_violence``, call it a state (and so leave it out of the brokers)?

No labels for corridors or seizure trends: the shipped seizure file has no routes,
and no country-year change of 2018-2022 was found stated in a UNODC report with
enough confidence to label it (see docs/_analysis_trafficking_network.md).

``python -c "from bench.analysis.trafficking_network import evaluate; print(evaluate(True))"``
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.analysis._evaluation import (
    Evaluation,
    Labelled,
    permutation_stability,
    read_labels,
)
from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from clearinghouse.analyzers.trafficking_network._places import country_code

__all__ = ["evaluate"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "deploy" / "examples" / "data"
GED = DATA / "ucdp_ged_syria_2016_2019.csv"
SEIZURES = DATA / "unodc_drug_seizures_2018_2022.csv"
REFERENCE = ROOT / "tests" / "analyzers" / "trafficking_network" / "reference"
PLACES = REFERENCE / "place_names.csv"
STATES = REFERENCE / "state_actors.csv"
QUICK_SUBREGIONS = {"Near and Middle East/ South-West Asia", "Central America", "Caribbean"}


def _csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def score_places(rows: list[dict[str, str]], mapper: Callable[[str], tuple[str, bool]]) -> Labelled:
    """Place names -> ISO3: a true positive is the labelled code; a false positive a code
    given where ISO gives another or none; a false negative a labelled code not given."""
    tp = fp = fn = 0
    for row in rows:
        key, mapped = mapper(row["name"])
        expected = row["alpha_3"] or None
        if expected is not None and mapped and key == expected:
            tp += 1
            continue
        if mapped:
            fp += 1
        if expected is not None:
            fn += 1
    return Labelled("place name -> ISO 3166 alpha-3", len(rows), tp, fp, fn, _relative(PLACES))


def score_states(rows: list[dict[str, str]], called: dict[str, bool]) -> Labelled:
    """State actors left out of the brokers, for the labelled actors present in ``called``."""
    tp = fp = fn = labels = 0
    for row in rows:
        if row["actor"] not in called:
            continue
        labels += 1
        should, did = row["state"] == "yes", called[row["actor"]]
        tp += did and should
        fp += did and not should
        fn += should and not did
    return Labelled("state actor left out of brokers", labels, tp, fp, fn, _relative(STATES))


def _views(quick: bool) -> tuple[list[View], list[dict[str, Any]], list[View], int, int]:
    from clearinghouse.analyzers.offline import OfflineRun
    from clearinghouse.node.importers.ucdp import read_events
    from clearinghouse.node.importers.unodc import read_seizures

    config = yaml.safe_load((ROOT / "deploy" / "examples" / "federation.yaml").read_text())
    events = list(read_events(GED))
    seizures = list(read_seizures(SEIZURES))
    read = _csv_rows(GED) + _csv_rows(SEIZURES)
    dropped = read - len(events) - len(seizures)
    if quick:
        events = events[::8]
        seizures = [s for s in seizures if s.get("subregion") in QUICK_SUBREGIONS]
    analyzer = TraffickingNetworkAnalyzer()
    mission = OfflineRun.start(analyzer, config, participant="unodc", issuer="mission")
    unodc = OfflineRun.start(analyzer, config, participant="unodc", issuer="unodc")
    event_views = mission.views("conflict-event/1", events)
    seizure_views = unodc.views("seizure/1", seizures)
    return event_views, events, seizure_views, read, dropped


def evaluate(quick: bool) -> Evaluation:
    event_views, events, seizure_views, read, dropped = _views(quick)
    views = event_views + seizure_views
    stable, picture, rate = permutation_stability(
        TraffickingNetworkAnalyzer, views, 2 if quick else 5
    )
    # The analyzer's state calls, by UCDP actor name (the evaluator knows the names).
    state = State()
    analyzer = TraffickingNetworkAnalyzer()
    for view in event_views:
        analyzer.analyze(view, state)
    names: dict[str, str] = {}
    for record, view in zip(events, event_views, strict=True):
        for side in ("side_a", "side_b"):
            ref = view.claims.get(f"{side}_ref")
            if ref is not None:
                names[ref] = str(record[side])
    called = {
        names[key.removeprefix("actor/")]: bool(entry["state"])
        for key, entry in state.items("actor/")
    }
    places = score_places(
        read_labels(PLACES), lambda name: (country_code(name).key, country_code(name).mapped)
    )
    states = score_states(read_labels(STATES), called)
    summary = picture.summary
    brokers = [names.get(b["actor"], b["actor"]) for b in summary["brokers"]]
    return Evaluation(
        analyzer=TraffickingNetworkAnalyzer.id,
        rows_read=read,
        rows_dropped=dropped,
        records_per_s=round(rate, 1),
        permutations=2 if quick else 5,
        stable=stable,
        labelled=(places, states),
        findings=len(picture.findings),
        details={
            "views": len(views),
            "conflict_events": len(event_views),
            "seizure_rows": len(seizure_views),
            "network": summary["network"],
            "brokers": brokers,
            "recurring_actors": summary["recurring_actors"]["count"],
            "places": {
                "mapped": summary["places"]["mapped"],
                "unmapped": summary["places"]["unmapped"],
            },
            "seizure_series": summary["seizure_trends"]["series"],
            "trends_flagged": summary["seizure_trends"]["flagged"],
            "reported": picture.reported,
            "withdrawn": picture.withdrawn,
        },
    )


if __name__ == "__main__":
    import json

    result = evaluate("--full" not in sys.argv)
    print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
