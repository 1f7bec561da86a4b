"""The analyzer interface (DESIGN.md, "Analysis").

An analyzer is a participant's predetermined, versioned, deterministic analysis.
It declares ``id``, ``version`` and the schemas it accepts, and analyses one
view at a time given its own prior state: :meth:`Analyzer.analyze` reads only what
the view discloses (an absent field is normal, never an error), may update its
:class:`~analyzers.state.State`, and returns findings, each with an explanation of
what drove it. An empty list means "nothing new to report"; the node broadcasts a
result only when there are findings.

Determinism: the same views in the same order, from the same initial state, give
byte-identical findings. No clock, no randomness, no I/O, no iteration over an
unordered collection without sorting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from analyzers.state import State

__all__ = ["Analyzer", "Finding", "View"]


@dataclass(frozen=True)
class View:
    """What an analyzer sees of one packet: its visible header and disclosed claims."""

    schema: str
    issuer: str
    jti: str
    digest: str
    issued_at: datetime
    hc: str
    claims: Mapping[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        """A disclosed claim, or ``default`` when the view withholds it."""
        return self.claims.get(name, default)


@dataclass(frozen=True)
class Finding:
    """One thing an analyzer found, in the shape of ``analysis-result/1`` findings."""

    kind: str
    subject: str
    explanation: str
    level: str | None = None
    score: float | None = None
    country: str | None = None
    admin1: str | None = None
    area: str | None = None
    period: str | None = None
    indicators: Mapping[str, float | int | str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject}
        for name in ("area", "country", "admin1", "period", "score", "level"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["explanation"] = self.explanation
        if self.indicators:
            out["indicators"] = dict(self.indicators)
        return out


@runtime_checkable
class Analyzer(Protocol):
    """What the node needs of an analyzer; built-ins and plug-ins alike."""

    id: ClassVar[str]
    version: ClassVar[str]
    schemas: ClassVar[frozenset[str]]

    def analyze(self, view: View, state: State) -> list[Finding]:
        """Analyse one view, updating ``state``; return the findings (maybe none)."""
        ...

    def summary(self, state: State) -> dict[str, Any]:
        """The analyzer's picture so far, as JSON data (for ``--summary`` and the situation)."""
        ...
