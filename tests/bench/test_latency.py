"""The latency benchmark's targets: issue 20's p99 bounds, by the rate asked."""

from __future__ import annotations

from bench.latency import target_ms


def test_each_rate_is_held_to_the_target_of_the_next_listed_rate() -> None:
    assert [target_ms(r) for r in (10, 50, 50.5, 100, 150)] == [300, 300, 1000, 1000, 1000]
    assert target_ms(150.1) is None and target_ms(500) is None
