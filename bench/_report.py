"""Printing and writing the benchmarks' results: rich tables of figure, yardstick, ratio.

Every part prints its figures with :func:`figures` (one row per figure, beside the
yardstick measured in the same process run and their ratio) and writes its JSON
with :func:`write_json`.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Row", "console", "figures", "log", "loglog_slope", "note", "write_json"]

#: (label, figure, yardstick, ratio): the last three already formatted, or "".
Row = tuple[str, str, str, str]


def console() -> Console:
    """The console the tables go to (stdout; 120 columns when it is not a terminal)."""
    return Console(width=None if sys.stdout.isatty() else 120)


def log(message: str) -> None:
    """Progress for the operator, on stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)


def figures(title: str, rows: Iterable[Row | None], *, ratio: str = "ratio") -> None:
    """Print one table; a ``None`` row starts a new section."""
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("figure", justify="right")
    table.add_column("yardstick (same run)", justify="right")
    table.add_column(ratio, justify="right")
    for row in rows:
        if row is None:
            table.add_section()
        else:
            table.add_row(*row)
    console().print(table)


def note(text: str) -> None:
    console().print(text)


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) over log(x): the observed exponent k in y ~ x^k."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need at least two (x, y) points")
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    if den == 0:
        raise ValueError("the x values are all equal")
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den


def write_json(path: Path | None, data: Any) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
