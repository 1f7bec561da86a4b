"""When a node's analysis results fall due for delivery: on the interval's ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clearinghouse.node.services.analyze import results_due

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)


def test_results_of_one_interval_fall_due_together_at_its_end() -> None:
    issued = [T0 + timedelta(seconds=s) for s in (0.001, 0.3, 0.999)]
    assert {results_due(t, 1.0) for t in issued} == {T0 + timedelta(seconds=1)}
    assert results_due(T0 + timedelta(seconds=1.2), 1.0) == T0 + timedelta(seconds=2)


def test_an_instant_on_a_tick_is_due_at_once() -> None:
    assert results_due(T0, 1.0) == T0
    assert results_due(T0, 5.0) == T0  # 10:00:00 is a multiple of 5 s since the epoch


def test_no_interval_means_each_result_at_once() -> None:
    t = T0 + timedelta(seconds=0.123)
    assert results_due(t, 0) == t


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([0.25, 0.5, 1.0, 2.5, 10.0]),
)
def test_due_is_never_before_issue_nor_an_interval_after_it(
    naive: datetime, interval: float
) -> None:
    now = naive.replace(tzinfo=UTC)
    due = results_due(now, interval)
    assert now <= due < now + timedelta(seconds=interval)
    assert due.tzinfo is not None
