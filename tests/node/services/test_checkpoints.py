"""The checkpointer's cadence: per ``checkpoint_entries`` when busy, a quiet interval
that doubles (from ``checkpoint_interval_s`` to ``checkpoint_max_interval_s``) while the
log only trickles, nothing while it stands still; on a real node's log, with the
clock given as numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.checkpoints import Cadence, look_and_sign
from clearinghouse.node.settings import AuditSettings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.audit import Act
from tests.nodes import built_federation, opened_node


def cadence() -> Cadence:
    return Cadence.of(
        AuditSettings(checkpoint_interval_s=1, checkpoint_max_interval_s=10, checkpoint_entries=100)
    )


def test_the_defaults() -> None:
    settings = AuditSettings()
    assert (
        settings.checkpoint_interval_s,
        settings.checkpoint_entries,
        settings.checkpoint_max_interval_s,
    ) == (1.0, 1000, 10.0)


def test_a_trickle_waits_longer_and_longer_up_to_the_maximum() -> None:
    c = cadence()
    assert not c.due(0, 0.0)  # an idle log: nothing, ever
    assert c.due(1, 0.0)  # the first growth: at once
    intervals = []
    now = 0.0
    for _ in range(7):
        c.signed(1, now)
        intervals.append(c.interval_s)
        assert not c.due(0, now + 1000)  # still nothing without growth
        assert not c.due(5, now + c.interval_s - 0.01)
        now += c.interval_s
        assert c.due(5, now)
    assert intervals == [2, 4, 8, 10, 10, 10, 10]


def test_a_busy_log_is_signed_per_so_many_entries_and_resets_the_interval() -> None:
    c = cadence()
    c.signed(1, 0.0)
    c.signed(1, 2.0)
    c.signed(1, 6.0)
    assert c.interval_s == 8
    assert c.due(100, 6.5)  # grown by checkpoint_entries: at once, whatever the interval
    c.signed(100, 6.5)
    assert c.interval_s == 1
    assert not c.due(99, 7.0)
    assert c.due(99, 7.5)  # quiet again: after the (reset) interval
    c.signed(99, 7.5)
    assert c.interval_s == 2


def test_a_maximum_below_the_interval_is_the_interval() -> None:
    c = Cadence.of(AuditSettings(checkpoint_interval_s=3, checkpoint_max_interval_s=1))
    c.signed(1, 0.0)
    assert c.interval_s == 3


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    return built_federation(tmp_path_factory.mktemp("checkpoints"), ("mission", "dpa"))


@pytest.fixture
def mission(fed: LocalFederation, tmp_path: Path) -> Iterator[NodeContext]:
    url = f"sqlite:///{tmp_path / 'mission.db'}"
    with opened_node(fed.nodes["mission"], database_url=url) as ctx:
        yield ctx


def grow(ctx: NodeContext, entries: int) -> None:
    acts = [Act("witness.alert", "node:mission", fields={"n": i}) for i in range(entries)]
    with transaction(ctx.engine) as session:
        auditlog.append(session, acts, now=ctx.clock.now())


def sizes(ctx: NodeContext) -> list[int]:
    with transaction(ctx.engine) as session:
        return [c.size for c in auditlog.checkpoints_after(session, 0)]


def test_on_a_real_log(mission: NodeContext) -> None:
    c = Cadence(base_s=1, max_s=4, entries=50)
    start = sizes(mission)
    assert start == []  # the start-up entries are not signed yet
    first = look_and_sign(mission, c, 0.0)  # they are at the first look
    assert first is not None and c.interval_s == 2
    assert look_and_sign(mission, c, 100.0) is None  # idle: nothing
    grow(mission, 3)
    assert look_and_sign(mission, c, 1.0) is None  # quiet: not before 2 s
    signed = look_and_sign(mission, c, 2.0)
    assert signed is not None and signed.size == first.size + 3 and c.interval_s == 4
    grow(mission, 60)  # busy: at the next look, and back to the base interval
    busy = look_and_sign(mission, c, 2.5)
    assert busy is not None and busy.size == signed.size + 60 and c.interval_s == 1
    grow(mission, 1)
    assert look_and_sign(mission, c, 3.0) is None
    assert look_and_sign(mission, c, 3.5) is not None
    assert sizes(mission) == [first.size, signed.size, busy.size, busy.size + 1]
