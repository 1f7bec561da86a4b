"""The delivery, catch-up and manifest loops ask less while there is nothing to do.

Each node runs one delivery and one catch-up loop per peer and compares manifests
with every peer: polled at a fixed pace, that is n(n - 1) database transactions or
signed requests per interval across a federation whatever the traffic (a tenth of a
16-node run's CPU went to delivery polls alone). The loops run here for real, against
a node's own database, with the round itself counted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import catchup, deliver, manifests
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.transport.peer_client import PeerClient
from tests.node.conftest import LogLines
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

RECORD = json.loads((EXAMPLES / "records" / "market-price.json").read_text())


@pytest.fixture
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    federation = built_federation(tmp_path_factory.mktemp("idle"), ("undp", "mission", "dpa"))
    with opened_node(federation.nodes["undp"]) as context:
        yield context


def _with_delivery(ctx: NodeContext, **values: float) -> None:
    delivery = ctx.settings.delivery.model_copy(update=values)
    ctx.settings = ctx.settings.model_copy(update={"delivery": delivery})


async def _run_for(seconds: float, loop: Any, ctx: NodeContext) -> None:
    async with httpx.AsyncClient() as http:
        client = PeerClient(http, key=ctx.key, kid=ctx.kid, clock=ctx.clock)
        task = asyncio.create_task(loop(ctx, client, ctx.manifest.participant("mission")))
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_delivery_loop_with_nothing_due_waits_to_be_woken(
    ctx: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_delivery(ctx, poll_interval_s=0.05, idle_poll_max_s=5.0)
    rounds: list[float] = []

    async def counted(*args: Any, **kwargs: Any) -> int:
        rounds.append(asyncio.get_running_loop().time())
        return 0

    monkeypatch.setattr(deliver, "deliver_round", counted)

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, key=ctx.key, kid=ctx.kid, clock=ctx.clock)
            task = asyncio.create_task(
                deliver._peer_loop(ctx, client, ctx.manifest.participant("mission"))
            )
            try:
                await asyncio.sleep(1.0)  # nothing queued: one round, then asleep (20 at 0.05 s)
                idle = len(rounds)
                queued = await asyncio.to_thread(ingest_records, ctx, "market-price/1", [RECORD])
                await asyncio.sleep(0.5)  # ingest wakes the loop: the view is due at once
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert len(queued.accepted) == 1
            assert idle == 1
            assert len(rounds) >= 2

    asyncio.run(scenario())


def test_a_delivery_loop_goes_on_when_the_database_fails_between_rounds(
    ctx: NodeContext, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    """Asking when the next view falls due can fail (a PostgreSQL connection cut): the
    loop logs it and looks again after ``poll_interval_s``. It had ended for good, its
    peer's views owed until the next manifest switch (a fault test caught it)."""
    _with_delivery(ctx, poll_interval_s=0.05, idle_poll_max_s=5.0)
    rounds: list[float] = []
    asked: list[float] = []
    real = deliver._next_due_in

    async def counted(*args: Any, **kwargs: Any) -> int:
        rounds.append(asyncio.get_running_loop().time())
        return 0

    def failing_twice(context: NodeContext, peer: str) -> float | None:
        asked.append(0)
        if len(asked) <= 2:
            raise OperationalError("SELECT ...", {}, Exception("server closed the connection"))
        return real(context, peer)

    monkeypatch.setattr(deliver, "deliver_round", counted)
    monkeypatch.setattr(deliver, "_next_due_in", failing_twice)
    asyncio.run(_run_for(1.0, deliver._peer_loop, ctx))
    assert len(rounds) == 3 and len(asked) == 3  # a round after each failure, then asleep
    failed = [line for line in log_lines() if line["message"].startswith("looking for views due")]
    assert [line["message"] for line in failed] == ["looking for views due to mission failed"] * 2
    assert "server closed the connection" in failed[0]["exception"]


def test_a_view_due_later_is_claimed_when_due_not_before(ctx: NodeContext) -> None:
    _with_delivery(ctx, poll_interval_s=0.05, idle_poll_max_s=5.0)
    assert deliver._next_due_in(ctx, "mission") is None
    result = ingest_records(ctx, "market-price/1", [RECORD])
    assert len(result.accepted) == 1
    due_in = deliver._next_due_in(ctx, "mission")
    assert due_in is not None and due_in <= 0  # due now


@pytest.mark.parametrize(
    ("pulled", "most", "least"),
    [(0, 6, 3), (None, 40, 8), (2, 40, 8)],  # at the pace: ~24, fewer when loaded; > 6
    ids=["empty feed: backs off", "failed pull: keeps the pace", "views pulled: keeps the pace"],
)
def test_catch_up_backs_off_from_an_empty_feed_only(
    ctx: NodeContext, monkeypatch: pytest.MonkeyPatch, pulled: int | None, most: int, least: int
) -> None:
    _with_delivery(ctx, catchup_interval_s=0.05, catchup_idle_max_s=0.4)
    calls: list[float] = []

    async def counted(*args: Any) -> int:
        calls.append(asyncio.get_running_loop().time())
        if pulled is None:
            raise RuntimeError("no route to the peer")
        return pulled

    monkeypatch.setattr(catchup, "catch_up", counted)
    asyncio.run(_run_for(1.2, catchup._peer_loop, ctx))
    # doubling from 0.05 s up to 0.4 s: about 5 pulls in 1.2 s; at 0.05 s about 24
    assert least <= len(calls) <= most, calls


@pytest.mark.parametrize(
    ("agree", "most", "least"),
    [(True, 6, 3), (False, 40, 8)],  # at the pace: ~24, fewer on a loaded machine; > 6
    ids=["every peer holds our serial: backs off", "a peer behind: keeps the pace"],
)
def test_manifest_comparisons_back_off_while_every_peer_agrees(
    ctx: NodeContext, monkeypatch: pytest.MonkeyPatch, agree: bool, most: int, least: int
) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={
            "manifest_sync_interval_s": 0.02,
            "manifest_poll_interval_s": 0.05,
            "manifest_poll_max_s": 0.4,
        }
    )
    rounds: list[float] = []

    async def counted(ctx: NodeContext, client: PeerClient) -> None:
        rounds.append(asyncio.get_running_loop().time())
        for peer in ctx.peers:
            behind = not agree and peer.id == "dpa"
            ctx.peer_serials[peer.id] = ctx.manifest.serial - behind

    monkeypatch.setattr(manifests, "spread_round", counted)

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, key=ctx.key, kid=ctx.kid, clock=ctx.clock)
            task = asyncio.create_task(manifests.run_manifest_sync(ctx, client))
            try:
                await asyncio.sleep(1.2)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    # doubling from 0.05 s up to 0.4 s: about 5 rounds in 1.2 s; at 0.05 s about 24
    assert least <= len(rounds) <= most, rounds
