"""Housekeeping: old request nonces are forgotten, fresh ones kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from node.clock import SystemClock
from node.context import NodeContext, open_node
from node.localfed import LocalFederation
from node.services.housekeeping import forget_old_nonces
from node.settings import load_settings
from node.storage import peers
from node.storage.db import transaction


@pytest.fixture
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    federation = LocalFederation(tmp_path_factory.mktemp("housekeeping"))
    federation.build()
    settings = load_settings(federation.nodes["mission"].config, run_workers=False)
    ctx = open_node(settings, SystemClock())
    try:
        yield ctx
    finally:
        ctx.engine.dispose()


def test_housekeeping_forgets_nonces_older_than_the_window(mission: NodeContext) -> None:
    now = mission.clock.now()
    with transaction(mission.engine) as session:
        peers.remember_nonce(session, peer="dpa", nonce="old", now=now - timedelta(hours=1))
        peers.remember_nonce(session, peer="dpa", nonce="fresh", now=now)
    assert forget_old_nonces(mission) == 1
    with transaction(mission.engine) as session:
        assert not peers.remember_nonce(session, peer="dpa", nonce="fresh", now=now)  # kept
        assert peers.remember_nonce(session, peer="dpa", nonce="old", now=now)  # forgotten
