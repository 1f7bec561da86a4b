"""Per-peer quotas on what pushed batches carry: views and body bytes per period.

The request rate limit (:mod:`node.api.rate_limit`) counts requests; one request may
still carry ``max_batch`` views in ``max_body_bytes``. Here each peer has two buckets,
one of views and one of bytes, each holding at most its quota and refilled evenly
over ``period`` seconds (so the quota is both the most a peer can send at once and,
spread over the period, its steady rate). A batch is charged in full or not at all:
if either bucket lacks room for it, nothing is taken and the answer is the whole
seconds until both have room (at least 1), for a 429 with ``Retry-After``.

:func:`node.api.routes.packets.post_packets` charges a batch once the request
signature verified and the body was read (its length known, its views counted),
before any view is looked at: a batch refused here costs neither verification nor
storage nor an audit entry.

The clock is injected (monotonic seconds), the state guarded by a lock: safe to share
between the event loop and worker threads. Each node process keeps its own buckets
(as for the rate limit): replicas behind one address each admit a quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PeerQuota", "QuotaRefusal"]


@dataclass
class _Buckets:
    views: float
    size: float
    updated: float


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a batch did not fit: which quota (``views`` or ``bytes``) and when to retry."""

    kind: str
    retry_after: int
    detail: str


class PeerQuota:
    """Quotas of ``views`` and ``size`` (bytes) per ``period_s`` by peer id; 0 disables one."""

    def __init__(
        self,
        views: int,
        size: int,
        period_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if views < 0 or size < 0:
            raise ValueError(f"quotas must be >= 0, not {views} views and {size} bytes")
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, not {period_s}")
        self.views = views
        self.size = size
        self.period_s = float(period_s)
        self._clock = clock
        self._buckets: dict[str, _Buckets] = {}
        self._lock = threading.Lock()

    def charge(self, peer: str, *, views: int, size: int) -> QuotaRefusal | None:
        """Take ``views`` and ``size`` bytes from ``peer``'s quotas; None if they fit, else
        why not (nothing is taken then)."""
        now = self._clock()
        with self._lock:
            buckets = self._buckets.get(peer)
            if buckets is None:
                buckets = self._buckets[peer] = _Buckets(float(self.views), float(self.size), now)
            elapsed = max(0.0, now - buckets.updated)
            buckets.updated = now
            buckets.views = self._refill(buckets.views, self.views, elapsed)
            buckets.size = self._refill(buckets.size, self.size, elapsed)
            waits = {
                "views": self._wait(buckets.views, self.views, views),
                "bytes": self._wait(buckets.size, self.size, size),
            }
            if not any(waits.values()):
                if self.views:
                    buckets.views -= views
                if self.size:
                    buckets.size -= size
                return None
        kind = max(waits, key=lambda k: waits[k])
        quota, asked = (self.views, views) if kind == "views" else (self.size, size)
        retry_after = max(1, math.ceil(waits[kind]))
        return QuotaRefusal(
            kind,
            retry_after,
            f"a batch of {views} views in {size} bytes is beyond peer {peer!r}'s quota of "
            f"{quota} {kind} per {self.period_s:g} s (this batch needs {asked}); "
            f"retry after {retry_after} s",
        )

    def _refill(self, level: float, quota: int, elapsed: float) -> float:
        return min(float(quota), level + elapsed * quota / self.period_s)

    def _wait(self, level: float, quota: int, asked: int) -> float:
        """Seconds until ``asked`` fits (0: now); a disabled quota always fits."""
        if not quota or asked <= level:
            return 0.0
        # more than the whole quota (settings refuse it, but never wait forever): a period
        return min(self.period_s, (asked - level) * self.period_s / quota)
