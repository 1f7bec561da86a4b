"""The per-peer token bucket (``node.api.rate_limit``), on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from node.api.rate_limit import PeerRateLimiter
from node.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_retry_after_in_whole_seconds() -> None:
    clock = Clock()
    limiter = PeerRateLimiter(2, 3, clock=clock)
    assert [limiter.acquire("unodc") for _ in range(4)] == [0, 0, 0, 1]
    clock.now += 0.5  # one token back at 2/s
    assert limiter.acquire("unodc") == 0
    assert limiter.acquire("unodc") == 1  # 0.5 s to the next token: at least 1
    clock.now += 10  # refills to the burst, never beyond
    assert [limiter.acquire("unodc") for _ in range(4)] == [0, 0, 0, 1]


def test_a_slow_rate_asks_for_a_longer_wait() -> None:
    limiter = PeerRateLimiter(0.1, 1, clock=Clock())
    assert limiter.acquire("dpa") == 0
    assert limiter.acquire("dpa") == 10


def test_each_peer_has_its_own_bucket() -> None:
    limiter = PeerRateLimiter(1, 2, clock=Clock())
    assert [limiter.acquire("unodc") for _ in range(3)] == [0, 0, 1]
    assert [limiter.acquire("mission") for _ in range(2)] == [0, 0]


def test_rate_zero_disables_the_limit() -> None:
    limiter = PeerRateLimiter(0, 1, clock=Clock())
    assert not limiter.enabled
    assert {limiter.acquire("unodc") for _ in range(1000)} == {0}


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    clock = Clock()
    limiter = PeerRateLimiter(1, 1, clock=clock)
    assert limiter.acquire("unodc") == 0
    clock.now -= 50
    assert limiter.acquire("unodc") == 1


def test_threads_never_get_more_than_the_burst() -> None:
    limiter = PeerRateLimiter(0.001, 100, clock=Clock())
    admitted: list[int] = []

    def take() -> None:
        admitted.extend(1 for _ in range(50) if limiter.acquire("unodc") == 0)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 100


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        PeerRateLimiter(-1, 10)
    with pytest.raises(ValueError, match="burst"):
        PeerRateLimiter(1, 0)


def test_the_defaults_never_throttle_the_normal_federation() -> None:
    """Requests are counted, not views: the demo's busiest peer makes a few requests per
    second (a push per batch of up to 500 views, witnessing every 2 s, catch-up)."""
    fields = Settings.model_fields
    assert fields["peer_rate_limit_per_s"].default >= 50
    assert fields["peer_rate_burst"].default >= 200
