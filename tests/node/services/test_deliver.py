"""The delivery worker's reaction to a peer's faults (peer answers mocked with respx).

The federation itself is tested with real nodes; here only the client's handling
of timeouts, resets, 429/503 with Retry-After, and bad or refusing receipts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from sqlmodel import select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.deliver import PeerPause, backoff_delay, deliver_round
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OutboxItem
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.packet import packet_ref
from clearinghouse.protocol.receipts import sign_receipt
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

RECORD = json.loads((EXAMPLES / "records" / "market-price.json").read_text())


@pytest.fixture
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeContext]:
    federation = built_federation(tmp_path_factory.mktemp("deliver"), ("undp", "mission", "dpa"))
    with opened_node(federation.nodes["undp"]) as context:
        context.test_fed = federation  # type: ignore[attr-defined]
        yield context


def queue(ctx: NodeContext, n: int = 3) -> None:
    result = ingest_records(ctx, "market-price/1", [RECORD] * n)
    assert len(result.accepted) == n


def items_for(ctx: NodeContext, recipient: str) -> list[OutboxItem]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(OutboxItem).where(OutboxItem.recipient == recipient)))


def peer(ctx: NodeContext, pid: str) -> Any:
    return ctx.manifest.participant(pid)


def receipts_from(
    ctx: NodeContext, pid: str, request: httpx.Request, status: str = "accepted", key: Any = None
) -> httpx.Response:
    fed: LocalFederation = ctx.test_fed  # type: ignore[attr-defined]
    key = key or read_private_key(fed.root / "keys" / f"{pid}.key.pem")
    views = json.loads(request.content)["views"]
    receipts = []
    for index, view in enumerate(views):
        jwt = view.split("~", 1)[0]
        payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
        receipts.append(
            sign_receipt(
                receiver=pid,
                sender="undp",
                index=index,
                ref=packet_ref(payload["jti"], jwt),
                status=status,  # type: ignore[arg-type]
                key=key,
                kid=public_jwk(key)["kid"],
                now=datetime.now(UTC),
                reason_code=None if status == "accepted" else "over-disclosure",
                reason=None if status == "accepted" else "test",
            )
        )
    return httpx.Response(200, json={"receipts": receipts})


def run_round(ctx: NodeContext, pid: str) -> int:
    async def go() -> int:
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, key=ctx.key, kid=ctx.kid, clock=ctx.clock)
            return await deliver_round(ctx, client, peer(ctx, pid), owner="test")

    return asyncio.run(go())


def url(ctx: NodeContext, pid: str) -> str:
    return peer(ctx, pid).base_url + "/v1/packets"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("reset"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_faults_put_views_back_with_backoff(ctx: NodeContext, failure: Exception) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(side_effect=failure)
        before = datetime.now(UTC)
        assert run_round(ctx, "mission") == 3
    for item in items_for(ctx, "mission"):
        assert item.state == "pending" and item.attempts == 1
        assert item.lease_until is None and item.last_error
        delay = (item.next_attempt_at - before).total_seconds()
        assert ctx.settings.delivery.base_delay_s / 2 * 0.9 <= delay <= 60


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(ctx: NodeContext, status: int) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            return_value=httpx.Response(status, headers={"retry-after": "120"})
        )
        before = datetime.now(UTC)
        run_round(ctx, "mission")
    for item in items_for(ctx, "mission"):
        assert item.state == "pending"
        assert item.next_attempt_at >= before + timedelta(seconds=119)
        assert f"HTTP {status}" in (item.last_error or "")


def test_retry_after_http_date_is_honoured(ctx: NodeContext) -> None:
    queue(ctx)
    when = datetime.now(UTC) + timedelta(minutes=5)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            return_value=httpx.Response(
                503, headers={"retry-after": format_datetime(when, usegmt=True)}
            )
        )
        run_round(ctx, "mission")
    for item in items_for(ctx, "mission"):
        assert item.next_attempt_at >= when - timedelta(seconds=2)


def test_nothing_due_while_backing_off(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        route = respx.post(url(ctx, "mission")).mock(return_value=httpx.Response(503))
        run_round(ctx, "mission")
        assert run_round(ctx, "mission") == 0  # not due yet: no second request
        assert route.call_count == 1


def test_a_failed_round_pauses_the_peer_and_an_answer_clears_it(ctx: NodeContext) -> None:
    """A 503 with Retry-After pauses the peer itself, which the delivery loop honours
    for views queued later too (due at once on their own rows; the fault test
    tests/integration/test_faults.py shows it with real nodes); an answer clears it."""
    queue(ctx)
    pause = PeerPause()

    async def round_with_pause() -> int:
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, key=ctx.key, kid=ctx.kid, clock=ctx.clock)
            return await deliver_round(ctx, client, peer(ctx, "mission"), owner="test", pause=pause)

    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            return_value=httpx.Response(503, headers={"retry-after": "30"})
        )
        started = time.monotonic()
        asyncio.run(round_with_pause())
    assert pause.failures == 1 and pause.until >= started + 29
    queue(ctx, 2)  # queued after the failure: due now on their own rows
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda request: receipts_from(ctx, "mission", request)
        )
        assert asyncio.run(round_with_pause()) == 2
    assert (pause.failures, pause.until) == (0, 0.0)


def test_good_receipts_mark_views_delivered(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda request: receipts_from(ctx, "mission", request)
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert [i.state for i in items] == ["delivered"] * 3
    assert all(i.receipt and i.delivered_via == "push" for i in items)
    assert [i.state for i in items_for(ctx, "dpa")] == ["pending"] * 3  # other peer untouched


def test_forged_receipts_do_not_count(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: receipts_from(ctx, "mission", r, key=generate_private_key())
        )
        run_round(ctx, "mission")
    assert all(i.state == "pending" and i.attempts == 1 for i in items_for(ctx, "mission"))


def test_refusing_receipts_end_the_delivery_with_the_reason(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: receipts_from(ctx, "mission", r, status="quarantined")
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert all(i.state == "refused" and "over-disclosure" in (i.last_error or "") for i in items)


def test_a_problem_answer_is_retried_later(ctx: NodeContext) -> None:
    queue(ctx)
    problem = {"type": "urn:clearinghouse:problem:stale-signature", "title": "t", "detail": "d"}
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(return_value=httpx.Response(401, json=problem))
        run_round(ctx, "mission")
    assert all(i.state == "pending" and i.attempts == 1 for i in items_for(ctx, "mission"))


def test_backoff_grows_is_capped_and_respects_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, base=0.5, cap=60, rng=rng) for a in range(12)]
    assert all(0.25 <= d <= 60 for d in delays)
    assert delays[0] <= 0.5 and delays[6] >= 16 and delays[11] <= 60
    assert backoff_delay(0, base=0.5, cap=60, retry_after=30, rng=rng) >= 30
