"""Oversight authorisations at a node (``node.services.authorisations``): taking one on at
the originator, what it unlocks for packets being issued, what goes out with the views
that rely on it, and the check of a wider view at its recipient."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services import acts
from clearinghouse.node.services.authorisations import (
    AuthorisationOutcome,
    Unlock,
    accept_authorisation,
    authorised_unlocks,
    check_disclosure,
    outgoing,
)
from clearinghouse.node.services.manifests import accept_manifest
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OversightAuthorisation
from clearinghouse.protocol.authorisation import (
    Authorisation,
    authorisation_json,
    canonical_authorisation,
)
from clearinghouse.protocol.errors import AuthorisationRejected, OverDisclosure
from clearinghouse.protocol.manifest import manifest_json
from clearinghouse.protocol.manifest_changes import propose
from clearinghouse.protocol.packet import make_view, verify_view
from tests.databases import sqlite_template
from tests.node.services._trust_support import (
    ALEPPO,
    IDLIB_2016,
    NOW,
    SIGNERS,
    UNDP,
    FixedClock,
    TrustFederation,
    audit_entries,
    audit_size,
    authorise,
    counter,
    disclosed,
    ingest,
    issue,
    make_trust_federation,
    opened_trust_node,
    outbox_items,
    policy_view,
    record,
    signed,
    without_time,
)

DAY = timedelta(days=1)
SIDES = {"side_a", "side_b"}
#: what undp is granted of the example conflict event
IDLIB_QUERY = IDLIB_2016["query"]


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def mission(
    fed: TrustFederation,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    clock: FixedClock,
) -> Iterator[NodeContext]:
    template = sqlite_template(tmp_path_factory)
    with opened_trust_node(tmp_path / "mission", fed, "mission", clock, template=template) as ctx:
        yield ctx


def take_on(ctx: NodeContext, a: Authorisation) -> AuthorisationOutcome:
    return accept_authorisation(ctx, authorisation_json(a), actor="token:oversight")


def stored_authorisations(ctx: NodeContext) -> list[OversightAuthorisation]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(OversightAuthorisation)))


# --- taking one on (the originator) ----------------------------------------------------------


def test_an_authorisation_is_stored_recorded_and_queues_the_views_it_unlocks(
    fed: TrustFederation, mission: NodeContext
) -> None:
    covered, elsewhere = ingest(mission, record(), record(event_id="216790", **ALEPPO))
    policy_items = outbox_items(mission, "undp")
    assert [i.jti for i in policy_items] == [covered, elsewhere]
    before = audit_size(mission)

    a = authorise(fed)
    assert take_on(mission, a) == AuthorisationOutcome(a.id, "accepted", 1)

    (row,) = stored_authorisations(mission)
    assert (row.id, row.issuer, row.recipient, row.source, row.accepted_at) == (
        a.id,
        "sanctions",
        "undp",
        "token:oversight",
        NOW,
    )
    assert row.document == canonical_authorisation(a).decode()
    assert row.expires_at == NOW + 7 * DAY
    assert [x.id for x in mission.authorisations] == [a.id]

    items = outbox_items(mission, "undp")
    assert len(items) == 3
    added = items[-1]
    assert (added.jti, added.authorisation_id, added.state) == (covered, a.id, "pending")
    assert added.packet_id == policy_items[0].packet_id
    assert disclosed(mission, added.view) == UNDP | SIDES
    assert [i.authorisation_id for i in items[:2]] == [None, None]  # the policy views stay

    entries = without_time(audit_entries(mission, after=before))
    assert [e for e in entries if e["act"] != "view.queued"] == [
        {
            "act": "authorisation.accepted",
            "actor": "token:oversight",
            "peer": "undp",
            "id": a.id,
            "issuer": "sanctions",
            "recipient": "undp",
            "fields": ["side_a", "side_b"],
            "scope": a.document()["scope"],
            "purpose_sha256": hashlib.sha256(a.purpose.encode()).hexdigest(),
            "issued_at": "2026-11-25T12:00:00.000Z",
            "expires_at": "2026-12-02T12:00:00.000Z",
        },
        {
            "act": "authorisation.used",
            "actor": "node:mission",
            "peer": "undp",
            "jti": covered,
            "id": a.id,
            "recipient": "undp",
            "digest": added.digest,
            "fields": ["side_a", "side_b"],
        },
    ]
    assert counter(mission.metrics.authorisations, outcome="accepted") == 1

    # Submitted again: held already, nothing more queued or recorded.
    after = audit_size(mission)
    assert take_on(mission, a) == AuthorisationOutcome(a.id, "already-held", 0)
    assert len(outbox_items(mission, "undp")) == 3
    assert audit_size(mission) == after
    assert counter(mission.metrics.authorisations, outcome="accepted") == 1


def test_each_view_an_authorisation_queues_is_recorded_as_view_queued(
    fed: TrustFederation, mission: NodeContext
) -> None:
    """Every other path that queues a view (ingest, also under an authorisation; relay;
    analysis results) appends ``view.queued`` with the view's field names and the policy
    hash; a view queued when an authorisation is taken on is owed to a peer just the same."""
    (covered,) = ingest(mission, record())
    before = audit_size(mission)
    a = authorise(fed)
    take_on(mission, a)
    added = outbox_items(mission, "undp")[-1]
    queued = [e for e in audit_entries(mission, after=before) if e["act"] == "view.queued"]
    assert [(e["peer"], e["authorisation"], e["policy"]) for e in queued] == [
        ("undp", a.id, acts.policy_digest(mission.manifest))
    ]
    assert [(v["jti"], v["digest"], v["fields"]) for v in queued[0]["views"]] == [
        (covered, added.digest, sorted(UNDP | SIDES))
    ]


def test_authorisations_that_unlock_nothing_here_queue_nothing(
    fed: TrustFederation, mission: NodeContext
) -> None:
    _, elsewhere = ingest(mission, record(), record(event_id="216790", **ALEPPO))
    queued_before = len(outbox_items(mission))
    nothing = {
        "for this node itself": authorise(fed, recipient="mission"),
        "for another issuer's packets": authorise(
            fed, scope={"query": {**IDLIB_QUERY, "issuers": ["unodc"]}}
        ),
        "fields the recipient has": authorise(fed, recipient="dpa", fields=("side_a",)),
    }
    for what, a in nothing.items():
        assert take_on(mission, a) == AuthorisationOutcome(a.id, "accepted", 0), what
    assert len(outbox_items(mission)) == queued_before
    assert len(stored_authorisations(mission)) == 3

    # A packet scope is matched on the jti alone (here: the event elsewhere).
    listed = authorise(fed, scope={"packets": [elsewhere]}, fields=("side_a",))
    assert take_on(mission, listed) == AuthorisationOutcome(listed.id, "accepted", 1)
    (added,) = outbox_items(mission)[queued_before:]
    assert (added.recipient, added.jti, added.authorisation_id) == ("undp", elsewhere, listed.id)
    assert disclosed(mission, added.view) == UNDP | {"side_a"}


def test_an_unacceptable_authorisation_is_refused_and_recorded(
    fed: TrustFederation, mission: NodeContext
) -> None:
    refused = {
        "not oversight": (
            authorisation_json(authorise(fed, issuer="unodc")),
            "issuer 'unodc' lacks the oversight role in manifest serial 1",
        ),
        "expired": (
            authorisation_json(authorise(fed, issued=NOW - 2 * DAY, expires=NOW - DAY)),
            "expired at 2026-11-24T12:00:00Z",
        ),
        "not json": (b"{", "authorisation is not JSON"),
    }
    for what, (document, reason) in refused.items():
        before = audit_size(mission)
        with pytest.raises(AuthorisationRejected) as caught:
            accept_authorisation(mission, document, actor="token:oversight")
        assert reason in caught.value.message, what
        expected: dict[str, object] = {
            "act": "authorisation.refused",
            "actor": "token:oversight",
            "sha256": hashlib.sha256(document).hexdigest(),
            "reason": caught.value.message,
        }
        if what != "not json":
            expected["id"] = json.loads(document)["id"]
        assert without_time(audit_entries(mission, after=before)) == [expected], what
    assert counter(mission.metrics.authorisations, outcome="refused") == 3
    assert stored_authorisations(mission) == []
    assert mission.authorisations == ()


# --- issuing under authorisations --------------------------------------------------------


def test_authorised_unlocks_picks_the_widest_authorisation_in_force_per_recipient(
    fed: TrustFederation, mission: NodeContext
) -> None:
    packet, elsewhere = issue(fed, "mission"), issue(fed, "mission", data=record(**ALEPPO))
    assert authorised_unlocks(mission, packet, NOW) == {}

    both = authorise(fed, expires=NOW + DAY)
    one = authorise(fed, fields=("side_a",), expires=NOW + 2 * DAY)
    for a in (one, both, authorise(fed, recipient="mission"), authorise(fed, recipient="dpa")):
        take_on(mission, a)
    assert authorised_unlocks(mission, packet, NOW) == {
        "undp": Unlock(both, "undp", frozenset(SIDES))
    }
    assert authorised_unlocks(mission, elsewhere, NOW) == {}
    # Once the wider one has expired, the other applies; then none.
    assert authorised_unlocks(mission, packet, NOW + DAY) == {
        "undp": Unlock(one, "undp", frozenset({"side_a"}))
    }
    assert authorised_unlocks(mission, packet, NOW + 2 * DAY) == {}


def test_a_packet_issued_under_an_authorisation_goes_out_with_the_unlocked_fields(
    fed: TrustFederation, mission: NodeContext
) -> None:
    a = authorise(fed)
    take_on(mission, a)
    before = audit_size(mission)
    (jti,) = ingest(mission, record())
    (item,) = outbox_items(mission, "undp")
    assert (item.jti, item.authorisation_id) == (jti, a.id)
    assert disclosed(mission, item.view) == UNDP | SIDES
    used = [e for e in audit_entries(mission, after=before) if e["act"] == "authorisation.used"]
    assert [(e["peer"], e["jti"], e["fields"]) for e in used] == [
        ("undp", jti, ["side_a", "side_b"])
    ]
    # the batch's view.queued entry for undp names the authorisation the view relies on
    queued = {
        e["peer"]: e["views"]
        for e in audit_entries(mission, after=before)
        if e["act"] == "view.queued"
    }
    assert queued["undp"] == [
        {"jti": jti, "digest": item.digest, "fields": sorted(UNDP | SIDES), "authorisation": a.id}
    ]
    others = [v for peer, views in queued.items() if peer != "undp" for v in views]
    assert others and all("authorisation" not in v and v["jti"] == jti for v in others)


# --- sending ------------------------------------------------------------------------------


UNKNOWN_AUTHORISATION = "0190a6c5-0000-7000-8000-000000000000"


def test_outgoing_sends_each_authorisation_once_and_cuts_views_it_no_longer_covers(
    fed: TrustFederation, mission: NodeContext
) -> None:
    first, second = ingest(mission, record(), record(event_id="216781"))
    a = authorise(fed, expires=NOW + DAY)
    assert take_on(mission, a).views_queued == 2
    p1, p2, w1, w2 = outbox_items(mission, "undp")
    assert [(i.jti, i.authorisation_id) for i in (p1, p2, w1, w2)] == [
        (first, None),
        (second, None),
        (first, a.id),
        (second, a.id),
    ]

    # Nothing relies on an authorisation: the views as queued, nothing more.
    assert outgoing(mission, [p1, p2], NOW) == ([p1.view, p2.view], [])
    # Both wider views rely on one authorisation in force: it goes along once.
    views, documents = outgoing(mission, [p1, w1, w2], NOW)
    assert views == [p1.view, w1.view, w2.view]
    assert documents == [a.document()]

    # Expired: the wider views are cut back to the policy, and it is not sent.
    views, documents = outgoing(mission, [w1, w2], NOW + DAY)
    assert documents == []
    assert [disclosed(mission, v, "undp") for v in views] == [UNDP, UNDP]

    # An authorisation this node does not hold (any more) is not relied on either.
    unknown = SimpleNamespace(**{**w1._asdict(), "authorisation_id": UNKNOWN_AUTHORISATION})
    views, documents = outgoing(mission, [unknown], NOW)  # type: ignore[list-item]
    assert (disclosed(mission, views[0]), documents) == (UNDP, [])


def test_views_queued_before_the_manifest_in_force_are_cut_to_its_policy(
    fed: TrustFederation, mission: NodeContext, clock: FixedClock
) -> None:
    (jti,) = ingest(mission, record())
    a = authorise(fed)
    take_on(mission, a)
    policy_item, wider = outbox_items(mission, "undp")

    # A tighter policy: undp no longer sees admin1.
    rules = mission.manifest.sharing.rules()
    rules["conflict-event/1"]["undp"].pop("admin1")
    held = mission.manifest
    tighter = signed(propose(held, now=NOW, policy=rules), held, {s: fed.keys[s] for s in SIGNERS})
    clock.at = NOW + timedelta(minutes=1)
    accept_manifest(mission, manifest_json(tighter), actor="token:admin")
    assert mission.manifest_since == clock.at

    views, documents = outgoing(mission, [policy_item, wider], clock.at)
    assert disclosed(mission, views[0]) == UNDP - {"admin1"}
    assert disclosed(mission, views[1]) == (UNDP - {"admin1"}) | SIDES  # still authorised
    assert documents == [a.document()]

    # Queued under the manifest in force (and not covered by the authorisation): as queued.
    (later,) = ingest(mission, record(event_id="216782", **ALEPPO))
    fresh = [i for i in outbox_items(mission, "undp") if i.jti == later]
    assert len(fresh) == 1 and later != jti
    assert outgoing(mission, fresh, clock.at) == ([fresh[0].view], [])


# --- receiving (the recipient) ---------------------------------------------------------------


@pytest.fixture
def undp(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    template = sqlite_template(tmp_path_factory)
    with opened_trust_node(tmp_path / "undp", fed, "undp", FixedClock(), template=template) as ctx:
        yield ctx


def test_check_disclosure_accepts_more_than_the_policy_only_under_a_covering_authorisation(
    fed: TrustFederation, undp: NodeContext
) -> None:
    packet = issue(fed, "mission")
    policy = verify_view(policy_view(fed, packet, "undp"), undp.manifest, recipient=None, now=NOW)
    wide_view = make_view(packet.sd_jwt, UNDP | SIDES)
    wide = verify_view(wide_view, undp.manifest, recipient=None, now=NOW)
    a = authorise(fed)
    only_a = authorise(fed, fields=("side_a",))
    other_issuer = authorise(fed, scope={"query": {**IDLIB_QUERY, "issuers": ["unodc"]}})

    assert check_disclosure(undp, policy, {}, {}) is None
    assert check_disclosure(undp, policy, {a.id: a}, {"x": "expired"}) is None
    assert check_disclosure(undp, wide, {only_a.id: only_a, a.id: a}, {}) == (
        a,
        frozenset(SIDES),
    )

    plain = (
        "view discloses 'side_a' of conflict-event/1 to 'undp', "
        "but the policy grants 'withhold' for 'side_a'"
    )
    for offered in ({}, {only_a.id: only_a}, {other_issuer.id: other_issuer}):
        with pytest.raises(OverDisclosure) as caught:
            check_disclosure(undp, wide, offered, {})
        assert (caught.value.message, caught.value.field) == (plain, "side_a")

    refused = {"b-id": "authorisation b-id expired at 2026-11-24T12:00:00Z", "#1": "malformed"}
    with pytest.raises(OverDisclosure) as caught:
        check_disclosure(undp, wide, {}, refused)
    assert caught.value.message == (
        f"{plain} (authorisation not usable: #1: malformed; "
        "b-id: authorisation b-id expired at 2026-11-24T12:00:00Z)"
    )
    assert caught.value.field == "side_a"
