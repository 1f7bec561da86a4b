"""Receiving analysis results (``node.services.receive``): a result is refused when its
input contradicts what the receiving node holds — a packet this node issued but never
sent to the result's issuer, one it never issued at all, or a packet held under the
same ``jti`` with another digest, issuer or schema (``protocol.results.check_result_input``).

The whole federation of the examples (every participant declares an analyzer, so each
can issue results); the node under test is dpa, on SQLite and again on PostgreSQL when
``CLEARINGHOUSE_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlmodel import col, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.services.authorisations import accept_authorisation
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.services.receive import Outcome, receive_views
from clearinghouse.node.storage import packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import InboundRefusal, StoredPacket
from clearinghouse.protocol.authorisation import (
    authorisation_json,
    build_authorisation,
    sign_authorisation,
)
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.packet import issue_packet, recipient_view, verify_view
from clearinghouse.protocol.results import result_record
from clearinghouse.protocol.schemas import get_schema
from tests.databases import node_database
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

FLOW = json.loads((EXAMPLES / "records" / "financial-flow.json").read_text())
EVENT = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())


class Dpa:
    """dpa's node opened in process, and the keys its peers sign with."""

    def __init__(self, fed: LocalFederation, ctx: NodeContext) -> None:
        self.fed = fed
        self.ctx = ctx
        self.keys: dict[str, Ed25519PrivateKey] = {
            p: read_private_key(fed.root / "keys" / f"{p}.key.pem") for p in fed.participants
        }

    def ingest(self, schema: str, record: dict[str, Any]) -> dict[str, Any]:
        """A packet dpa issues (and queues to whom the policy and authorisations say)."""
        done = ingest_records(self.ctx, schema, [record])
        assert done.rejected == [], done.rejected
        (accepted,) = done.accepted
        return {**accepted, "schema": schema, "issuer": "dpa"}

    def issue(self, issuer: str, schema: str, record: dict[str, Any]) -> Any:
        pseudonyms = read_pseudonym_key(self.fed.root / "keys" / "pseudonym.key")
        key = self.keys[issuer]
        return issue_packet(
            record,
            schema=schema,
            issuer=issuer,
            key=key,
            kid=public_jwk(key)["kid"],
            now=datetime.now(UTC),
            pseudonym_key=pseudonyms.key,
            pseudonym_epoch=pseudonyms.epoch,
        )

    def view(self, issuer: str, schema: str, record: dict[str, Any]) -> str:
        """A packet of ``issuer`` as the policy lets it reach dpa."""
        return recipient_view(self.issue(issuer, schema, record).sd_jwt, self.ctx.manifest, "dpa")

    def result(self, issuer: str, about: dict[str, Any], **changes: Any) -> str:
        """A genuine result by ``issuer`` (its declared analyzer, its key) about the input
        ``about`` names (jti, sha256, schema, issuer), with ``changes`` to that reference."""
        declared = self.ctx.manifest.participant(issuer).analyzer
        assert declared is not None
        reference = {
            "input_jti": about["jti"],
            "input_digest": about["sha256"],
            "input_schema": about["schema"],
            "input_issuer": about["issuer"],
            **changes,
        }
        record = result_record(
            analyzer=declared,
            findings=[{"kind": "hotspot", "subject": "ARE", "explanation": "one flow"}],
            explanation="one finding",
            **reference,
        )
        return str(self.issue(issuer, "analysis-result/1", record).sd_jwt)

    def receive(self, peer: str, *views: str) -> list[Outcome]:
        return receive_views(self.ctx, peer=peer, views=list(views), sign=False)


@pytest.fixture(scope="module")
def dpa(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dpa]:
    root: Path = tmp_path_factory.mktemp("results")
    with node_database(backend, root) as url:
        fed = built_federation(root, database_urls={"dpa": url})
        with opened_node(fed.nodes["dpa"]) as ctx:
            yield Dpa(fed, ctx)


def held(dpa: Dpa, jti: str) -> list[StoredPacket]:
    with transaction(dpa.ctx.engine) as session:
        return packets.find_packet(session, jti)


def last_refusal(dpa: Dpa) -> InboundRefusal:
    with transaction(dpa.ctx.engine) as session:
        query = select(InboundRefusal).order_by(col(InboundRefusal.id).desc())
        return session.exec(query).first()  # type: ignore[return-value]


@contextmanager
def outbox_statements(dpa: Dpa) -> Iterator[list[str]]:
    """The SQL statements that read or write the outbox, while in the block."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "outbox" in statement:
            statements.append(statement)

    event.listen(dpa.ctx.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(dpa.ctx.engine, "before_cursor_execute", seen)


def reference_of(view: str, dpa: Dpa) -> dict[str, Any]:
    packet = verify_view(view, dpa.ctx.manifest, recipient=None, now=datetime.now(UTC))
    return {"jti": packet.jti, "sha256": packet.ref.digest, "schema": packet.sch}


def test_a_result_about_a_packet_sent_to_its_issuer_is_accepted(dpa: Dpa) -> None:
    flow = dpa.ingest("financial-flow/1", FLOW)
    assert "mission" in flow["recipients"]
    (outcome,) = dpa.receive("mission", dpa.result("mission", flow))
    assert (outcome.status, outcome.code) == ("accepted", None), outcome.detail


def test_a_result_about_a_packet_never_sent_to_its_issuer_is_rejected(dpa: Dpa) -> None:
    # the policy grants undp nothing of a financial flow: dpa never sent it one
    flow = dpa.ingest("financial-flow/1", FLOW)
    assert "undp" not in flow["recipients"]
    result = dpa.result("undp", flow)

    (outcome,) = dpa.receive("undp", result)

    assert (outcome.status, outcome.code) == ("rejected", "result-input-invalid")
    assert flow["jti"] in (outcome.detail or "")
    assert "never sent to 'undp'" in (outcome.detail or "")
    result_jti = reference_of(result, dpa)["jti"]
    assert held(dpa, result_jti) == []
    refusal = last_refusal(dpa)
    assert (refusal.peer, refusal.code, refusal.jti) == ("undp", "result-input-invalid", result_jti)


def test_a_result_relayed_by_another_is_judged_by_its_issuer(dpa: Dpa) -> None:
    """Who analysed the input must have received it, whoever passes the result on."""
    flow = dpa.ingest("financial-flow/1", FLOW)
    by_mission, by_undp = dpa.result("mission", flow), dpa.result("undp", flow)
    first, second = dpa.receive("unodc", by_mission, by_undp)
    assert first.status == "accepted", first.detail
    assert (second.status, second.code) == ("rejected", "result-input-invalid")


def test_a_view_sent_under_an_authorisation_counts_as_sent(dpa: Dpa) -> None:
    """Not the policy decides but the outbox: an oversight authorisation let a view go."""
    now = datetime.now(UTC)
    document = build_authorisation(
        federation=dpa.ctx.manifest.federation,
        issuer="sanctions",
        recipient="undp",
        scope={
            "query": {
                "schema": "financial-flow/1",
                "issuers": ["dpa"],
                "area": ["JOR"],  # the other tests' flows go to LBN: out of scope
                "period": {"from": "2021-03-01", "to": "2021-03-31"},
            }
        },
        fields=["currency", "channel"],
        purpose="Screening flows to Jordan, March 2021.",
        expires_at=now + timedelta(days=1),
        now=now,
    )
    authorisation = sign_authorisation(document, dpa.keys["sanctions"])
    accept_authorisation(dpa.ctx, authorisation_json(authorisation), actor="token:oversight")
    flow = dpa.ingest(
        "financial-flow/1", {**FLOW, "flow_id": "FIU-JOR-1", "receiver_country": "JOR"}
    )
    assert "undp" in flow["recipients"]
    assert not dpa.ctx.manifest.sharing.granted_claims(get_schema("financial-flow/1"), "undp")

    (outcome,) = dpa.receive("undp", dpa.result("undp", flow))

    assert outcome.status == "accepted", outcome.detail


def test_a_result_about_a_packet_this_node_never_issued_is_rejected(dpa: Dpa) -> None:
    invented = {
        "jti": uuid7(datetime.now(UTC), os.urandom),
        "sha256": "ab" * 32,
        "schema": "financial-flow/1",
        "issuer": "dpa",
    }
    (outcome,) = dpa.receive("mission", dpa.result("mission", invented))
    assert (outcome.status, outcome.code) == ("rejected", "result-input-invalid")
    assert invented["jti"] in (outcome.detail or "")
    assert "'dpa' issued no such packet" in (outcome.detail or "")


def test_a_result_about_another_issuers_packet_held_here_needs_no_sending(dpa: Dpa) -> None:
    event_view = dpa.view("mission", "conflict-event/1", EVENT)
    assert dpa.receive("mission", event_view)[0].status == "accepted"
    event = {**reference_of(event_view, dpa), "issuer": "mission"}
    with outbox_statements(dpa) as statements:
        (outcome,) = dpa.receive("unodc", dpa.result("unodc", event))
    assert outcome.status == "accepted", outcome.detail
    assert statements == []  # not dpa's packet: to whom dpa sent what does not matter


@pytest.mark.parametrize("whose", ["issued here", "received"])
@pytest.mark.parametrize(
    "change",
    [
        {"input_digest": "ab" * 32},
        {"input_issuer": "sanctions"},
        {"input_schema": "seizure/1"},
    ],
    ids=["digest", "issuer", "schema"],
)
def test_a_result_that_misnames_a_held_packet_is_rejected(
    dpa: Dpa, whose: str, change: dict[str, str]
) -> None:
    if whose == "issued here":
        packet = dpa.ingest("financial-flow/1", FLOW)
    else:
        view = dpa.view("unodc", "financial-flow/1", FLOW)
        assert dpa.receive("unodc", view)[0].status == "accepted"
        packet = {**reference_of(view, dpa), "issuer": "unodc"}
    (outcome,) = dpa.receive("mission", dpa.result("mission", packet, **change))
    assert (outcome.status, outcome.code) == ("rejected", "result-input-invalid")
    assert f"the packet {packet['jti']} held here" in (outcome.detail or "")


def test_a_refused_result_never_costs_the_good_views_of_its_batch(dpa: Dpa) -> None:
    flow = dpa.ingest("financial-flow/1", FLOW)
    good = dpa.view("mission", "conflict-event/1", EVENT)
    outcomes = dpa.receive(
        "mission", dpa.result("undp", flow), good, dpa.result("mission", flow), "x\x00~"
    )
    assert [(o.status, o.code) for o in outcomes] == [
        ("rejected", "result-input-invalid"),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "malformed-packet"),
    ]
    assert held(dpa, reference_of(good, dpa)["jti"])


def test_the_inputs_of_a_whole_batch_are_looked_up_in_one_query(dpa: Dpa) -> None:
    flows = [dpa.ingest("financial-flow/1", {**FLOW, "flow_id": f"FIU-{n}"}) for n in range(3)]
    results = [dpa.result(issuer, f) for f in flows for issuer in ("mission", "undp", "unodc")]
    with outbox_statements(dpa) as statements:
        outcomes = dpa.receive("mission", *results)
    assert [o.status for o in outcomes] == ["accepted", "rejected", "accepted"] * 3
    assert len(statements) == 1, statements


def test_a_result_of_this_node_about_its_own_packet_comes_back_unrefused(dpa: Dpa) -> None:
    flow = dpa.ingest("financial-flow/1", FLOW)
    (outcome,) = dpa.receive("mission", dpa.result("dpa", flow))
    assert outcome.status == "accepted", outcome.detail


def test_a_record_its_issuer_may_not_originate_is_rejected(dpa: Dpa) -> None:
    """A manifest may hold a participant to some record schemas (``originates``): a
    record of another schema it issued is refused at the receiver, whoever relays it;
    its other records and its results are not affected."""
    held = dpa.ctx.manifest
    only_events = tuple(
        p.model_copy(update={"originates": ("conflict-event/1",)}) if p.id == "mission" else p
        for p in held.participants
    )
    flow = dpa.view("mission", "financial-flow/1", {**FLOW, "flow_id": "originates-flow"})
    event_view = dpa.view("mission", "conflict-event/1", {**EVENT, "event_id": "7770001"})
    dpa.ctx.manifest = held.model_copy(update={"participants": only_events})
    try:
        refused, relayed, accepted = dpa.receive("mission", flow, flow, event_view)
        by_unodc = dpa.receive("unodc", flow)
    finally:
        dpa.ctx.manifest = held
    assert (refused.status, refused.code) == ("rejected", "schema-not-originated")
    assert "'mission' may not originate financial-flow/1" in (refused.detail or "")
    assert "conflict-event/1" in (refused.detail or "")
    assert relayed.code == "schema-not-originated"
    assert [o.code for o in by_unodc] == ["schema-not-originated"]  # judged by its issuer
    assert (accepted.status, accepted.code) == ("accepted", None), accepted.detail
    assert held.participant("mission").originates is None  # the node's manifest is untouched
