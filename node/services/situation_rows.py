"""One finding of the common situation as the pages and the exports take it: flat.

A :class:`SituationRow` is the latest version of one finding this node holds (see
:mod:`node.services.situation_index`), with the result it came from (provenance:
the result's jti and digest, its issuer, analyzer and version), its handling, and
where this node can place it on a map (:class:`Place`, from the events and markets
it holds itself under its policy: results carry no coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Place", "PlacePrecision", "SituationRow"]

#: How a place was found: the mean of the exact coordinates held for the area, of
#: the 0.5-degree cells held for it (where the policy generalises coordinates), or
#: (for a finding about a whole country) the mean over the country's areas.
PlacePrecision = Literal["coordinates", "cell", "country"]


@dataclass(frozen=True)
class Place:
    """Where a finding is drawn: a latitude and longitude (WGS 84) and how it was found."""

    lat: float
    lon: float
    precision: PlacePrecision
    #: how many held events or markets the point is the mean of
    points: int


@dataclass(frozen=True)
class SituationRow:
    """The latest version of one finding, flat, with its provenance and handling."""

    participant: str
    analyzer: str
    analyzer_version: str
    result_jti: str
    result_sha256: str
    issued_at: datetime
    kind: str
    subject: str
    explanation: str
    country: str | None = None
    admin1: str | None = None
    period: str | None = None
    level: str | None = None
    score: float | None = None
    #: the actor (armed group, trafficker, listed entity) the finding is about, if any
    actor: str | None = None
    #: indicators as the analyzer reported them (numbers or banded strings)
    indicators: dict[str, Any] = field(default_factory=dict)
    #: ``indicators["events"]`` and ``["fatalities_best"]`` when they are whole numbers
    events: int | None = None
    fatalities: int | None = None
    #: the result's handling code (H0..H3) and, for H3, its restriction text
    hc: str = "H0"
    hcr: str | None = None
    #: the input the result was computed from: {"jti", "sha256", "iss", ...}
    input: dict[str, Any] = field(default_factory=dict)
    place: Place | None = None

    @property
    def restricted(self) -> bool:
        return self.hc != "H0"
