"""Relaying a held packet onward (``node.services.relay``): each view cut to the recipient's
policy and never wider than the view held; an H2 packet refused and the refusal recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.node.context import NodeContext
from clearinghouse.node.errors import BadRequest, HandlingForbidden, NotFound
from clearinghouse.node.services import acts
from clearinghouse.node.services.relay import Relayed, relay_packet
from clearinghouse.protocol.sdjwt import CompactSdJwt
from tests.databases import sqlite_template
from tests.node.services._trust_support import (
    FixedClock,
    TrustFederation,
    audit_entries,
    audit_size,
    disclosed,
    hold,
    issue,
    make_trust_federation,
    opened_trust_node,
    outbox_items,
    policy_view,
    without_time,
)

SELF_OR_ISSUER = "it is this node or the packet's issuer"


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture
def dpa(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    template = sqlite_template(tmp_path_factory)
    with opened_trust_node(tmp_path / "dpa", fed, "dpa", FixedClock(), template=template) as ctx:
        yield ctx


def test_each_recipient_gets_its_policy_cut_of_the_view_held_and_never_more(
    fed: TrustFederation, dpa: NodeContext
) -> None:
    packet = issue(fed, "mission")
    held = policy_view(fed, packet, "dpa")
    row_id = hold(dpa, held, origin="mission")
    before = audit_size(dpa)

    relayed = relay_packet(
        dpa,
        packet.ref.jti,
        ["undp", "unodc", "sanctions", "mission", "dpa", "undp"],
        actor="token:analyst",
    )

    # What the policy grants each, as far as dpa's own view holds it: undp's month and
    # fatality band, unodc's pseudonyms, sanctions' month are not in dpa's view.
    expected = {
        "sanctions": ["country", "event_id", "side_a", "side_b"],
        "undp": [
            "admin1",
            "country",
            "date_precision",
            "event_id",
            "type_of_violence",
            "where_precision",
            "year",
        ],
        "unodc": [
            "admin1",
            "admin2",
            "country",
            "date_end",
            "date_precision",
            "date_start",
            "deaths",
            "event_id",
            "type_of_violence",
            "where_precision",
            "year",
        ],
    }
    assert relayed == Relayed(
        packet.ref.jti, expected, {"dpa": SELF_OR_ISSUER, "mission": SELF_OR_ISSUER}
    )
    for recipient, claims in expected.items():
        assert set(claims) <= fed.granted("conflict-event/1", recipient)
        assert set(claims) <= disclosed(dpa, held)

    items = outbox_items(dpa)
    assert [i.recipient for i in items] == ["sanctions", "undp", "unodc"]
    held_disclosures = set(CompactSdJwt.parse(held).disclosures)
    for item in items:
        assert (item.packet_id, item.jti, item.digest) == (
            row_id,
            packet.ref.jti,
            packet.ref.digest,
        )
        assert (item.state, item.authorisation_id) == ("pending", None)
        assert sorted(disclosed(dpa, item.view, item.recipient)) == expected[item.recipient]
        assert set(CompactSdJwt.parse(item.view).disclosures) <= held_disclosures  # only removed

    policy = acts.policy_digest(dpa.manifest)
    assert without_time(audit_entries(dpa, after=before)) == [
        {
            "act": "view.queued",
            "actor": "token:analyst",
            "peer": recipient,
            "jti": packet.ref.jti,
            "views": [{"jti": packet.ref.jti, "digest": packet.ref.digest, "fields": fields}],
            "policy": policy,
            "relay": "mission",
        }
        for recipient, fields in expected.items()
    ]


def test_recipients_granted_nothing_are_skipped_and_nothing_queued(
    fed: TrustFederation, dpa: NodeContext
) -> None:
    packet = issue(fed, "undp", "market-price/1")  # the policy gives sanctions nothing of it
    hold(dpa, policy_view(fed, packet, "dpa"), origin="undp")
    before = audit_size(dpa)
    relayed = relay_packet(dpa, packet.ref.jti, ["sanctions", "undp"], actor="token:analyst")
    assert relayed == Relayed(
        packet.ref.jti,
        {},
        {
            "sanctions": "the policy grants it nothing of market-price/1",
            "undp": SELF_OR_ISSUER,
        },
    )
    assert outbox_items(dpa) == []
    assert audit_size(dpa) == before


@pytest.mark.parametrize(("hc", "hcr"), [("H1", None), ("H3", "Not for publication.")])
def test_restricted_but_relayable_codes_are_relayed(
    fed: TrustFederation, dpa: NodeContext, hc: str, hcr: str | None
) -> None:
    packet = issue(fed, "mission", hc=hc, hcr=hcr)
    hold(dpa, policy_view(fed, packet, "dpa"), origin="mission")
    relayed = relay_packet(dpa, packet.ref.jti, ["sanctions"], actor="token:analyst")
    assert relayed.queued == {"sanctions": ["country", "event_id", "side_a", "side_b"]}
    assert [i.recipient for i in outbox_items(dpa)] == ["sanctions"]


def test_an_h2_packet_is_never_relayed_and_the_refusal_is_recorded(
    fed: TrustFederation, dpa: NodeContext
) -> None:
    packet = issue(fed, "mission", hc="H2")
    hold(dpa, policy_view(fed, packet, "dpa"), origin="mission")
    before = audit_size(dpa)
    with pytest.raises(HandlingForbidden) as caught:
        relay_packet(dpa, packet.ref.jti, ["undp", "sanctions", "undp"], actor="token:analyst")
    assert (caught.value.status, caught.value.code) == (403, "handling-violation")
    assert caught.value.detail == (
        f"packet {packet.ref.jti} of 'mission' is H2 (no onward dissemination): only 'mission' "
        "sends it, and only to the recipients it chose"
    )
    assert without_time(audit_entries(dpa, after=before)) == [
        {
            "act": "relay.refused",
            "actor": "token:analyst",
            "jti": packet.ref.jti,
            "digest": packet.ref.digest,
            "hc": "H2",
            "issuer": "mission",
            "recipients": ["sanctions", "undp"],
        }
    ]
    assert outbox_items(dpa) == []


def test_an_unknown_packet_or_recipient_is_refused_before_anything_is_recorded(
    fed: TrustFederation, dpa: NodeContext
) -> None:
    packet = issue(fed, "mission", hc="H2")
    before = audit_size(dpa)
    with pytest.raises(NotFound) as not_found:
        relay_packet(dpa, packet.ref.jti, ["undp"], actor="token:analyst")
    assert not_found.value.detail == f"no packet {packet.ref.jti} is held here"

    hold(dpa, policy_view(fed, packet, "dpa"), origin="mission")
    with pytest.raises(BadRequest) as bad:
        relay_packet(dpa, packet.ref.jti, ["undp", "nobody"], actor="token:analyst")
    assert bad.value.detail == "'nobody' is not a participant of un-integrated-analysis-demo"
    assert audit_size(dpa) == before  # not even the H2 refusal: the request was malformed
    assert outbox_items(dpa) == []
