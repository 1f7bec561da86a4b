"""The delivery worker's reaction to a peer's faults (peer answers mocked with respx).

The federation itself is tested with real nodes; here only the client's handling
of timeouts, resets, 429/503 with Retry-After, and bad or refusing receipts: a batch
receipt (what the worker asks for) and an older peer's receipt per view, each kept
once as the evidence of every view it covers; a forged or altered batch receipt
proves no view of the batch.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from sqlmodel import func, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.deliver import PeerPause, backoff_delay, deliver_round
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import DeliveryReceipt, OutboxItem
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.packet import PacketRef, packet_ref
from clearinghouse.protocol.receipts import (
    BATCH_RECEIPT_TYP,
    RECEIPT_TYP,
    ReceiptEntry,
    sign_batch_receipt,
    sign_receipt,
    verify_view_receipt,
)
from clearinghouse.protocol.sdjwt import decode_jws, sign_jws
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


def refs_of(request: httpx.Request) -> list[PacketRef]:
    """The packet each view of a pushed batch names."""
    refs = []
    for view in json.loads(request.content)["views"]:
        jwt = view.split("~", 1)[0]
        payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
        refs.append(packet_ref(payload["jti"], jwt))
    return refs


def peer_key(ctx: NodeContext, pid: str) -> Any:
    fed: LocalFederation = ctx.test_fed  # type: ignore[attr-defined]
    return read_private_key(fed.root / "keys" / f"{pid}.key.pem")


def receipts_from(
    ctx: NodeContext, pid: str, request: httpx.Request, status: str = "accepted", key: Any = None
) -> httpx.Response:
    """An older peer's answer: one receipt per view, whatever the request asked for."""
    key = key or peer_key(ctx, pid)
    receipts = [
        sign_receipt(
            receiver=pid,
            sender="undp",
            index=index,
            ref=ref,
            status=status,  # type: ignore[arg-type]
            key=key,
            kid=public_jwk(key)["kid"],
            now=datetime.now(UTC),
            reason_code=None if status == "accepted" else "over-disclosure",
            reason=None if status == "accepted" else "test",
        )
        for index, ref in enumerate(refs_of(request))
    ]
    return httpx.Response(200, json={"receipts": receipts})


def batch_receipt_from(
    ctx: NodeContext,
    pid: str,
    request: httpx.Request,
    status: str = "accepted",
    *,
    key: Any = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> httpx.Response:
    """A peer's answer with one receipt over the batch, for the request's very body;
    ``edit`` changes the payload before it is signed (what a faulty peer might sign)."""
    assert json.loads(request.content)["receipt"] == "batch"  # the worker asked for it
    key = key or peer_key(ctx, pid)
    entries = [
        ReceiptEntry(
            index,
            ref,
            status,  # type: ignore[arg-type]
            None if status == "accepted" else "over-disclosure",
            None if status == "accepted" else "test",
        )
        for index, ref in enumerate(refs_of(request))
    ]
    jws = sign_batch_receipt(
        receiver=pid,
        sender="undp",
        request_sha256=hashlib.sha256(request.content).hexdigest(),
        entries=entries,
        key=key,
        kid=public_jwk(key)["kid"],
        now=datetime.now(UTC),
    )
    if edit is not None:
        decoded = decode_jws(jws)
        payload = json.loads(json.dumps(decoded.payload))
        edit(payload)
        jws = sign_jws(dict(decoded.header), payload, key)
    return httpx.Response(200, json={"receipt": jws, "summary": {}})


def evidence(ctx: NodeContext, items: list[OutboxItem]) -> list[tuple[str, int] | None]:
    with transaction(ctx.engine) as session:
        return [outbox.receipt_of(session, int(i.id or 0)) for i in items]


def receipts_kept(ctx: NodeContext) -> int:
    with transaction(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(DeliveryReceipt)).one())


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


def test_a_batch_receipt_marks_every_view_delivered_and_is_kept_once(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda request: batch_receipt_from(ctx, "mission", request)
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert [i.state for i in items] == ["delivered"] * 3
    assert all(i.delivered_via == "push" for i in items)
    kept = evidence(ctx, items)
    assert receipts_kept(ctx) == 1  # one receipt for the batch, named by every view's row
    (jws,) = {e[0] for e in kept if e is not None}
    assert decode_jws(jws).header["typ"] == BATCH_RECEIPT_TYP
    assert [e[1] for e in kept if e is not None] == [0, 1, 2]
    for item, (text, position) in zip(items, [e for e in kept if e is not None], strict=True):
        read = verify_view_receipt(text, ctx.manifest, sender="undp", position=position)
        assert read.receiver == "mission" and read.delivered
        assert read.ref == PacketRef(item.jti, item.digest)
    assert [i.state for i in items_for(ctx, "dpa")] == ["pending"] * 3  # other peer untouched


def test_an_older_peers_receipt_per_view_still_delivers(ctx: NodeContext) -> None:
    """An older peer ignores ``"receipt": "batch"`` and answers a receipt per view: each
    is checked on its own and kept as its view's evidence (position 0)."""
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda request: receipts_from(ctx, "mission", request)
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert [i.state for i in items] == ["delivered"] * 3
    kept = evidence(ctx, items)
    assert receipts_kept(ctx) == 3 and len({e[0] for e in kept if e is not None}) == 3
    for item, found in zip(items, kept, strict=True):
        assert found is not None and found[1] == 0
        assert decode_jws(found[0]).header["typ"] == RECEIPT_TYP
        read = verify_view_receipt(found[0], ctx.manifest, sender="undp", position=0)
        assert read.ref == PacketRef(item.jti, item.digest) and read.delivered


def test_forged_receipts_do_not_count(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: receipts_from(ctx, "mission", r, key=generate_private_key())
        )
        run_round(ctx, "mission")
    assert all(i.state == "pending" and i.attempts == 1 for i in items_for(ctx, "mission"))
    assert receipts_kept(ctx) == 0


def _unnamed(view: dict[str, Any]) -> None:
    del view["jti"], view["sha256"]


BAD_BATCH_RECEIPTS: dict[str, dict[str, Any]] = {
    "another key": {"key": generate_private_key()},
    "another signer": {"pid": "dpa"},  # dpa's own valid receipt, for a batch sent to mission
    "for another sender": {"edit": lambda p: p.update(aud="dpa")},
    "over another body": {"edit": lambda p: p.update(request="00" * 32)},
    "a view dropped": {"edit": lambda p: p["views"].pop()},
    "views reordered": {
        "edit": lambda p: p.update(
            views=[{**v, "index": i} for i, v in enumerate(p["views"][::-1])]
        )
    },
    "another packet named": {"edit": lambda p: p["views"][1].update(sha256="ab" * 32)},
    "delivered naming no packet": {"edit": lambda p: _unnamed(p["views"][2])},
    "a view too many": {"edit": lambda p: p["views"].append({"index": 3, "status": "accepted"})},
}


@pytest.mark.parametrize("fault", BAD_BATCH_RECEIPTS.values(), ids=BAD_BATCH_RECEIPTS.keys())
def test_a_bad_batch_receipt_proves_no_view(ctx: NodeContext, fault: dict[str, Any]) -> None:
    queue(ctx)
    fault = dict(fault)
    pid = fault.pop("pid", "mission")
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: batch_receipt_from(ctx, pid, r, **fault)
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert all(i.state == "pending" and i.attempts == 1 for i in items), items
    assert all("did not verify" in (i.last_error or "") for i in items)
    assert receipts_kept(ctx) == 0 and evidence(ctx, items) == [None] * 3


def test_a_batch_receipt_altered_after_signing_proves_no_view(ctx: NodeContext) -> None:
    """One view's status flipped in the text the peer answers, its signature kept."""
    queue(ctx)

    def altered(request: httpx.Request) -> httpx.Response:
        answer = batch_receipt_from(ctx, "mission", request, status="quarantined")
        head, _, signature = answer.json()["receipt"].split(".")
        payload = decode_jws(answer.json()["receipt"]).payload
        payload["views"][0]["status"] = "accepted"
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        return httpx.Response(200, json={"receipt": f"{head}.{body}.{signature}"})

    with respx.mock:
        respx.post(url(ctx, "mission")).mock(side_effect=altered)
        run_round(ctx, "mission")
    assert all(i.state == "pending" and i.attempts == 1 for i in items_for(ctx, "mission"))
    assert receipts_kept(ctx) == 0


def test_a_refusing_batch_receipt_ends_the_delivery_with_the_reason(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: batch_receipt_from(ctx, "mission", r, status="quarantined")
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert all(i.state == "refused" and "over-disclosure" in (i.last_error or "") for i in items)
    kept = evidence(ctx, items)
    assert receipts_kept(ctx) == 1 and [e[1] for e in kept if e is not None] == [0, 1, 2]


def test_refusing_receipts_end_the_delivery_with_the_reason(ctx: NodeContext) -> None:
    queue(ctx)
    with respx.mock:
        respx.post(url(ctx, "mission")).mock(
            side_effect=lambda r: receipts_from(ctx, "mission", r, status="quarantined")
        )
        run_round(ctx, "mission")
    items = items_for(ctx, "mission")
    assert all(i.state == "refused" and "over-disclosure" in (i.last_error or "") for i in items)
    assert all(e is not None and e[1] == 0 for e in evidence(ctx, items))


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
