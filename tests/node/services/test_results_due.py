"""When a node's analysis results fall due for delivery: alone at once, in a burst together."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.node.services.analyze import results_due

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_the_first_results_and_results_after_a_quiet_interval_go_at_once() -> None:
    assert results_due(T0, 5.0, None) == T0
    assert results_due(T0 + 5 * S, 5.0, T0) == T0 + 5 * S
    assert results_due(T0 + 60 * S, 5.0, T0) == T0 + 60 * S


def test_results_soon_after_others_wait_one_interval_after_those() -> None:
    assert results_due(T0 + 1 * S, 5.0, T0) == T0 + 5 * S
    assert results_due(T0 + 4.9 * S, 5.0, T0) == T0 + 5 * S


def test_results_while_others_still_wait_join_them() -> None:
    waiting = T0 + 5 * S
    assert results_due(T0 + 2 * S, 5.0, waiting) == waiting
    assert results_due(waiting, 5.0, waiting) == waiting


def test_no_interval_means_each_result_at_once() -> None:
    assert results_due(T0 + S, 0, T0) == T0 + S


@given(
    st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40),
    st.sampled_from([0.5, 1.0, 5.0]),
)
def test_a_stream_of_results_is_each_at_most_an_interval_late_and_batches_an_interval_apart(
    offsets: list[float], interval: float
) -> None:
    due_times, previous = [], None
    for offset in sorted(offsets):
        now = T0 + timedelta(seconds=offset)
        due = results_due(now, interval, previous)
        assert now <= due <= now + timedelta(seconds=interval)
        due_times.append(due)
        previous = due
    distinct = sorted(set(due_times))
    gaps = [b - a for a, b in itertools.pairwise(distinct)]
    assert all(gap >= timedelta(seconds=interval) for gap in gaps)
