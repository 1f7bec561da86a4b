"""The token buckets (``node.api.rate_limit``), on a clock the test moves, and the client
address a request is counted by."""

from __future__ import annotations

import threading
from ipaddress import ip_network

import pytest

from clearinghouse.node.api.rate_limit import PeerRateLimiter, RateLimiter, client_address
from clearinghouse.node.settings import Settings


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
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(1, 1, max_keys=0)


def test_the_defaults_never_throttle_the_normal_federation() -> None:
    """Requests are counted, not views: the demo's busiest peer makes a few requests per
    second (a push per batch of up to 500 views, witnessing every 2 s, catch-up)."""
    fields = Settings.model_fields
    assert fields["peer_rate_limit_per_s"].default >= 50
    assert fields["peer_rate_burst"].default >= 200


def test_the_defaults_never_throttle_loopback_tests_or_federations() -> None:
    """Only failed or unauthenticated requests count against an address, and a whole
    test module's worth of refusals (the hostile-input table has a few dozen) fits in
    the burst."""
    fields = Settings.model_fields
    assert fields["address_rate_limit_per_s"].default >= 10
    assert fields["address_rate_burst"].default >= 100
    assert fields["trusted_proxies"].default_factory() == []  # type: ignore[misc]


def test_any_string_is_a_key() -> None:
    limiter = RateLimiter(1, 1, clock=Clock())
    assert [limiter.acquire("203.0.113.5"), limiter.acquire("203.0.113.5")] == [0, 1]
    assert limiter.acquire("2001:db8::/64") == 0


def test_the_buckets_held_are_bounded_dropping_full_ones_first() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 2, clock=clock, max_keys=10)
    limiter.acquire("flooder")
    limiter.acquire("flooder")  # empty: worth keeping
    for n in range(9):
        limiter.acquire(f"passer-by-{n}")
    clock.now += 1.5  # the passers-by are full again (a new bucket would be the same)
    limiter.acquire("newcomer")
    assert len(limiter) <= 10
    assert limiter.acquire("flooder") == 0 and limiter.acquire("flooder") == 1  # not reset
    for n in range(100):  # more keys than fit, none full: the least recently used go
        limiter.acquire(f"key-{n}")
    assert len(limiter) <= 10


TRUSTED = [ip_network("10.0.0.0/8"), ip_network("192.0.2.1/32")]


@pytest.mark.parametrize(
    ("direct", "forwarded", "trusted", "counted"),
    [
        # no proxy configured: X-Forwarded-For is never read
        ("198.51.100.7", ["203.0.113.5"], [], "198.51.100.7"),
        # from an untrusted address: X-Forwarded-For is a client's claim, ignored
        ("198.51.100.7", ["203.0.113.5"], TRUSTED, "198.51.100.7"),
        # through a trusted proxy: the address it saw
        ("10.1.2.3", ["203.0.113.5"], TRUSTED, "203.0.113.5"),
        # what the client wrote itself lies left of that and is not believed
        ("10.1.2.3", ["1.1.1.1, 203.0.113.5"], TRUSTED, "203.0.113.5"),
        # a chain of trusted proxies, over two header lines
        ("10.1.2.3", ["1.1.1.1, 203.0.113.5", "192.0.2.1"], TRUSTED, "203.0.113.5"),
        # only trusted hops: the left-most of them
        ("10.1.2.3", ["10.9.9.9"], TRUSTED, "10.9.9.9"),
        # garbage stops the walk at the last trusted hop (one shared bucket)
        ("10.1.2.3", ["203.0.113.5, not-an-ip"], TRUSTED, "10.1.2.3"),
        # IPv6 is counted by its /64; an IPv4-mapped address as IPv4
        ("2001:db8:1:2:aaaa::1", [], [], "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", [], [], "198.51.100.7"),
        ("10.1.2.3", ["2001:db8::5"], TRUSTED, "2001:db8::/64"),
        # no TCP peer (a Unix socket, a test client)
        (None, ["203.0.113.5"], TRUSTED, "unknown"),
    ],
)
def test_the_client_address(
    direct: str | None, forwarded: list[str], trusted: list, counted: str
) -> None:
    assert client_address(direct, forwarded, trusted) == counted
