"""Request rate limits: token buckets by key, and the client address a request is counted by.

:class:`RateLimiter` keeps one token bucket per key. Each key may make ``burst``
requests at once and ``rate`` requests per second after that; a request finding no
token is refused with 429 and a ``Retry-After`` of the whole seconds until the next
token (at least 1), which the delivery worker of a peer's node honours. Two are used:

* :class:`PeerRateLimiter`, keyed by the authenticated peer id. Requests are counted,
  not the views they carry: a batch of 500 views costs one token, so the normal
  federation (pushes, catch-up, witnessing) stays far below the defaults. It is
  applied by :mod:`node.api.deps` *after* the request signature verified, so nobody
  can spend another peer's tokens by naming it.
* the address limiter (a plain :class:`RateLimiter`), keyed by :func:`client_address`.
  Only requests that fail authentication (401/403 from a bearer token or a request
  signature) and requests to unauthenticated endpoints that do work (``POST
  /ui/login``) take its tokens; a request with valid credentials never does, so
  peers and users sharing an address (loopback in tests, a NAT) are not throttled by
  each other's successes, only by failures.

Memory is bounded: at ``max_keys`` buckets, the full ones (which a new bucket
would equal) are dropped, then the least recently used. A key evicted that way gets
a fresh burst, which only a flood from more than ``max_keys`` keys at once can cause.

The clock is injected (monotonic seconds), the state guarded by a lock: a limiter is
safe to share between the event loop and worker threads.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

__all__ = ["PeerRateLimiter", "RateLimiter", "client_address"]

Network = IPv4Network | IPv6Network
#: IPv6 clients are counted by their /64: one host usually holds a whole /64.
_IPV6_PREFIX = 64


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by key; ``rate_per_s == 0`` admits everything."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate_per_s < 0:
            raise ValueError(f"rate_per_s must be >= 0, not {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, not {max_keys}")
        self.rate = float(rate_per_s)
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: str) -> int:
        """Take one of ``key``'s tokens: 0 if admitted, else the whole seconds to wait (>= 1)."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            else:
                self._buckets.move_to_end(key)
            self._refill(bucket, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def __len__(self) -> int:
        """How many buckets are held (for tests of the memory bound)."""
        return len(self._buckets)

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated = now

    def _make_room(self, now: float) -> None:
        """At ``max_keys``, drop the full buckets, then the least recently used, down to
        nine tenths: the sweep is paid once per ``max_keys / 10`` new keys."""
        if len(self._buckets) < self.max_keys:
            return
        for key, bucket in list(self._buckets.items()):
            if min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate) >= (
                self.burst
            ):
                del self._buckets[key]
        keep = self.max_keys * 9 // 10
        while len(self._buckets) > keep:
            self._buckets.popitem(last=False)


class PeerRateLimiter(RateLimiter):
    """Token buckets by authenticated peer id (see the module docstring)."""


def client_address(direct: str | None, forwarded: Sequence[str], trusted: Iterable[Network]) -> str:
    """The address a request is counted by.

    ``direct`` is the TCP peer's address (``request.client.host``; None over a Unix
    socket or in a test client), ``forwarded`` the ``X-Forwarded-For`` header lines in
    order. Only when ``direct`` is in a ``trusted`` proxy network is ``X-Forwarded-For``
    read, from the right: each hop a trusted proxy appended is skipped, and the first
    address that is not a trusted proxy is the client. Anything a client wrote itself
    lies left of it and is never read. An entry that is not an IP address stops the walk
    at the last trusted hop, so garbage shares one bucket rather than minting new ones.
    IPv6 addresses are counted by their /64.
    """
    networks = tuple(trusted)
    address = _parse(direct)
    if address is None:
        return direct or "unknown"
    if networks and _within(address, networks):
        hops = [hop.strip() for line in forwarded for hop in line.split(",")]
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:
                break
            address = parsed
            if not _within(parsed, networks):
                break
    if isinstance(address, IPv6Address) and address.ipv4_mapped is None:
        return str(IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address.ipv4_mapped if isinstance(address, IPv6Address) else address)


def _parse(value: str | None) -> IPv4Address | IPv6Address | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])  # no IPv6 zone id
    except ValueError:
        return None


def _within(address: IPv4Address | IPv6Address, networks: tuple[Network, ...]) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)
