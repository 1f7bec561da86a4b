"""Per-peer request rate limit: one token bucket per authenticated peer.

Each peer may make ``burst`` requests at once and ``rate`` requests per second after
that; a request finding no token is refused with 429 and a ``Retry-After`` of the
whole seconds until the next token (at least 1), which the delivery worker of the
peer's node honours. Requests are counted, not the views they carry: a batch of 500
views costs one token, so the normal federation (pushes, catch-up, witnessing) stays
far below the defaults.

The limit is applied by :mod:`node.api.deps` *after* the request signature verified,
so the peer id it counts against is authenticated and nobody can spend another
peer's tokens by naming it. Unsigned or badly signed floods are not limited here:
they cost one Ed25519 verification each and are refused with 401 (count them with
``clearinghouse_requests_refused_total``); limiting them by address belongs in front
of the node (reverse proxy, load balancer).

The clock is injected (monotonic seconds), the state guarded by a lock: the
limiter is safe to share between the event loop and worker threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PeerRateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class PeerRateLimiter:
    """Token buckets by peer id; ``rate_per_s == 0`` admits everything."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s < 0:
            raise ValueError(f"rate_per_s must be >= 0, not {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        self.rate = float(rate_per_s)
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, peer: str) -> int:
        """Take one of ``peer``'s tokens: 0 if admitted, else the whole seconds to wait (>= 1)."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(peer)
            if bucket is None:
                bucket = self._buckets[peer] = _Bucket(float(self.burst), now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
