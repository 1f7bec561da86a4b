"""The conflict-event analyzers on GED files of several countries, generated from the codebook.

Nothing in an analyzer may be tuned to Syria: the same code must make sense of any
country's GED file. For each country of :data:`tests.codebooks.ucdp_ged.COUNTRIES`
this writes a GED file in the global layout (codebook value lists, ``-1``
unknowns, national summaries, every precision code), imports it as ``clearinghouse
ingest`` would (every row must be accepted), and runs every analyzer that takes
``conflict-event/1`` on the views its participant would receive: no analysis may
fail, the final picture must not depend on the order, and the table shows what
each analyzer makes of each country (findings that hold, by kind).

The generated events are synthetic (no row states a fact about a country), so
this checks robustness and generality, not accuracy: accuracy is measured against
the labelled references of each analyzer's own evaluation.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench._report import Row, figures, log
from bench.analysis._evaluation import read_source
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from clearinghouse.analyzers.registry import load
from clearinghouse.node.localfed import FEDERATION_YAML
from tests.codebooks import ucdp_ged

__all__ = ["CONFLICT_ANALYZERS", "run"]

SCHEMA = "conflict-event/1"
CONFLICT_ANALYZERS = (
    "mission.security-risk",
    "dpa.spoiler-risk",
    "unodc.trafficking-network",
    "undp.illicit-economy",
    "sanctions.screening",
)


def _country(country: str, n: int, folder: Path) -> dict[str, Any]:
    path = ucdp_ged.write_csv(
        folder / f"ged_{country}.csv", ucdp_ged.rows(country, n, seed=15, layout="25.1"), "25.1"
    )
    records, _, refused = read_source(path, "ucdp-ged", SCHEMA)
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    out: dict[str, Any] = {"rows": n, "accepted": len(records), "refused": refused}
    for analyzer_id in CONFLICT_ANALYZERS:
        analyzer = load(analyzer_id)
        if SCHEMA not in analyzer.schemas:
            continue
        views = OfflineRun.start(analyzer, config).views(SCHEMA, records)
        errors = 0
        try:
            picture = final_picture(load(analyzer_id), views)
        except Exception:  # counted and shown: an analyzer must never fail on valid data
            errors += 1
            out[analyzer_id] = {"errors": errors}
            continue
        shuffled = list(views)
        random.Random(1).shuffle(shuffled)
        again = final_picture(load(analyzer_id), shuffled)
        out[analyzer_id] = {
            "errors": errors,
            "findings": len(picture.findings),
            "by_kind": dict(sorted(Counter(f["kind"] for f in picture.findings).items())),
            "stable": (again.findings, again.summary) == (picture.findings, picture.summary),
            "reported_on_the_way": picture.reported,
            "withdrawn_on_the_way": picture.withdrawn,
        }
    return out


def run(quick: bool) -> dict[str, Any]:
    """Every country, every conflict-event analyzer; print one table, return the figures."""
    n = 300 if quick else 1500
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ged-countries-") as folder:
        for country in sorted(ucdp_ged.COUNTRIES):
            log(f"analysis: a generated GED file of {n} events for {country}")
            out[country] = _country(country, n, Path(folder))
    rows: list[Row | None] = []
    for country, figures_ in out.items():
        rows.append(None)
        rows.append(
            (
                f"{country}: rows accepted",
                f"{figures_['accepted']:,} of {figures_['rows']:,}",
                "",
                "",
            )
        )
        for analyzer_id in CONFLICT_ANALYZERS:
            got = figures_.get(analyzer_id)
            if got is None:
                continue
            if got["errors"]:
                rows.append((f"  {analyzer_id}", "FAILED", "", ""))
                continue
            kinds = ", ".join(f"{k} {v}" for k, v in got["by_kind"].items()) or "none"
            stable = "" if got["stable"] else " (ORDER-DEPENDENT)"
            found = f"{got['findings']} findings{stable}: {kinds}"
            rows.append((f"  {analyzer_id}", found, "", ""))
    figures(f"Generated GED files, {n} events each (global layout 25.1)", rows, ratio="")
    return out
