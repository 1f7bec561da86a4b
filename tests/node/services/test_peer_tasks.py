"""``run_per_peer``: one worker loop per peer of the manifest in force, following switches
(a peer added, removed or moved to another ``base_url``) without a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import peer_tasks
from clearinghouse.node.services.peer_tasks import run_per_peer
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, Participant, manifest_json, parse_manifest
from clearinghouse.protocol.manifest_changes import propose
from tests.databases import sqlite_template
from tests.node.conftest import LogLines
from tests.node.services._trust_support import (
    NOW,
    FixedClock,
    TrustFederation,
    make_trust_federation,
    opened_trust_node,
)
from tests.support import seeded_key

CLIENT = object()  # what the loops are given as their PeerClient


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture
def mission(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    template = sqlite_template(tmp_path_factory)
    with opened_trust_node(
        tmp_path / "mission", fed, "mission", FixedClock(), template=template
    ) as ctx:
        yield ctx


class Loops:
    """A stand-in worker loop that records each start and stop (peer, base_url, task)."""

    def __init__(self, *, ends: Callable[[Participant], bool] = lambda p: False) -> None:
        self.started: list[tuple[str, str, str]] = []
        self.stopped: list[tuple[str, str]] = []
        self.ends = ends  # the loops that return at once (as if they crashed)

    async def loop(self, ctx: NodeContext, client: Any, peer: Participant) -> None:
        assert client is CLIENT
        task = asyncio.current_task()
        self.started.append((peer.id, peer.base_url, task.get_name() if task else ""))
        if self.ends(peer):
            raise RuntimeError(f"{peer.id} worker failed")
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped.append((peer.id, peer.base_url))

    def starts(self, peer: str) -> int:
        return sum(1 for p, _, _ in self.started if p == peer)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def settle() -> None:
    """Let the runner react to anything it might still react to."""
    for _ in range(20):
        await asyncio.sleep(0.005)


def switch(ctx: NodeContext, manifest: Manifest) -> None:
    ctx.manifest = manifest
    ctx.manifest_signal.set()


def moved(manifest: Manifest, participant: str, base_url: str) -> Manifest:
    doc = json.loads(manifest_json(manifest))
    doc.pop("signatures")
    doc["serial"] += 1
    for p in doc["participants"]:
        if p["id"] == participant:
            p["base_url"] = base_url
    return parse_manifest(doc)


def url(ctx: NodeContext, peer: str) -> str:
    return ctx.manifest.participant(peer).base_url


def test_a_loop_per_peer_and_switches_add_and_remove_only_what_changed(
    mission: NodeContext, log_lines: LogLines
) -> None:
    loops = Loops()
    first = mission.manifest
    newcomer = {
        "id": "newcomer",
        "name": "A new participant",
        "base_url": "http://127.0.0.1:8199",
        "keys": [public_jwk(seeded_key("newcomer"))],
    }
    without_undp = propose(first, now=NOW, remove_participants=["undp"])
    with_newcomer = propose(without_undp, now=NOW, add_participants=[newcomer])

    async def scenario() -> None:
        runner = asyncio.create_task(run_per_peer(mission, CLIENT, "deliver", loops.loop))  # type: ignore[arg-type]
        await until(lambda: len(loops.started) == 4)
        assert sorted(loops.started) == [
            (p, url(mission, p), f"deliver-{p}") for p in ("dpa", "sanctions", "undp", "unodc")
        ]
        assert loops.stopped == []

        switch(mission, without_undp)
        await until(lambda: len(loops.stopped) == 1)
        await settle()
        assert loops.stopped == [("undp", first.participant("undp").base_url)]
        assert len(loops.started) == 4  # the others kept running, not restarted

        switch(mission, with_newcomer)
        await until(lambda: len(loops.started) == 5)
        await settle()
        assert loops.started[-1] == ("newcomer", "http://127.0.0.1:8199", "deliver-newcomer")
        assert len(loops.stopped) == 1

        mission.manifest_signal.set()  # a wake-up without a change changes nothing
        await settle()
        assert (len(loops.started), len(loops.stopped)) == (5, 1)

        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        assert sorted(p for p, _ in loops.stopped) == [
            "dpa",
            "newcomer",
            "sanctions",
            "undp",
            "unodc",
        ]

    asyncio.run(scenario())
    messages = [line["message"] for line in log_lines()]
    assert messages.count("deliver: undp left the federation; its worker stopped") == 1


def test_a_peer_that_moves_gets_its_loop_restarted_with_the_new_address(
    mission: NodeContext,
) -> None:
    loops = Loops()
    old_url = url(mission, "dpa")

    async def scenario() -> None:
        runner = asyncio.create_task(run_per_peer(mission, CLIENT, "catchup", loops.loop))  # type: ignore[arg-type]
        await until(lambda: len(loops.started) == 4)
        switch(mission, moved(mission.manifest, "dpa", "https://dpa.example.org/node"))
        await until(lambda: len(loops.started) == 5)
        await settle()
        assert loops.stopped == [("dpa", old_url)]
        assert loops.started[-1] == ("dpa", "https://dpa.example.org/node", "catchup-dpa")
        assert [loops.starts(p) for p in ("unodc", "undp", "sanctions")] == [1, 1, 1]
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(scenario())


def test_a_loop_that_ended_is_logged_and_started_again_on_its_own(
    mission: NodeContext, log_lines: LogLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker must not end (its rounds catch their failures); one that does all the same
    is started again after ``RESTART_AFTER_S``, not left ended until a manifest switch:
    its peer would get nothing meanwhile."""
    monkeypatch.setattr(peer_tasks, "RESTART_AFTER_S", 0.2)
    loops = Loops(ends=lambda peer: peer.id == "sanctions" and loops.starts("sanctions") <= 2)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()  # before the first start: each restart comes 0.2 s after an end
        runner = asyncio.create_task(run_per_peer(mission, CLIENT, "witness", loops.loop))  # type: ignore[arg-type]
        await until(lambda: len(loops.started) == 4)
        await until(lambda: loops.starts("sanctions") == 3)
        assert loop.time() - began >= 2 * 0.2  # not at once: a loop that fails must not spin
        await settle()
        assert [loops.starts(p) for p in ("unodc", "dpa", "undp", "sanctions")] == [1, 1, 1, 3]
        assert loops.stopped == []
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        assert len(loops.stopped) == 4

    asyncio.run(scenario())
    ended = [line for line in log_lines() if "the worker for sanctions ended" in line["message"]]
    assert len(ended) == 2 and all(line["level"] == "ERROR" for line in ended)
    assert "RuntimeError: sanctions worker failed" in ended[0]["exception"]
