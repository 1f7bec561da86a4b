"""A view issued in the future by the receiver's clock is deferred, not refused for good.

Real nodes: undp (the sender, its database on SQLite, and on PostgreSQL when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set) pushes with its delivery round and a real
:class:`PeerClient` to dpa, served on loopback. Both run on clocks the test sets
(:class:`node.clock.OffsetClock`), each within the 300 s window (request signatures and
clock skew) of the next but not of the one after: mission issues a packet at +900 s,
undp (+600 s) takes it and relays it to dpa (+350 s), which answers the view
``deferred`` (``issued-in-the-future``, retry after 250 s). undp keeps it pending and
sends it again once it is due: taken when the clocks agree, refused for good once it
has been deferred for longer than ``delivery.deferred_max_s``. (A push can only be
deferred for a view issued ahead of the sender's own clock: a node's own packets fall
due by the clock that issued them, and a request signed by the sender's clock inside
the receiver's window carries no view issued before it.)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from clearinghouse.node.app import create_app
from clearinghouse.node.clock import OffsetClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.catchup import catch_up
from clearinghouse.node.services.deliver import deliver_round
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.services.relay import relay_packet
from clearinghouse.node.storage import outbox, packets, peers
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OutboxItem
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.packet import issue_packet, recipient_view
from clearinghouse.protocol.receipts import Receipt, verify_view_receipt
from tests.databases import node_database
from tests.nodes import built_federation, opened_node, served_node
from tests.support import EXAMPLES

RECORD = json.loads((EXAMPLES / "records" / "market-price.json").read_text())
#: how far ahead of real time each clock is at first: mission's when it issues the packet
MISSION_S, UNDP_S, DPA_S = 900, 600, 350


class Pair:
    """undp and dpa, both opened here and served on loopback, each on a settable clock."""

    def __init__(self, fed: LocalFederation, undp: NodeContext, dpa: NodeContext) -> None:
        self.fed, self.undp, self.dpa = fed, undp, dpa
        self.undp_clock, self.dpa_clock = undp.clock, dpa.clock
        assert isinstance(self.undp_clock, OffsetClock) and isinstance(self.dpa_clock, OffsetClock)

    def pull(self) -> int:
        """dpa's catch-up from undp; return how many views arrived."""

        async def go() -> int:
            async with httpx.AsyncClient(timeout=30) as http:
                client = PeerClient(http, clock=self.dpa_clock, signer=self.dpa.signing_pair)
                return await catch_up(self.dpa, client, self.dpa.manifest.participant("undp"))

        return asyncio.run(go())

    def cursor(self) -> int:
        with transaction(self.dpa.engine) as session:
            return peers.get_cursor(session, "undp")

    def deliver(self) -> int:
        async def go() -> int:
            async with httpx.AsyncClient(timeout=30) as http:
                client = PeerClient(http, clock=self.undp_clock, signer=self.undp.signing_pair)
                dpa = self.undp.manifest.participant("dpa")
                return await deliver_round(self.undp, client, dpa, owner="test")

        return asyncio.run(go())

    def item(self) -> OutboxItem:
        with transaction(self.undp.engine) as session:
            query = select(OutboxItem).where(OutboxItem.recipient == "dpa")
            (item,) = session.exec(query).all()
            return item

    def held_at_dpa(self) -> int:
        with transaction(self.dpa.engine) as session:
            return packets.count_by_origin(session).get("undp", 0)

    def set_clocks(self, undp_s: float, dpa_s: float) -> None:
        self.undp_clock.offset = timedelta(seconds=undp_s)
        self.dpa_clock.offset = timedelta(seconds=dpa_s)


@pytest.fixture
def make_pair(backend: str, tmp_path: Path) -> Iterator[Callable[..., Pair]]:
    """Build the pair once, undp with the given delivery settings."""
    with ExitStack() as stack:

        def make(**delivery: Any) -> Pair:
            url = stack.enter_context(node_database(backend, tmp_path))
            fed = built_federation(
                tmp_path, ("undp", "mission", "dpa"), database_urls={"undp": url}
            )
            opened = {}
            for name, ahead in (("undp", UNDP_S), ("dpa", DPA_S)):
                handle, clock = fed.nodes[name], OffsetClock(timedelta(seconds=ahead))
                ctx = stack.enter_context(opened_node(handle, clock, delivery=delivery))
                stack.enter_context(served_node(handle, create_app(ctx.settings, context=ctx)))
                opened[name] = ctx
            return Pair(fed, opened["undp"], opened["dpa"])

        yield make


def kept_receipt(pair: Pair, item: OutboxItem) -> Receipt:
    """The receipt undp kept as the evidence for ``item``, verified: dpa's, for undp."""
    with transaction(pair.undp.engine) as session:
        kept = outbox.receipt_of(session, item.id or 0)
    assert kept is not None, item
    receipt = verify_view_receipt(kept[0], pair.undp.manifest, sender="undp", position=kept[1])
    assert receipt.receiver == "dpa" and receipt.ref is not None
    assert (receipt.ref.jti, receipt.ref.digest) == (item.jti, item.digest)
    return receipt


def relay_a_view_issued_ahead(pair: Pair) -> None:
    """mission issues a packet by its clock; undp takes it and relays it to dpa."""
    key = read_private_key(pair.fed.root / "keys" / "mission.key.pem")
    pseudonyms = read_pseudonym_key(pair.fed.root / "keys" / "pseudonym.key")
    packet = issue_packet(
        RECORD,
        schema="market-price/1",
        issuer="mission",
        key=key,
        kid=public_jwk(key)["kid"],
        now=datetime.now(UTC) + timedelta(seconds=MISSION_S),
        pseudonym_key=pseudonyms.key,
        pseudonym_epoch=pseudonyms.epoch,
    )
    view = recipient_view(packet.sd_jwt, pair.undp.manifest, "undp")
    (taken,) = receive_views(pair.undp, peer="mission", views=[view], sign=False)
    assert taken.status == "accepted", taken
    relayed = relay_packet(pair.undp, packet.ref.jti, ["dpa"], actor="token:admin")
    assert list(relayed.queued) == ["dpa"], relayed


def test_a_view_from_a_clock_ahead_is_deferred_then_taken_once_the_clocks_agree(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair()
    relay_a_view_issued_ahead(pair)

    assert pair.deliver() == 1
    item = pair.item()
    assert item.state == "pending" and item.attempts == 1, item
    assert (item.last_error or "").startswith("deferred: issued-in-the-future: "), item
    assert item.deferred_since is not None
    # not before dpa's hint: the iat is 250 s past its window
    wait = (item.next_attempt_at - pair.undp_clock.now()).total_seconds()
    assert 240 <= wait <= 251, wait
    assert pair.held_at_dpa() == 0
    assert pair.deliver() == 0  # not due yet

    pair.set_clocks(1000, 1000)  # time passes, the clocks agree: the iat is in the window
    assert pair.deliver() == 1
    item = pair.item()
    assert item.state == "delivered" and kept_receipt(pair, item).status == "accepted", item
    assert pair.held_at_dpa() == 1


def test_a_view_deferred_for_longer_than_the_bound_is_refused_for_good(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair(deferred_max_s=60)
    relay_a_view_issued_ahead(pair)
    assert pair.deliver() == 1
    first = pair.item()
    assert first.state == "pending" and first.deferred_since is not None

    # due again (250 s on), but dpa's clock still lags 290 s (inside the request window):
    # the view is still in dpa's future, and has been deferred for 280 s > 60 s: given up
    pair.set_clocks(UNDP_S + 280, UNDP_S - 10)
    assert pair.deliver() == 1
    item = pair.item()
    assert item.state == "refused" and kept_receipt(pair, item).status == "deferred", item
    # 280 s of clock offset, plus the real seconds the two rounds took
    assert re.match(r"given up after 28\d s deferred: deferred: ", item.last_error or ""), item
    assert pair.deliver() == 0 and pair.held_at_dpa() == 0


def test_a_view_pulled_before_its_time_is_not_acknowledged_until_taken(
    make_pair: Callable[..., Pair],
) -> None:
    """Catch-up: dpa's cursor stops before a deferred view, so undp offers it again (and
    keeps it pending) until dpa can take it."""
    pair = make_pair()
    relay_a_view_issued_ahead(pair)

    assert pair.pull() == 1
    assert pair.cursor() == 0 and pair.held_at_dpa() == 0
    with transaction(pair.dpa.engine) as session:
        assert packets.count_refusals(session) == {"deferred": 1}
    assert pair.pull() == 1  # offered again, deferred again
    assert pair.item().state == "pending"  # not acknowledged by dpa's cursor

    pair.set_clocks(1000, 1000)
    assert pair.pull() == 1
    assert pair.held_at_dpa() == 1 and pair.cursor() == pair.item().id
    assert pair.pull() == 0  # this request's cursor acknowledges the view
    item = pair.item()
    assert (item.state, item.delivered_via) == ("delivered", "pull")
