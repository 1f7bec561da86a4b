"""The cost model of docs/scaling.md: what a record costs as a function of n and k.

Counts per record ingested at one originator, in a federation of ``n`` participants
where ``a`` of them analyse the record (the scale runs: every participant but mission)
and each log has ``k`` witnesses:

* views: ``(n - 1) * (1 + R)``, with ``R = rho * a`` results per record (each analyser
  issues a result for a share ``rho`` of the records, and every result goes to the
  ``n - 1`` others); ``rho`` is a property of the data and the analysers, not of ``n``.
* Each node's CPU per record, linear in the participants: the originator's grows with
  the views it makes and sends, ``o0 + o1 * (n - 1)``; every other node's with the
  results it receives from, and sends to, the ``n - 1`` others (``rho * (n - 1)``
  each way: results are too sparse to share a batch, so each is a request per peer)
  and with its share of witnessing and polling, ``p0 + p1 * (n - 1)``.

:func:`fit` takes the scale runs' measured points and finds the constants by least
squares; :func:`predict` gives the counts and the busiest node's CPU per record at
other sizes, each node on its own core (as deployed: one machine per body), and the
records per second that bounds. The measured points come from one machine whose two
cores all nodes share, where the slower the federation the more of each node's
per-second work (witnessing, polls) falls on each record: the prediction is on the
high side for nodes with machines of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Fitted", "Prediction", "fit", "line_fit", "predict", "views_per_record"]


def views_per_record(n: int, results_per_record: float) -> float:
    """Views a record causes: one to each other participant, and each of its results
    to each other participant too."""
    return (n - 1) * (1 + results_per_record)


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(intercept, slope)`` of ``ys`` over ``xs``."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("a line needs at least two points")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("a line needs two different x values")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - slope * mx, slope


@dataclass(frozen=True)
class Fitted:
    """The model's constants, from measured runs."""

    #: results per record per analysing participant
    rho: float
    #: originator CPU per record (ms): o0 + o1 * (n - 1)
    o0: float
    o1: float
    #: another node's CPU per record (ms): p0 + p1 * (n - 1)
    p0: float
    p1: float
    #: the measured points and the model's value at each: (n, measured, modelled)
    originator_check: tuple[tuple[int, float, float], ...]
    others_check: tuple[tuple[int, float, float], ...]


@dataclass(frozen=True)
class Prediction:
    participants: int
    views_per_record: float
    results_per_record: float
    originator_cpu_ms_per_record: float
    other_cpu_ms_per_record: float
    #: records per second the busiest node allows, on one core of its own
    records_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _analysers(n: int) -> int:
    return n - 1


def fit(runs: Sequence[Mapping[str, Any]], *, originator: str = "mission") -> Fitted:
    """The constants from the scale runs (each with ``participants``,
    ``results_per_record`` and ``node_cpu_ms_per_record``)."""
    ns = [int(r["participants"]) for r in runs]
    rho = sum(float(r["results_per_record"]) / _analysers(n) for r, n in zip(runs, ns, strict=True))
    rho /= len(runs)
    origin = [float(r["node_cpu_ms_per_record"][originator]) for r in runs]
    others = [
        sum(v for p, v in r["node_cpu_ms_per_record"].items() if p != originator) / (n - 1)
        for r, n in zip(runs, ns, strict=True)
    ]
    o0, o1 = line_fit([n - 1 for n in ns], origin)
    p0, p1 = line_fit([n - 1 for n in ns], others)
    return Fitted(
        rho=rho,
        o0=o0,
        o1=o1,
        p0=p0,
        p1=p1,
        originator_check=tuple((n, m, o0 + o1 * (n - 1)) for n, m in zip(ns, origin, strict=True)),
        others_check=tuple((n, m, p0 + p1 * (n - 1)) for n, m in zip(ns, others, strict=True)),
    )


def predict(model: Fitted, n: int) -> Prediction:
    """Counts and CPU per record at ``n`` participants, each node on its own core."""
    results = model.rho * _analysers(n)
    origin = model.o0 + model.o1 * (n - 1)
    other = model.p0 + model.p1 * (n - 1)
    return Prediction(
        participants=n,
        views_per_record=views_per_record(n, results),
        results_per_record=results,
        originator_cpu_ms_per_record=origin,
        other_cpu_ms_per_record=other,
        records_per_s=1000 / max(origin, other),
    )
