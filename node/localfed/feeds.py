"""The demo's real data: one feed per body that owns data of its kind.

Each :class:`Feed` is a file in ``deploy/examples/data`` read by one of the
importers (:mod:`node.importers`) and ingested at its body: the UCDP GED events at
``mission``, the UNODC seizure figures at ``unodc``, the WFP Syria staple prices
at ``undp`` (up to 2019, to match UCDP). :func:`feed_items` reads the first rows
of a feed as ``post_batches`` takes them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearinghouse.node.importers import RowRejected
from clearinghouse.node.importers.records_file import Item, read_records
from clearinghouse.node.localfed.config import ROOT

__all__ = ["DATA", "EVENTS", "FEEDS", "WFP_STAPLES", "Feed", "feed_items"]

DATA = ROOT / "deploy" / "examples" / "data"
EVENTS = DATA / "ucdp_ged_syria_2016_2019.csv"
#: The staple basket of the WFP prices the demo feeds to UNDP (up to 2019, to match UCDP).
WFP_STAPLES = frozenset({"Bread (bakery)", "Wheat flour", "Rice", "Lentils", "Sugar", "Oil"})


@dataclass(frozen=True)
class Feed:
    """Real data of one kind, ingested at the body that owns it; ``keep`` picks the rows."""

    participant: str
    schema: str
    format: str
    path: Path
    label: str
    keep: Callable[[dict[str, Any]], bool] | None = None


def _wfp_staple_before_2020(record: dict[str, Any]) -> bool:
    return bool(record["date"] < "2020" and record["commodity"] in WFP_STAPLES)


FEEDS = (
    Feed("mission", "conflict-event/1", "ucdp-ged", EVENTS, "UCDP events at mission"),
    Feed(
        "unodc",
        "seizure/1",
        "unodc-seizures",
        DATA / "unodc_drug_seizures_2018_2022.csv",
        "UNODC seizures at unodc",
    ),
    Feed(
        "undp",
        "market-price/1",
        "wfp-prices",
        DATA / "wfp_food_prices_syr.csv.gz",
        "WFP prices at undp",
        keep=_wfp_staple_before_2020,
    ),
)


def feed_items(feed: Feed, limit: int | None) -> list[Item]:
    """The first ``limit`` rows of ``feed`` the demo ingests: (line, record or RowRejected)."""
    items = (
        (line, item)
        for line, item in read_records(feed.path, feed.format, feed.schema)
        if feed.keep is None or isinstance(item, RowRejected) or feed.keep(item)
    )
    return list(itertools.islice(items, limit) if limit is not None else items)
