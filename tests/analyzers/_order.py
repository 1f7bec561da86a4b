"""What every analyzer's convergence test checks: the final picture is the same in any order."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from random import Random

from clearinghouse.analyzers.base import Analyzer, View
from clearinghouse.analyzers.offline import Picture, final_picture

__all__ = ["assert_same_in_any_order", "dump"]


def dump(picture: Picture) -> str:
    """The final findings and summary, as canonical JSON (what must not depend on order)."""
    return json.dumps([picture.findings, picture.summary], sort_keys=True)


def assert_same_in_any_order(
    make: Callable[[], Analyzer], views: Sequence[View], expected: Picture, rng: Random
) -> None:
    """``views`` shuffled by ``rng`` give ``expected``'s findings and summary."""
    shuffled = list(views)
    rng.shuffle(shuffled)
    assert dump(final_picture(make(), shuffled)) == dump(expected)
