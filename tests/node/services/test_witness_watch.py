"""The watch on this node's own witnesses: a lag per witness, a warning for each gone
silent, and one ``unwitnessed`` alert per episode in which all of them are; on a real
node's log, with the clock set by the test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.checkpoints import sign_checkpoint
from clearinghouse.node.services.witness_watch import (
    Watch,
    round_wait_s,
    run_witness_watch,
    watch_round,
)
from clearinghouse.node.settings import AuditSettings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act, parse_entry
from clearinghouse.protocol.witnessing import witnesses_of
from tests.node.services._trust_support import FixedClock
from tests.nodes import built_federation, opened_node

LAG = "clearinghouse_audit_witness_lag_seconds"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("witness-watch"), ("mission", "unodc", "dpa"))


class Clock(FixedClock):
    """A clock set in seconds after its start: just after the federation was built (its
    keys are valid from then)."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        super().__init__(self.start)

    def set(self, seconds: float) -> None:
        self.at = self.start + timedelta(seconds=seconds)


@pytest.fixture
def clock(fed: LocalFederation) -> Clock:
    return Clock()


@pytest.fixture
def dpa(fed: LocalFederation, clock: Clock, tmp_path: Path) -> Iterator[NodeContext]:
    """dpa, whose log mission and unodc witness, on a database of its own."""
    url = f"sqlite:///{tmp_path / 'dpa.db'}"
    with opened_node(fed.nodes["dpa"], clock=clock, database_url=url) as ctx:
        yield ctx


def checkpoint(ctx: NodeContext) -> int:
    """Grow the log by an entry and sign a checkpoint now; its size."""
    with transaction(ctx.engine) as session:
        auditlog.append(session, [Act("witness.alert", "node:dpa")], now=ctx.clock.now())
    row = sign_checkpoint(ctx)
    assert row is not None
    return row.size


def cosign(ctx: NodeContext, witness: str, size: int) -> None:
    with transaction(ctx.engine) as session:
        line = (size, f"\u2014 {witness} AAAA\n", 0)
        auditlog.add_cosignatures(session, witness=witness, lines=[line], now=ctx.clock.now())


def lags(ctx: NodeContext) -> dict[str, float | None]:
    registry = ctx.metrics.registry
    return {w: registry.get_sample_value(LAG, {"witness": w}) for w in ("mission", "unodc")}


def alerts(ctx: NodeContext) -> list[tuple[str, str, str, str]]:
    with transaction(ctx.engine) as session:
        rows = auditlog.alerts(session)
    return [(a.peer, a.kind, a.detail, a.evidence) for a in reversed(rows)]


def checkpoint_note(ctx: NodeContext, size: int) -> str:
    with transaction(ctx.engine) as session:
        row = auditlog.checkpoint_at(session, size)
        assert row is not None
        return row.note


def look(ctx: NodeContext, clock: Clock, watch: Watch, seconds: float) -> bool:
    """A round ``seconds`` after the start, by the node's clock and the monotonic one."""
    clock.set(seconds)
    return watch_round(ctx, watch, seconds)


def test_a_log_is_unwitnessed_only_once_every_witness_is_silent(
    dpa: NodeContext, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    assert set(witnesses_of(dpa.manifest, "dpa")) == {"mission", "unodc"}
    watch = Watch(after_s=60)
    first = checkpoint(dpa)
    assert look(dpa, clock, watch, 30) is False
    assert lags(dpa) == {"mission": 30.0, "unodc": 30.0} and watch.silent == set()

    cosign(dpa, "mission", first)  # mission keeps up; unodc goes silent: a warning only
    with caplog.at_level(logging.INFO, logger="clearinghouse.witness"):
        assert look(dpa, clock, watch, 90) is False
    assert lags(dpa) == {"mission": 0.0, "unodc": 90.0} and watch.silent == {"unodc"}
    assert any("witness unodc has not cosigned" in r.message for r in caplog.records)

    second = checkpoint(dpa)  # mission goes silent too: the log is unwitnessed
    assert look(dpa, clock, watch, 100) is False  # mission seen waiting from here
    assert look(dpa, clock, watch, 200) is True
    assert lags(dpa) == {"mission": 110.0, "unodc": 200.0}
    [(peer, kind, detail, evidence)] = alerts(dpa)
    assert (peer, kind, evidence) == ("dpa", "unwitnessed", checkpoint_note(dpa, second))
    assert f"its checkpoint of size {second}," in detail
    assert f"entries from index {first} on are unwitnessed" in detail
    counted = dpa.metrics.registry.get_sample_value(
        "clearinghouse_audit_alerts_total", {"peer": "dpa", "kind": "unwitnessed"}
    )
    assert counted == 1
    with transaction(dpa.engine) as session:
        [entry] = auditlog.search(session, act="witness.alert", limit=10)[:1]
    body: dict[str, Any] = parse_entry(entry.body.encode()).body
    assert (body["peer"], body["kind"], body["detail"]) == ("dpa", "unwitnessed", detail)

    # still the same episode: no second alert
    assert look(dpa, clock, watch, 260) is False and len(alerts(dpa)) == 1

    cosign(dpa, "unodc", second)  # unodc is back
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="clearinghouse.witness"):
        assert look(dpa, clock, watch, 270) is False
    assert watch.silent == {"mission"}
    assert any("witness unodc cosigns this log again" in r.message for r in caplog.records)

    cosign(dpa, "mission", second)  # a later episode is a new alert
    third = checkpoint(dpa)
    assert look(dpa, clock, watch, 280) is False
    assert look(dpa, clock, watch, 400) is True
    signed = clock.start + timedelta(seconds=270)
    assert [a[2] for a in alerts(dpa)][1:] == [
        f"no witness of this log (mission, unodc) has cosigned its checkpoint of size {third}, "
        f"signed at {signed:%Y-%m-%dT%H:%M:%SZ}, within 60 s; entries from index {second} on "
        "are unwitnessed"
    ]


def test_a_clock_stepped_forward_alerts_only_once_the_wait_is_seen(
    dpa: NodeContext, clock: Clock
) -> None:
    """A clock stepped 900 s forward makes every checkpoint look 900 s old: the gauge
    says so, but the witnesses count as silent only after the watch saw them wait."""
    watch = Watch(after_s=60)
    checkpoint(dpa)
    clock.set(900)
    assert watch_round(dpa, watch, 0.0) is False
    assert lags(dpa) == {"mission": 900.0, "unodc": 900.0} and watch.silent == set()
    clock.set(959)
    assert watch_round(dpa, watch, 59.0) is False and alerts(dpa) == []
    clock.set(960)
    assert watch_round(dpa, watch, 60.0) is True and watch.silent == {"mission", "unodc"}


def test_a_log_with_no_checkpoint_waits_on_nobody(dpa: NodeContext, clock: Clock) -> None:
    assert look(dpa, clock, Watch(after_s=60), 10_000) is False
    assert lags(dpa) == {"mission": 0.0, "unodc": 0.0} and alerts(dpa) == []


def test_a_witness_no_longer_assigned_leaves_no_series(dpa: NodeContext) -> None:
    dpa.metrics.audit_witness_lag.labels(witness="sanctions").set(42)
    watch_round(dpa, Watch(after_s=60), 0.0)
    assert dpa.metrics.registry.get_sample_value(LAG, {"witness": "sanctions"}) is None
    assert lags(dpa) == {"mission": 0.0, "unodc": 0.0}


def test_rounds_are_a_tenth_of_the_alert_time_within_bounds() -> None:
    assert AuditSettings().unwitnessed_alert_s == 600.0
    assert [round_wait_s(s) for s in (3, 100, 600, 86400)] == [1.0, 10.0, 60.0, 60.0]


def test_a_watch_turned_off_ends_at_once(fed: LocalFederation, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    with opened_node(fed.nodes["dpa"], database_url=url) as ctx:
        ctx.settings.audit.unwitnessed_alert_s = 0
        asyncio.run(asyncio.wait_for(run_witness_watch(ctx), timeout=5))
        assert ctx.metrics.registry.get_sample_value(LAG, {"witness": "mission"}) is None
