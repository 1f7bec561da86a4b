"""Bounded witnessing on a node of a six-participant federation: it polls only the logs
the manifest assigns it (``witnessed_by``), compares notes only with their other
witnesses and only about the logs both witness, and follows a manifest switch.

Six participants, none declaring: the ring by id is dpa, mission, sanctions, undp,
unodc, wfp; each log has the three next as witnesses, so dpa witnesses undp, unodc
and wfp, and compares notes with their other witnesses: wfp (about undp and unodc),
mission (unodc, wfp), unodc (undp) and sanctions (wfp); never with undp, with which
it shares no log.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clearinghouse.node.context import NodeContext
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.witness import (
    compare_with_witnesses,
    gossip_peers,
    jittered,
    run_witness,
    witnessed_peers,
)
from clearinghouse.node.settings import AuditSettings
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.protocol.manifest import manifest_json, parse_manifest
from clearinghouse.protocol.witnessing import witnessed_by
from tests.node.services.test_witness import PeerLog
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

PARTICIPANTS = ("mission", "unodc", "dpa", "undp", "sanctions", "wfp")
FAST = AuditSettings(witness_interval_s=0.02, witness_idle_max_s=0.04, gossip_interval_s=0.04)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> LocalFederation:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    undp = next(p for p in config["participants"] if p["id"] == "undp")
    wfp = {k: v for k, v in copy.deepcopy(undp).items() if k != "analyzer"}
    config["participants"].append(wfp | {"id": "wfp", "name": "World Food Programme"})
    return built_federation(tmp_path_factory.mktemp("bounded"), PARTICIPANTS, config=config)


@pytest.fixture
def dpa(fed: LocalFederation, tmp_path: Path) -> Iterator[NodeContext]:
    with opened_node(fed.nodes["dpa"], database_url=f"sqlite:///{tmp_path / 'dpa.db'}") as ctx:
        ctx.settings = ctx.settings.model_copy(update={"audit": FAST})
        yield ctx


class Recorder:
    """A peer client answering every peer with nothing new; counts calls per peer and path."""

    def __init__(self, ctx: NodeContext) -> None:
        self.by_url = {p.base_url: p.id for p in ctx.manifest.participants}
        self.calls: Counter[tuple[str, str]] = Counter()

    async def call(self, method: str, url: str, document: Any = None) -> Any:
        base, _, rest = url.partition("/v1/")
        path = "/v1/" + rest.split("?")[0]
        self.calls[(self.by_url[base], path)] += 1
        if path == "/v1/audit/checkpoints":
            return {"checkpoints": []}
        if path == "/v1/audit/witnessed":
            return {"logs": []}
        raise AssertionError(f"unexpected call {method} {url}")

    def peers(self, path: str) -> set[str]:
        return {peer for peer, p in self.calls if p == path}


async def until(done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``done()`` (checked every 20 ms), at most ``timeout`` seconds: the loops
    run at their own pace on a loaded machine, so no test counts on a fixed window."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


async def run_until(ctx: NodeContext, client: Recorder, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(run_witness(ctx, client))  # type: ignore[arg-type]
    try:
        await until(done)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_node_polls_only_the_logs_it_witnesses_and_gossips_with_their_witnesses(
    dpa: NodeContext,
) -> None:
    assert witnessed_peers(dpa) == ["undp", "unodc", "wfp"]
    assert gossip_peers(dpa) == ["mission", "sanctions", "unodc", "wfp"]
    client = Recorder(dpa)

    def each_loop_went_twice() -> bool:
        return (
            len(client.calls) >= 7  # 3 logs polled, 4 co-witnesses asked
            and all(n >= 2 for n in client.calls.values())
        )

    asyncio.run(run_until(dpa, client, each_loop_went_twice))
    assert client.peers("/v1/audit/checkpoints") == {"undp", "unodc", "wfp"}
    assert client.peers("/v1/audit/witnessed") == {"mission", "sanctions", "unodc", "wfp"}
    assert all(n >= 2 for (_, path), n in client.calls.items())  # each loop kept going


def test_the_logs_polled_follow_a_manifest_switch(dpa: NodeContext) -> None:
    doc = json.loads(manifest_json(dpa.manifest))
    doc.pop("signatures")
    doc["serial"] += 1
    for p in doc["participants"]:
        if p["id"] == "mission":
            p["witnesses"] = ["dpa", "sanctions"]  # mission's log: dpa's now
        if p["id"] == "wfp":
            p["witnesses"] = ["mission", "sanctions", "undp"]  # no longer dpa's
    switched = parse_manifest(doc)
    assert witnessed_by(switched, "dpa") == ("mission", "undp", "unodc")

    async def scenario() -> tuple[set[str], set[str]]:
        client = Recorder(dpa)
        polled = functools.partial(client.peers, "/v1/audit/checkpoints")
        task = asyncio.create_task(run_witness(dpa, client))  # type: ignore[arg-type]
        try:
            await until(lambda: len(polled()) >= 3)
            before = polled()
            dpa.manifest = switched
            dpa.manifest_signal.set()
            await until(lambda: "mission" in polled())  # the switch taken
            await asyncio.sleep(0.1)  # a round of a stopped loop ended
            client.calls.clear()
            calls = client.calls
            await until(lambda: len(polled()) >= 3 and min(calls.values()) >= 3)
            return before, polled()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    before, after = asyncio.run(scenario())
    assert before == {"undp", "unodc", "wfp"}
    assert after == {"mission", "undp", "unodc"}


def test_notes_are_compared_only_about_logs_both_witness(
    dpa: NodeContext, fed: LocalFederation
) -> None:
    """wfp and dpa both witness undp and unodc, not mission's log (wfp's, not dpa's):
    a forked note of mission's log from wfp is none of dpa's business."""
    ours = {peer: PeerLog(dpa, fed, peer) for peer in ("unodc", "undp", "mission")}
    forks = {peer: PeerLog(dpa, fed, peer, salt="fork") for peer in ours}
    with transaction(dpa.engine) as session:
        for peer, log in ours.items():
            auditlog.set_witnessed(
                session, peer=peer, size=9, root=log.tree.root(9), note=log.note(9),
                now=dpa.clock.now(),
            )  # fmt: skip

    class Witnessed:
        def __init__(self, *peers: str) -> None:
            self.logs = [{"peer": p, "note": forks[p].note(9)} for p in peers]
            self.calls = 0

        async def call(self, method: str, url: str, document: Any = None) -> Any:
            self.calls += 1
            return {"logs": self.logs}

    def alerted() -> set[str]:
        with transaction(dpa.engine) as session:
            return {a.peer for a in auditlog.alerts(session)}

    wfp = dpa.manifest.participant("wfp")
    asyncio.run(compare_with_witnesses(dpa, Witnessed("mission"), wfp))  # type: ignore[arg-type]
    assert alerted() == set()
    asyncio.run(compare_with_witnesses(dpa, Witnessed("mission", "unodc"), wfp))  # type: ignore[arg-type]
    assert alerted() == {"unodc"}
    # undp shares no log with dpa: not even asked
    nobody = Witnessed("unodc")
    asyncio.run(compare_with_witnesses(dpa, nobody, dpa.manifest.participant("undp")))  # type: ignore[arg-type]
    assert nobody.calls == 0 and alerted() == {"unodc"}


def test_waits_are_jittered_between_half_and_one_and_a_half() -> None:
    waits = [jittered(2.0) for _ in range(2000)]
    assert all(1.0 <= w <= 3.0 for w in waits)
    assert min(waits) < 1.1 and max(waits) > 2.9  # spread over the whole range
    assert len(set(waits)) > 1900
