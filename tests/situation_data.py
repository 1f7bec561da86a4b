"""One node holding a real situation, for the situation pages' browser test and their
screenshots (``python -m tests.screenshots``).

The node is mission's, in a federation of mission and dpa, filled as the federation
would fill it: mission ingests a slice of the UCDP GED Syria events (:func:`ucdp_slice`:
every fifth event of 2016 and 2017, thirteen governorates) and runs its own analyzer
(``mission.security-risk``); dpa's node, opened in this process without workers,
receives mission's views of them, runs ``dpa.spoiler-risk`` on what its policy shows it
(the sides and the narratives), and its signed results come back to mission as dpa
would push them. So mission's map has real hotspots, and an actor page (:data:`ACTOR`)
a real typology call beside the events that name the group.

Nothing is made up: the events are UCDP's, the findings the analyzers', every packet
signed and verified on its way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.analyze import analyse_batch
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OutboxItem, OutboxView
from tests.nodes import ServedNode, built_federation, opened_node, served_node
from tests.support import EXAMPLES

__all__ = [
    "ACTOR",
    "PARTICIPANTS",
    "UCDP_SYRIA",
    "RealSituation",
    "held_month",
    "load_real_situation",
    "served_real_situation",
    "ucdp_slice",
]

UCDP_SYRIA = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
PARTICIPANTS = ("mission", "dpa")
YEARS = ("2016", "2017")
#: Every how many events of :data:`YEARS` one is taken: 2,352 events, about 25 s to load.
EVERY = 5
#: A group UCDP names in thousands of these events, which dpa's analyzer types.
ACTOR = "IS"
#: Records per ingest call and views per receive call.
CHUNK = 500


@dataclass(frozen=True)
class RealSituation:
    """What was loaded: the events (as ingested), their governorates and months."""

    events: list[dict[str, Any]]

    @property
    def governorates(self) -> set[str]:
        return {e["admin1"] for e in self.events if e.get("admin1")}

    @property
    def months(self) -> tuple[str, str]:
        """The first and the last month of the events' start dates."""
        months = sorted(e["date_start"][:7] for e in self.events)
        return months[0], months[-1]


def ucdp_slice(every: int = EVERY) -> list[dict[str, Any]]:
    """Every ``every``-th event of 2016 and 2017 in the UCDP GED Syria file, as records."""
    events = [e for e in read_events(UCDP_SYRIA) if e["date_start"][:4] in YEARS]
    return events[::every]


def _views_for(ctx: NodeContext, recipient: str) -> list[str]:
    """The views ``ctx``'s node owes ``recipient``, in the order it queued them."""
    with transaction(ctx.engine) as session:
        query = (
            select(OutboxView.view)
            .join(OutboxItem, col(OutboxItem.id) == OutboxView.item_id)
            .where(OutboxItem.recipient == recipient)
            .order_by(col(OutboxItem.id))
        )
        return list(session.exec(query).all())


def _deliver(sender: str, views: list[str], to: NodeContext) -> None:
    """``views`` received by ``to`` as ``sender`` would push them; every one accepted."""
    for first in range(0, len(views), CHUNK):
        outcomes = receive_views(to, peer=sender, views=views[first : first + CHUNK], sign=False)
        refused = [o for o in outcomes if o.status != "accepted"]
        assert not refused, refused[:3]


def _analyse_all(ctx: NodeContext) -> None:
    while analyse_batch(ctx):
        pass


def load_real_situation(
    fed: LocalFederation, mission: NodeContext, *, every: int = EVERY
) -> RealSituation:
    """Fill mission's node (``mission``, of ``fed``) as the module docstring says."""
    events = ucdp_slice(every)
    for first in range(0, len(events), CHUNK):
        done = ingest_records(mission, "conflict-event/1", events[first : first + CHUNK])
        assert not done.rejected, done.rejected[:3]
    _analyse_all(mission)
    with opened_node(fed.nodes["dpa"]) as dpa:
        _deliver("mission", _views_for(mission, "dpa"), dpa)
        _analyse_all(dpa)
        _deliver("dpa", _views_for(dpa, "mission"), mission)
    _analyse_all(mission)
    return RealSituation(events)


@contextmanager
def served_real_situation(root: Path) -> Iterator[tuple[ServedNode, RealSituation]]:
    """A federation of :data:`PARTICIPANTS` built in ``root``, mission's node served on
    loopback (no workers) and filled by :func:`load_real_situation`, until the block ends."""
    fed = built_federation(root, PARTICIPANTS)
    with served_node(fed.nodes["mission"]) as node:
        yield node, load_real_situation(fed, node.context)


def held_month(event: dict[str, Any]) -> str | None:
    """The month an event counts in on the timelines: its start month when it ends in
    the same month; none for an event known only to a longer span (counted apart)."""
    start, end = event["date_start"][:7], event["date_end"][:7]
    return start if start == end else None
