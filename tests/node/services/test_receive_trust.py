"""Receiving views under the trust rules (``node.services.receive``): an H2 view that did not
come from its issuer is rejected; a view wider than the policy is taken only under an
oversight authorisation sent with it, and then replaces the narrower view held."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.receive import receive_views
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import InboundRefusal, OversightAuthorisation, StoredPacket
from clearinghouse.protocol.authorisation import canonical_authorisation
from clearinghouse.protocol.packet import IssuedPacket, make_view
from tests.databases import sqlite_template
from tests.node.services._trust_support import (
    NOW,
    UNDP,
    FixedClock,
    TrustFederation,
    audit_entries,
    audit_size,
    authorise,
    counter,
    issue,
    make_trust_federation,
    opened_trust_node,
    policy_view,
    without_time,
)

SIDES = {"side_a", "side_b"}


@pytest.fixture(scope="module")
def fed() -> TrustFederation:
    return make_trust_federation()


def node(
    fed: TrustFederation, participant: str, tmp_path: Path, factory: pytest.TempPathFactory
) -> Any:
    return opened_trust_node(
        tmp_path / participant,
        fed,
        participant,
        FixedClock(),
        template=sqlite_template(factory),
    )


@pytest.fixture
def dpa(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    with node(fed, "dpa", tmp_path, tmp_path_factory) as ctx:
        yield ctx


@pytest.fixture
def undp(
    fed: TrustFederation, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeContext]:
    with node(fed, "undp", tmp_path, tmp_path_factory) as ctx:
        yield ctx


def held(ctx: NodeContext) -> list[StoredPacket]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(StoredPacket).order_by(col(StoredPacket.id))))


def refusals(ctx: NodeContext) -> list[InboundRefusal]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(InboundRefusal).order_by(col(InboundRefusal.id))))


def received_entry(packet: IssuedPacket, peer: str, outcome: str, **extra: Any) -> dict[str, Any]:
    """The ``packet.received`` entry of a batch of this one view (named at the top level
    too); ``extra``: what else the entry says of the view (code, reason, widened)."""
    view = {"jti": packet.ref.jti, "digest": packet.ref.digest, "outcome": outcome, **extra}
    return {
        "act": "packet.received",
        "actor": f"peer:{peer}",
        "peer": peer,
        "jti": packet.ref.jti,
        "via": "push",
        "views": [view],
    }


# --- handling codes --------------------------------------------------------------------------


def test_an_h2_view_relayed_by_anyone_but_its_issuer_is_rejected(
    fed: TrustFederation, dpa: NodeContext
) -> None:
    packet = issue(fed, "mission", hc="H2")
    view = policy_view(fed, packet, "dpa")
    before = audit_size(dpa)

    (outcome,) = receive_views(dpa, peer="unodc", views=[view])
    reason = (
        f"packet {packet.ref.jti} of 'mission' is H2 (no onward dissemination), "
        "but 'unodc' relayed it"
    )
    assert (outcome.index, outcome.status, outcome.ref, outcome.code, outcome.detail) == (
        0,
        "rejected",
        packet.ref,
        "handling-violation",
        reason,
    )
    assert outcome.receipt  # signed, as for every view
    assert held(dpa) == []
    (refusal,) = refusals(dpa)
    assert (refusal.peer, refusal.disposition, refusal.code, refusal.reason) == (
        "unodc",
        "rejected",
        "handling-violation",
        reason,
    )
    assert (refusal.jti, refusal.digest) == (packet.ref.jti, packet.ref.digest)
    # the view named by its digest and kept only up to its JWS header, never verbatim
    assert (refusal.sha256, refusal.prefix) == (
        sha256(view.encode()).hexdigest(),
        view[: view.index(".")],
    )
    assert without_time(audit_entries(dpa, after=before)) == [
        received_entry(packet, "unodc", "rejected", code="handling-violation", reason=reason)
    ]
    assert counter(dpa.metrics.packets_rejected, reason="handling-violation") == 1

    # From its issuer the same view is taken; an H0 view may come from anyone.
    (from_issuer,) = receive_views(dpa, peer="mission", views=[view])
    relayed = issue(fed, "mission")
    (from_relay,) = receive_views(dpa, peer="unodc", views=[policy_view(fed, relayed, "dpa")])
    assert (from_issuer.status, from_relay.status) == ("accepted", "accepted")
    assert [(r.jti, r.origin, r.hc) for r in held(dpa)] == [
        (packet.ref.jti, "mission", "H2"),
        (relayed.ref.jti, "unodc", "H0"),
    ]


# --- views under an oversight authorisation ------------------------------------------------


def test_a_wider_duplicate_under_an_authorisation_replaces_the_view_held(
    fed: TrustFederation, undp: NodeContext
) -> None:
    packet = issue(fed, "mission")
    narrow = policy_view(fed, packet, "undp")
    wide = make_view(packet.sd_jwt, UNDP | SIDES)
    a = authorise(fed)
    (first,) = receive_views(undp, peer="mission", views=[narrow])
    assert first.status == "accepted"
    (row,) = held(undp)
    assert set(row.claims) == UNDP

    before = audit_size(undp)
    (outcome,) = receive_views(undp, peer="mission", views=[wide], authorisations=[a.document()])
    assert (outcome.status, outcome.code) == ("duplicate", None)
    (row,) = held(undp)
    assert (row.raw, set(row.claims), row.origin) == (wide, UNDP | SIDES, "mission")
    used = {
        "act": "authorisation.used",
        "actor": "peer:mission",
        "peer": "mission",
        "jti": packet.ref.jti,
        "id": a.id,
        "recipient": "undp",
        "digest": packet.ref.digest,
        "fields": ["side_a", "side_b"],
    }
    entries = without_time(audit_entries(undp, after=before))
    assert entries[0] == received_entry(packet, "mission", "duplicate", widened=True)
    assert entries[1:] == [
        {
            "act": "authorisation.accepted",
            "actor": "peer:mission",
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
        used,
    ]
    with transaction(undp.engine) as session:
        (stored,) = session.exec(select(OversightAuthorisation))
    assert (stored.id, stored.source, stored.recipient) == (a.id, "peer:mission", "undp")
    assert stored.document == canonical_authorisation(a).decode()
    assert counter(undp.metrics.authorisations, outcome="accepted") == 1
    assert counter(undp.metrics.authorisations, outcome="used") == 1

    # The same view again: held as wide already; the use is recorded, the rest once.
    before = audit_size(undp)
    (again,) = receive_views(undp, peer="mission", views=[wide], authorisations=[a.document()])
    assert again.status == "duplicate"
    assert without_time(audit_entries(undp, after=before)) == [
        received_entry(packet, "mission", "duplicate"),
        used,
    ]
    assert counter(undp.metrics.authorisations, outcome="accepted") == 1


def test_a_new_wider_view_under_an_authorisation_is_accepted_as_is(
    fed: TrustFederation, undp: NodeContext
) -> None:
    packet = issue(fed, "mission")
    wide = make_view(packet.sd_jwt, UNDP | SIDES)
    a = authorise(fed)
    before = audit_size(undp)
    (outcome,) = receive_views(undp, peer="mission", views=[wide], authorisations=[a.document()])
    assert outcome.status == "accepted"
    (row,) = held(undp)
    assert (row.raw, set(row.claims)) == (wide, UNDP | SIDES)
    entries = without_time(audit_entries(undp, after=before))
    assert entries[0] == received_entry(packet, "mission", "accepted")
    assert [e["act"] for e in entries] == [
        "packet.received",
        "authorisation.accepted",
        "authorisation.used",
    ]


def test_a_wider_view_without_a_usable_authorisation_is_quarantined(
    fed: TrustFederation, undp: NodeContext
) -> None:
    packet = issue(fed, "mission")
    narrow = policy_view(fed, packet, "undp")
    wide = make_view(packet.sd_jwt, UNDP | SIDES)
    receive_views(undp, peer="mission", views=[narrow])
    plain = (
        "view discloses 'side_a' of conflict-event/1 to 'undp', "
        "but the policy grants 'withhold' for 'side_a'"
    )
    for_dpa = authorise(fed, recipient="dpa")
    expired = authorise(fed, issued=NOW - timedelta(days=2), expires=NOW)
    cases = {
        "none": ([], plain),
        "for another recipient": (
            [for_dpa.document()],
            f"{plain} (authorisation not usable: {for_dpa.id}: "
            f"authorisation {for_dpa.id} is for 'dpa', not for 'undp')",
        ),
        "expired": (
            [expired.document()],
            f"{plain} (authorisation not usable: {expired.id}: "
            f"authorisation {expired.id} expired at 2026-11-25T12:00:00Z)",
        ),
        "not an authorisation": (
            ["garbage"],
            f"{plain} (authorisation not usable: #0: authorisation is malformed: ",
        ),
    }
    for what, (documents, detail) in cases.items():
        (outcome,) = receive_views(undp, peer="mission", views=[wide], authorisations=documents)
        assert (outcome.status, outcome.code) == ("quarantined", "over-disclosure"), what
        assert outcome.detail is not None and outcome.detail.startswith(detail), what
    (row,) = held(undp)
    assert row.raw == narrow  # never widened
    assert [r.disposition for r in refusals(undp)] == ["quarantined"] * 4
    with transaction(undp.engine) as session:
        assert list(session.exec(select(OversightAuthorisation))) == []


def test_a_narrow_and_a_wide_view_in_one_batch_keep_the_wide_one(
    fed: TrustFederation, undp: NodeContext
) -> None:
    """The originator queues the policy view, then (once an authorisation is taken on) the
    wider one; both pending, they are pushed in one batch, in that order."""
    packet = issue(fed, "mission")
    narrow = policy_view(fed, packet, "undp")
    wide = make_view(packet.sd_jwt, UNDP | SIDES)
    a = authorise(fed)
    outcomes = receive_views(
        undp, peer="mission", views=[narrow, wide], authorisations=[a.document()]
    )
    assert [o.status for o in outcomes] == ["accepted", "duplicate"]
    (row,) = held(undp)
    assert set(row.claims) == UNDP | SIDES  # what the authorisation let through is kept
