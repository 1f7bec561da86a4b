"""Timing helpers shared by the benchmarks: rates over a fixed workload, best of N."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["rate"]


def rate(work: Callable[[], Any], count: int, *, repeat: int = 3) -> float:
    """Operations per second of ``work`` (which does ``count`` operations), best of ``repeat``.

    The best run is the one least disturbed by the rest of the machine.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return count / best
