"""The trust-lifecycle tables: ``manifest``, ``authorisation``, ``outbox.authorisation_id``,
the widening of a received view (``packets.widen_received``) and migration 0005."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from clearinghouse.node.storage import authorisations, manifests, outbox, packets
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import current_revision, head_revision, upgrade
from clearinghouse.node.storage.models import (
    HeldManifest,
    OutboxItem,
    OutboxView,
    OversightAuthorisation,
    StoredPacket,
)
from clearinghouse.protocol.manifest import Manifest, manifest_json, parse_manifest
from clearinghouse.protocol.packet import PacketRef, VerifiedPacket, make_view, verify_view
from tests.node.storage._support import NOW, Packets, TestDatabase, downgrade_to
from tests.support import NOW as ISSUED_AT
from tests.support import Federation

HOUR = timedelta(hours=1)


def with_serial(manifest: Manifest, serial: int, **changes: object) -> Manifest:
    doc = json.loads(manifest_json(manifest))
    doc.update(serial=serial, **changes)
    return parse_manifest(doc)


def manifest_rows(engine: Engine) -> list[HeldManifest]:
    with transaction(engine) as session:
        return manifests.history(session)


# --- manifest -------------------------------------------------------------------------------


def test_a_manifest_is_stored_as_received_and_once_per_serial(
    engine: Engine, federation: Federation
) -> None:
    with transaction(engine) as session:
        assert manifests.latest(session) is None
        assert manifests.latest_serial(session) == 0
        assert manifests.history(session) == []
    manifest = federation.manifest
    # The document as a peer might send it: other member order and spacing.
    doc = json.loads(manifest_json(manifest))
    document = json.dumps(dict(reversed(doc.items())), ensure_ascii=False).encode()
    with transaction(engine) as session:
        assert manifests.add(session, manifest, document, source="token:admin", now=NOW) is True
    (row,) = manifest_rows(engine)
    assert row.serial == 1
    assert row.federation == "un-integrated-analysis-demo"
    assert row.document == document.decode("utf-8")
    assert row.sha256 == hashlib.sha256(manifest.signing_input()).hexdigest()
    assert row.source == "token:admin"
    assert row.accepted_at == NOW and row.accepted_at.utcoffset() == timedelta(0)

    other = manifest_json(with_serial(manifest, 1, quorum=2))
    with transaction(engine) as session:
        again = manifests.add(session, manifest, other, source="peer:dpa", now=NOW + HOUR)
        assert again is False
    (row,) = manifest_rows(engine)
    assert (row.document, row.source, row.accepted_at) == (document.decode(), "token:admin", NOW)


def test_the_highest_serial_is_in_force_and_a_rollback_stores_nothing(
    engine: Engine, federation: Federation
) -> None:
    for offset, serial in enumerate((2, 1, 3)):
        manifest = with_serial(federation.manifest, serial)
        with transaction(engine) as session:
            manifests.add(
                session, manifest, manifest_json(manifest), source="file", now=NOW + offset * HOUR
            )
    with pytest.raises(RuntimeError), transaction(engine) as session:
        manifest = with_serial(federation.manifest, 4)
        assert manifests.add(session, manifest, manifest_json(manifest), source="f", now=NOW)
        raise RuntimeError("the audit entry could not be written")
    with transaction(engine) as session:
        latest = manifests.latest(session)
        assert latest is not None and latest.serial == 3
        assert manifests.latest_serial(session) == 3
        assert [r.serial for r in manifests.history(session)] == [1, 2, 3]
        accepted = [r.accepted_at for r in manifests.history(session)]
        assert accepted == [NOW + HOUR, NOW, NOW + 2 * HOUR]


def test_content_sha256_ignores_the_signatures_only(federation: Federation) -> None:
    manifest = federation.manifest
    unsigned = parse_manifest({**json.loads(manifest_json(manifest)), "signatures": []})
    assert manifests.content_sha256(unsigned) == manifests.content_sha256(manifest)
    assert (
        manifests.content_sha256(manifest) == hashlib.sha256(manifest.signing_input()).hexdigest()
    )
    changed = with_serial(manifest, 1, quorum=2)
    assert manifests.content_sha256(changed) != manifests.content_sha256(manifest)


def test_a_replica_storing_the_same_serial_meanwhile_makes_add_false(
    database: TestDatabase, federation: Federation
) -> None:
    """Two processes of one node accept serial 2 at once: the second waits for the first
    transaction and then stores nothing (no error)."""
    engine = database.engine()
    manifest = with_serial(federation.manifest, 2)
    document = manifest_json(manifest)
    results: list[bool] = []

    def second() -> None:
        with transaction(engine) as session:
            results.append(manifests.add(session, manifest, document, source="b", now=NOW))

    with Session(engine) as first:
        assert manifests.add(first, manifest, document, source="a", now=NOW) is True
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert results == []  # waiting for the first transaction
        first.commit()
    thread.join(timeout=30)
    assert results == [False]
    assert [(r.serial, r.source) for r in manifest_rows(engine)] == [(2, "a")]


# --- authorisation --------------------------------------------------------------------------


def add_authorisation(
    engine: Engine, a_id: str, *, expires_at: object, accepted_at: object = NOW, **extra: str
) -> bool:
    fields = {"issuer": "sanctions", "recipient": "undp", "document": f'{{"id":"{a_id}"}}'}
    fields.update(extra)
    with transaction(engine) as session:
        return authorisations.add(
            session,
            id=a_id,
            expires_at=expires_at,  # type: ignore[arg-type]
            source="token:oversight",
            now=accepted_at,  # type: ignore[arg-type]
            **fields,
        )


def test_an_authorisation_is_stored_once_and_its_document_found_by_id(engine: Engine) -> None:
    assert add_authorisation(engine, "a-1", expires_at=NOW + HOUR) is True
    assert add_authorisation(engine, "a-1", expires_at=NOW + 9 * HOUR, recipient="dpa") is False
    assert add_authorisation(engine, "a-2", expires_at=NOW - HOUR) is True
    with transaction(engine) as session:
        rows = list(
            session.exec(select(OversightAuthorisation).order_by(col(OversightAuthorisation.id)))
        )
        assert authorisations.documents(session, []) == {}
        # expired ones are found too; unknown ids and repeats are ignored
        assert authorisations.documents(session, iter(["a-2", "a-1", "a-2", "unknown"])) == {
            "a-1": '{"id":"a-1"}',
            "a-2": '{"id":"a-2"}',
        }
        assert authorisations.documents(session, ["unknown"]) == {}
    assert [
        (r.id, r.issuer, r.recipient, r.document, r.expires_at, r.source, r.accepted_at)
        for r in rows
    ] == [
        ("a-1", "sanctions", "undp", '{"id":"a-1"}', NOW + HOUR, "token:oversight", NOW),
        ("a-2", "sanctions", "undp", '{"id":"a-2"}', NOW - HOUR, "token:oversight", NOW),
    ]


def test_unexpired_excludes_what_expires_at_or_before_now_in_any_session_time_zone(
    database: TestDatabase,
) -> None:
    engine = database.engine(timezone="Pacific/Kiritimati")  # PostgreSQL answers in UTC+14
    add_authorisation(engine, "later-accepted", expires_at=NOW + 2 * HOUR, accepted_at=NOW)
    add_authorisation(engine, "expired", expires_at=NOW - HOUR, accepted_at=NOW - 3 * HOUR)
    add_authorisation(engine, "expires-now", expires_at=NOW, accepted_at=NOW - 2 * HOUR)
    add_authorisation(engine, "first-accepted", expires_at=NOW + HOUR, accepted_at=NOW - HOUR)
    with transaction(engine) as session:
        in_force = authorisations.unexpired(session, NOW)
        assert [r.id for r in in_force] == ["first-accepted", "later-accepted"]
        assert in_force[0].expires_at == NOW + HOUR
        assert in_force[0].expires_at.utcoffset() == timedelta(0)
        assert [r.id for r in authorisations.unexpired(session, NOW - 2 * HOUR)] == [
            "expired",
            "expires-now",
            "first-accepted",
            "later-accepted",
        ]
        assert [r.id for r in authorisations.unexpired(session, NOW + HOUR)] == ["later-accepted"]
        assert authorisations.unexpired(session, NOW + 2 * HOUR) == []


# --- widening a received view -----------------------------------------------------------------


def view_of(federation: Federation, sd_jwt: str, claims: set[str]) -> VerifiedPacket:
    """A verified view disclosing ``claims`` (no policy check: the storage does none)."""
    return verify_view(
        make_view(sd_jwt, claims), federation.manifest, recipient=None, now=ISSUED_AT
    )


def stored(engine: Engine) -> list[StoredPacket]:
    with transaction(engine) as session:
        return list(session.exec(select(StoredPacket).order_by(col(StoredPacket.id))))


def test_only_a_strictly_wider_view_replaces_a_received_one(
    engine: Engine, packet_factory: Packets, federation: Federation
) -> None:
    issued = packet_factory.issued()
    narrow = view_of(federation, issued.sd_jwt, {"event_id", "country", "year"})
    wide = view_of(federation, issued.sd_jwt, {"event_id", "country", "year", "side_a"})
    other = view_of(federation, issued.sd_jwt, {"event_id", "side_a", "side_b"})
    with transaction(engine) as session:
        assert packets.widen_received(session, wide) is False  # nothing held yet
    assert stored(engine) == []
    with transaction(engine) as session:
        packets.add_received(session, [narrow], origin="mission", now=NOW)
    (before,) = stored(engine)
    with transaction(engine) as session:
        assert packets.widen_received(session, other) is False  # neither narrower nor wider
    assert stored(engine)[0].raw == narrow.raw
    with transaction(engine) as session:
        assert packets.widen_received(session, wide) is True
    (after,) = stored(engine)
    assert (after.id, after.origin, after.stored_at) == (before.id, "mission", NOW)
    assert after.raw == wide.raw
    assert after.claims == dict(wide.claims)
    assert set(after.claims) == {"event_id", "country", "year", "side_a"}
    with transaction(engine) as session:
        assert packets.widen_received(session, wide) is False  # as wide already
        assert packets.widen_received(session, narrow) is False  # never narrowed
    assert stored(engine)[0].raw == wide.raw

    # A packet issued here (the full SD-JWT) is never replaced by a view of it.
    mine = packet_factory.issued()
    with transaction(engine) as session:
        packets.add_issued(session, [mine], issuer="mission", kid="k", now=NOW)
        full = view_of(federation, mine.sd_jwt, set(mine.claims))
        assert packets.widen_received(session, full) is False
    assert stored(engine)[1].raw == mine.sd_jwt


# --- migration 0005 ------------------------------------------------------------------------


def test_migration_0005_adds_and_removes_the_trust_tables_keeping_the_outbox(
    database: TestDatabase, engine: Engine
) -> None:
    ref = PacketRef("jti-1", "d" * 64)
    with transaction(engine) as session:
        outbox.enqueue(session, [(7, ref, {"dpa": "policy view"})], now=NOW)
        outbox.enqueue(session, [(7, ref, {"undp": "view"})], now=NOW, authorisation_id="a-1")
    with transaction(engine) as session:
        rows = session.exec(
            select(OutboxItem.recipient, OutboxView.view, OutboxItem.authorisation_id)
            .join(OutboxView, OutboxView.item_id == OutboxItem.id)
            .order_by(col(OutboxItem.id))
        ).all()
    assert [tuple(r) for r in rows] == [("dpa", "policy view", None), ("undp", "view", "a-1")]

    downgrade_to(engine, "0004")
    tables = set(inspect(engine).get_table_names())
    assert "manifest" not in tables and "authorisation" not in tables and "outbox" in tables
    assert "authorisation_id" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT recipient, packet_id, view FROM outbox ORDER BY id"))
        assert [tuple(r) for r in kept] == [("dpa", 7, "policy view"), ("undp", 7, "view")]

    upgrade(database.url, engine=engine)
    assert current_revision(database.url, engine=engine) == head_revision()
    with transaction(engine) as session:
        items = session.exec(select(OutboxItem).order_by(col(OutboxItem.id)))
        assert [(i.recipient, i.authorisation_id) for i in items] == [("dpa", None), ("undp", None)]
        assert manifests.latest(session) is None
        assert authorisations.unexpired(session, NOW) == []
    indexes = {i["name"] for i in inspect(engine).get_indexes("authorisation")}
    assert "ix_authorisation_expiry" in indexes
