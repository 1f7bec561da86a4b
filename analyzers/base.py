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

Convergence: the findings that hold once a set of views has been analysed are
the same for every order of that set (DESIGN.md, "Analysis"). The built-in
analyzers get there with :mod:`analyzers.converge`: order-free tallies, findings
derived from the tallies alone, and a report of what changed, with withdrawals
(``status="withdrawn"``) of findings that no longer hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from clearinghouse.analyzers.state import State

__all__ = ["WITHDRAWN", "Analyzer", "Finding", "View"]

#: ``Finding.status`` of a finding that withdraws an earlier one with the same identity.
WITHDRAWN = "withdrawn"


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
    #: None for a finding that holds; :data:`WITHDRAWN` for one that withdraws an
    #: earlier finding of the same ``(kind, subject, period)``.
    status: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject}
        for name in ("area", "country", "admin1", "period", "score", "level", "status"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["explanation"] = self.explanation
        if self.indicators:
            out["indicators"] = dict(self.indicators)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`as_json` gave ``data`` for."""
        names = ("area", "country", "admin1", "period", "score", "level", "status")
        return cls(
            kind=data["kind"],
            subject=data["subject"],
            explanation=data["explanation"],
            indicators=dict(data.get("indicators") or {}),
            **{name: data.get(name) for name in names},
        )


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
