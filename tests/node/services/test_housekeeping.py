"""Housekeeping: old request nonces are forgotten, fresh ones kept; refusals purged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from clearinghouse.node.clock import OffsetClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.housekeeping import forget_old_nonces, forget_old_refusals
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.storage import packets, peers
from clearinghouse.node.storage.db import transaction
from tests.nodes import built_federation, opened_node


@pytest.fixture
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    federation = built_federation(tmp_path_factory.mktemp("housekeeping"))
    with opened_node(federation.nodes["mission"]) as ctx:
        yield ctx


def test_housekeeping_forgets_nonces_older_than_the_window(mission: NodeContext) -> None:
    now = mission.clock.now()
    with transaction(mission.engine) as session:
        peers.remember_nonce(session, peer="dpa", nonce="old", now=now - timedelta(hours=1))
        peers.remember_nonce(session, peer="dpa", nonce="fresh", now=now)
    assert forget_old_nonces(mission) == 1
    with transaction(mission.engine) as session:
        assert not peers.remember_nonce(session, peer="dpa", nonce="fresh", now=now)  # kept
        assert peers.remember_nonce(session, peer="dpa", nonce="old", now=now)  # forgotten


def test_housekeeping_purges_refusals_past_their_retention(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A refused view's record is kept ``refusal_retention_days``, then forgotten."""
    federation = built_federation(tmp_path_factory.mktemp("retention"))
    clock = OffsetClock(timedelta(0))
    with opened_node(federation.nodes["mission"], clock, refusal_retention_days=2) as ctx:
        receive_views(ctx, peer="dpa", views=["junk"], sign=False)
        clock.offset = timedelta(days=1)
        receive_views(ctx, peer="dpa", views=["more junk"], sign=False)
        assert forget_old_refusals(ctx) == 0  # neither is two days old
        clock.offset = timedelta(days=2, hours=1)
        assert forget_old_refusals(ctx) == 1
        with transaction(ctx.engine) as session:
            assert packets.count_refusals(session) == {"rejected": 1}
