"""Watching this node's own log for witnesses gone silent (threat model A6).

Each witness the manifest assigns this log (:func:`protocol.witnessing.witnesses_of`)
asks for its new checkpoints every few seconds and cosigns each one
(:mod:`node.services.witness`). A witness that is down, overloaded or cut off just
stops: nothing fails at this node, and with k witnesses, k nodes down leave the log
unwitnessed. So the node watches its own log's cosignatures. Every round (a tenth of
``audit.unwitnessed_alert_s``, from 1 s to 60 s) it works out, per witness, how long
the oldest checkpoint that witness has not cosigned has waited since it was signed:

- ``clearinghouse_audit_witness_lag_seconds{witness}``, 0 once it cosigned the latest;
- a warning in the node's log when a witness's lag passes ``unwitnessed_alert_s``, and
  a line when it cosigns again;
- when every witness's lag has passed it, the log is unwitnessed: an alert of kind
  ``unwitnessed`` about this node itself (``GET /v1/audit/alerts``, a ``witness.alert``
  audit entry, ``clearinghouse_audit_alerts_total``), once per episode. An episode is
  named by the oldest checkpoint no witness has cosigned, so a log that goes
  unwitnessed again later raises a new alert.

The lag is measured from the checkpoint's ``signed_at``, by the node's clock. A clock
stepped forward (a drill, a corrected skew) would make every lag jump at once, so a
witness counts as silent only once this process has also seen it waiting on the same
checkpoint for ``unwitnessed_alert_s`` by its monotonic clock: after a restart, or a
step of the clock, an alert comes no sooner than that after it.

The owner is the one node that sees all of its witnesses at once: each witness knows
only that it stopped. ``clearinghouse audit verify --min-cosignatures`` shows an
auditor the same gap afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.witness import Inconsistent, raise_alert
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditCheckpoint
from clearinghouse.protocol.witnessing import witnesses_of

__all__ = [
    "Watch",
    "WitnessLag",
    "round_wait_s",
    "run_witness_watch",
    "unwitnessed",
    "watch_round",
    "witness_lags",
]

log = logging.getLogger("clearinghouse.witness")

#: Bounds of the wait between rounds, a tenth of ``unwitnessed_alert_s``.
_ROUND_MIN_S, _ROUND_MAX_S = 1.0, 60.0


@dataclass(frozen=True)
class WitnessLag:
    """Where one witness stands with this node's log."""

    witness: str
    #: the largest checkpoint size it cosigned (0: none)
    cosigned: int
    #: the oldest checkpoint it has not cosigned, if any
    waiting: AuditCheckpoint | None
    #: how long ``waiting`` has waited since it was signed (0 without one)
    seconds: float


@dataclass
class Watch:
    """The watch's settings and what it reported last."""

    after_s: float
    #: the witnesses last reported silent
    silent: set[str] = field(default_factory=set)
    #: since when (monotonic seconds) each witness has been seen waiting on the
    #: checkpoint (by size) it waits on now
    first_seen: dict[tuple[str, int], float] = field(default_factory=dict)

    def look(self, lags: Sequence[WitnessLag], now_s: float) -> set[str]:
        """Note what each witness waits on at ``now_s``; the witnesses silent now."""
        waiting = [(lag.witness, lag.waiting.size) for lag in lags if lag.waiting is not None]
        self.first_seen = {key: self.first_seen.get(key, now_s) for key in waiting}
        return {lag.witness for lag in lags if self._waited(lag, now_s) >= self.after_s}

    def _waited(self, lag: WitnessLag, now_s: float) -> float:
        """How long ``lag``'s witness has waited, at most as long as this watch saw it."""
        if lag.waiting is None:
            return 0.0
        seen = now_s - self.first_seen[(lag.witness, lag.waiting.size)]
        return min(lag.seconds, seen)


def witness_lags(ctx: NodeContext) -> list[WitnessLag]:
    """Each witness of this node's log (by the manifest in force), in the manifest's order."""
    witnesses = witnesses_of(ctx.manifest, ctx.participant)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        return [_lag(session, witness, now) for witness in witnesses]


def _lag(session: Session, witness: str, now: datetime) -> WitnessLag:
    cosigned = auditlog.last_cosigned(session, witness)
    after = auditlog.checkpoints_after(session, cosigned, limit=1)
    if not after:
        return WitnessLag(witness, cosigned, None, 0.0)
    waited = (now - after[0].signed_at).total_seconds()
    return WitnessLag(witness, cosigned, after[0], max(waited, 0.0))


def watch_round(ctx: NodeContext, watch: Watch, now_s: float) -> bool:
    """One look at the witnesses at ``now_s`` (monotonic seconds): set the gauge, report
    witnesses gone silent or back, and raise the ``unwitnessed`` alert if every one is
    silent. Returns whether a new alert was raised."""
    lags = witness_lags(ctx)
    gauge = ctx.metrics.audit_witness_lag
    gauge.clear()  # a witness the manifest no longer assigns leaves no series behind
    for lag in lags:
        gauge.labels(witness=lag.witness).set(lag.seconds)
    silent = watch.look(lags, now_s)
    for lag in lags:
        if lag.witness in silent - watch.silent:
            log.warning(
                "witness %s has not cosigned checkpoint %d of this log, signed %.0f s ago",
                lag.witness,
                lag.waiting.size if lag.waiting else 0,
                lag.seconds,
            )
        elif lag.witness in watch.silent - silent:
            log.info("witness %s cosigns this log again", lag.witness)
    watch.silent = silent
    if not lags or len(silent) < len(lags):
        return False
    return raise_alert(ctx, ctx.participant, unwitnessed(lags, watch.after_s))


def unwitnessed(lags: Sequence[WitnessLag], after_s: float) -> Inconsistent:
    """The alert for a log none of whose witnesses (``lags``, each waiting on a
    checkpoint) cosigned for ``after_s``: named by the oldest checkpoint no witness
    cosigned, the same for the whole episode; its note is the evidence."""
    furthest = max(lags, key=lambda lag: lag.cosigned)
    waiting = furthest.waiting
    if waiting is None:
        raise ValueError("a log with a witness that cosigned its latest checkpoint is witnessed")
    names = ", ".join(lag.witness for lag in lags)
    detail = (
        f"no witness of this log ({names}) has cosigned its checkpoint of size "
        f"{waiting.size}, signed at {waiting.signed_at:%Y-%m-%dT%H:%M:%SZ}, within "
        f"{after_s:g} s; entries from index {furthest.cosigned} on are unwitnessed"
    )
    return Inconsistent("unwitnessed", detail, waiting.note)


def round_wait_s(after_s: float) -> float:
    """The wait between rounds: a tenth of ``after_s``, from 1 s to 60 s."""
    return min(max(after_s / 10, _ROUND_MIN_S), _ROUND_MAX_S)


async def run_witness_watch(ctx: NodeContext) -> None:
    """Watch this log's witnesses until cancelled; nothing if ``unwitnessed_alert_s`` is 0."""
    after_s = ctx.settings.audit.unwitnessed_alert_s
    if after_s == 0:
        return
    watch = Watch(after_s)
    while True:
        try:
            await asyncio.to_thread(watch_round, ctx, watch, time.monotonic())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching this log's witnesses failed; trying again")
        await asyncio.sleep(round_wait_s(after_s))
