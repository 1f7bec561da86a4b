"""``PeerClient.post_views``: asks for a batch receipt, takes either answer (peer mocked).

A peer of this release answers one receipt over the batch; an older one ignores the
request's ``"receipt": "batch"`` and answers a receipt per view. The client hands
either on unverified (delivery checks them), with the SHA-256 of the exact body it
sent; an answer that is neither is the peer's fault, to try again later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import httpx
import pytest
import respx

from clearinghouse.node.clock import SystemClock
from clearinghouse.node.transport.peer_client import BatchAnswer, PeerClient, PeerUnavailable
from clearinghouse.protocol.keys import generate_private_key

BASE = "https://dpa.example"
VIEWS = ["view-a", "view-b"]


def post(answer: Any, *, batch_receipt: bool = True) -> tuple[BatchAnswer, bytes]:
    """``VIEWS`` posted to a peer answering ``answer``: what the client returns, and the
    body it sent."""
    sent: list[bytes] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, json=answer)

    async def go() -> BatchAnswer:
        async with httpx.AsyncClient() as http:
            client = PeerClient(http, key=generate_private_key(), kid="k", clock=SystemClock())
            return await client.post_views(BASE, VIEWS, batch_receipt=batch_receipt)

    with respx.mock:
        respx.post(f"{BASE}/v1/packets").mock(side_effect=reply)
        answer_got = asyncio.run(go())
    (body,) = sent
    return answer_got, body


def test_a_batch_receipt_is_asked_for_and_handed_on_with_the_body_digest() -> None:
    got, body = post({"receipt": "batch.jws.sig", "summary": {}})
    assert json.loads(body) == {"views": VIEWS, "receipt": "batch"}
    assert got == BatchAnswer(hashlib.sha256(body).hexdigest(), batch="batch.jws.sig")
    assert got.texts(2) == ["batch.jws.sig"] * 2


def test_an_older_peers_receipt_per_view_is_taken() -> None:
    got, body = post({"receipts": ["r0", "r1"], "summary": {}})
    assert got == BatchAnswer(hashlib.sha256(body).hexdigest(), per_view=("r0", "r1"))
    assert got.batch is None and got.texts(2) == ["r0", "r1"]


def test_not_asking_sends_the_older_form_and_reads_only_the_list() -> None:
    got, body = post({"receipt": "unasked", "receipts": ["r0", "r1"]}, batch_receipt=False)
    assert json.loads(body) == {"views": VIEWS}
    assert (got.batch, got.per_view) == (None, ("r0", "r1"))


@pytest.mark.parametrize(
    "answer",
    [
        {"receipt": 7},
        {"receipt": ["r0", "r1"]},
        {"receipts": ["r0"]},
        {"receipts": ["r0", 1]},
        {"summary": {}},
        ["r0", "r1"],
    ],
)
def test_an_answer_with_neither_form_is_the_peers_fault(answer: Any) -> None:
    with pytest.raises(PeerUnavailable) as raised:
        post(answer)
    assert raised.value.kind == "bad-answer"
