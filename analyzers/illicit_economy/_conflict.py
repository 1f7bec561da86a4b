"""Conflict intensity per first-level area and month, from conflict-event views.

undp sees of a ``conflict-event/1`` only ``event_id``, ``year``,
``type_of_violence``, ``country``, ``admin1``, the ``month`` of ``date_start``
and the ``fatality_band`` of ``deaths`` (deploy/examples/federation.yaml). Per
area and month this module counts events (by violence type) and sums a
**fatality index**: each event's band counted at its representative value
(:data:`~analyzers.illicit_economy._names.FATALITY_INDEX`). The index is an order
of magnitude of deaths, not a count: it is what the view allows.

Price and basket findings carry the intensity of their governorate-month, so a
reader sees whether a price shock coincides with fighting (sieges, blockades,
checkpoints) or not (currency, subsidy, supply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzers.illicit_economy._names import FATALITY_INDEX

__all__ = ["add_event", "intensity"]


def add_event(
    cell: Mapping[str, Any] | None, type_of_violence: int | None, band: str | None
) -> dict[str, Any]:
    """The area-month cell after one more event (``cell`` is not modified).

    An unknown or absent band counts the event but adds nothing to the index
    (``unbanded`` says how many such events there were).
    """
    out: dict[str, Any] = {
        "events": 0,
        "fatality_index": 0.0,
        "unbanded": 0,
        "by_type": {},
    }
    if cell is not None:
        out.update(cell)
        out["by_type"] = dict(cell["by_type"])
    out["events"] += 1
    if band is not None and band in FATALITY_INDEX:
        out["fatality_index"] += FATALITY_INDEX[band]
    else:
        out["unbanded"] += 1
    if type_of_violence is not None:
        name = str(type_of_violence)
        out["by_type"][name] = out["by_type"].get(name, 0) + 1
    return out


def intensity(cell: Mapping[str, Any] | None) -> tuple[int, float]:
    """(events, fatality index) of an area-month cell; (0, 0.0) when none was seen."""
    if cell is None:
        return 0, 0.0
    return int(cell["events"]), float(cell["fatality_index"])
