"""A database made by an older release upgrades to head with its rows intact.

For each earlier revision (0001, 0002, 0003), on SQLite and PostgreSQL: an empty
database is migrated to that revision only, filled with raw SQL the way that
release's schema allows (packets as issued and as received, outbox items pending,
delivered and offered, a refusal, a nonce, a cursor, a counter, and from 0002 on
the analyzer's queue, a run and its state), then upgraded to head. This code's
repositories must then read every row as written (the receipt an outbox row held too,
moved to ``delivery_receipt`` by 0013), keep working on them (claim, acknowledge,
insert after them), and find the audit log tables with the empty log's head. Then
everything is downgraded to base and upgraded to head again.

Also: the ``clearinghouse`` console script migrates an empty SQLite file and an
empty PostgreSQL schema to head.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import select

from clearinghouse.node.storage import (
    analysis,
    auditlog,
    migrate,
    outbox,
    packets,
    peers,
    record_keys,
)
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import current_revision, head_revision, upgrade
from clearinghouse.node.storage.models import InboundRefusal, OutboxItem
from clearinghouse.protocol.audit import Act
from clearinghouse.protocol.packet import IssuedPacket, VerifiedPacket, recipient_view, verify_view
from clearinghouse.protocol.schemas import get_schema
from tests.databases import POSTGRES_URL, in_schema, throwaway_schema
from tests.node.storage._support import ISSUED_AT, NOW, Packets, TestDatabase
from tests.node.storage.test_migrations import TABLES, differences, downgrade_to_base

EARLIER = ("0001", "0002", "0003")
#: Tables each revision adds (0003 only adds a column).
ADDED = {
    "0001": {"packet", "outbox", "inbound_refusal", "seen_nonce", "peer_cursor", "node_counter"},
    "0002": {"analysis_queue", "analysis_run", "analyzer_state"},
    "0003": set(),
}
ANALYZER = "mission.security-risk"
ID_TABLES = {"packet", "outbox", "inbound_refusal", "analysis_queue", "analysis_run"}
EMPTY_ROOT = hashlib.sha256(b"").digest()
RECEIPT = "eyJhbGciOiJFZERTQSJ9.receipt.sig"  # as the row of a view pushed holds it


@pytest.fixture
def empty(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database private to this test with no tables at all (never migrated)."""
    if backend == "sqlite":
        db = TestDatabase("sqlite", f"sqlite:///{tmp_path / 'node.db'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    with throwaway_schema() as (schema, _):
        db = TestDatabase("postgres", POSTGRES_URL, schema)
        try:
            yield db
        finally:
            db.dispose()


def migrate_to(engine: Engine, revision: str) -> None:
    """Upgrade to exactly ``revision`` (what an older release's ``upgrade`` reached)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


# --- rows as an older release wrote them ----------------------------------------------


class Writer:
    """Raw SQL inserts into one revision's tables; times as that database stores them."""

    def __init__(self, connection: Connection, backend: str) -> None:
        self.connection, self.backend = connection, backend

    def time(self, value: datetime) -> Any:
        # SQLite: the naive UTC text SQLAlchemy's DateTime writes; PostgreSQL: timestamptz.
        if self.backend == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def insert(self, table: str, **values: Any) -> int:
        """Insert one row; return the id the database gave it (0 for tables without)."""
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        params = {k: self.time(v) if isinstance(v, datetime) else v for k, v in values.items()}
        returning = " RETURNING id" if table in ID_TABLES else ""
        result = self.connection.execute(
            text(f"INSERT INTO {table} ({columns}) VALUES ({marks}){returning}"), params
        )
        return int(result.scalar_one()) if returning else 0


def write_packet(
    w: Writer, packet: IssuedPacket | VerifiedPacket, origin: str, kid: str = ""
) -> int:
    """A packet issued here (``origin`` local, signed with ``kid``) or a view received."""
    if isinstance(packet, IssuedPacket):
        fields = {
            "issuer": "mission",
            "kid": kid,
            "schema_id": packet.schema,
            "hc": packet.hc,
            "hcr": packet.hcr,
            "issued_at": packet.issued_at,
            "raw": packet.sd_jwt,
            "claims": json.dumps(dict(packet.claims)),
        }
    else:
        fields = {
            "issuer": packet.iss,
            "kid": packet.kid,
            "schema_id": packet.sch,
            "hc": packet.hc,
            "hcr": packet.hcr,
            "issued_at": packet.iat,
            "raw": packet.raw,
            "claims": json.dumps(dict(packet.claims)),
        }
    return w.insert(
        "packet",
        jti=packet.ref.jti,
        digest=packet.ref.digest,
        origin=origin,
        stored_at=NOW,
        **fields,
    )


def write_outbox(w: Writer, packet_id: int, packet: IssuedPacket, view: str, **state: Any) -> int:
    values = {"state": "pending", "attempts": 0, "created_at": NOW, "next_attempt_at": NOW}
    return w.insert(
        "outbox",
        packet_id=packet_id,
        jti=packet.ref.jti,
        digest=packet.ref.digest,
        view=view,
        **(values | state),
    )


class Scenario:
    """mission's database, as of ``revision``: what was written and what to expect."""

    def __init__(self, factory: Packets, revision: str) -> None:
        self.revision = revision
        self.manifest = factory.federation.manifest
        self.kid = factory.federation.kid("mission")
        self.local = factory.issued("conflict-event/1")
        self.received = factory.received(factory.issued("seizure/1"), recipient="mission")
        self.later = factory.issued("market-price/1")  # issued after the upgrade
        self.views = {
            r: recipient_view(self.local.sd_jwt, self.manifest, r)
            for r in ("dpa", "undp", "sanctions")
        }
        self.ids: dict[str, int] = {}

    def write(self, connection: Connection, backend: str) -> None:
        w = Writer(connection, backend)
        self.ids["local"] = write_packet(w, self.local, "local", self.kid)
        self.ids["received"] = write_packet(w, self.received, "unodc")
        self.ids["pending"] = write_outbox(
            w,
            self.ids["local"],
            self.local,
            self.views["dpa"],
            recipient="dpa",
            attempts=2,
            last_error="peer unavailable",
            next_attempt_at=NOW + timedelta(seconds=30),
        )
        self.ids["delivered"] = write_outbox(
            w,
            self.ids["local"],
            self.local,
            self.views["undp"],
            recipient="undp",
            state="delivered",
            delivered_at=NOW,
            delivered_via="push",
            receipt=RECEIPT,
        )
        w.insert(
            "inbound_refusal",
            peer="dpa",
            disposition="quarantined",
            code="over-disclosure",
            reason="discloses 'narrative', withheld from mission",
            raw="a~view~",
            received_at=NOW,
        )
        w.insert("seen_nonce", peer="unodc", nonce="n-0001", seen_at=NOW)
        w.insert("peer_cursor", peer="unodc", cursor=7, updated_at=NOW)
        w.insert("node_counter", name="views_received", value=3)
        if self.revision >= "0002":
            w.insert("analysis_queue", packet_id=self.ids["received"], enqueued_at=NOW)
            w.insert(
                "analysis_run",
                packet_id=self.ids["local"],
                analyzer_id=ANALYZER,
                analyzer_version="1.0.0",
                findings=0,
                ran_at=NOW,
            )
            w.insert(
                "analyzer_state",
                analyzer_id=ANALYZER,
                key="admin1/Aleppo",
                value=json.dumps({"events": 1, "deaths": [3, 4]}),
            )
        if self.revision >= "0003":
            self.ids["offered"] = write_outbox(
                w,
                self.ids["local"],
                self.local,
                self.views["sanctions"],
                recipient="sanctions",
                offered_at=NOW,
            )

    def check(self, engine: Engine) -> None:
        """This code reads and works on every row as the older release wrote it."""
        with transaction(engine) as session:
            # Packets: the exact text kept, parsed columns as stored, still verifying.
            held = {p.origin: p for p in packets.list_packets(session)}
            assert set(held) == {"local", "unodc"}
            local, received = held["local"], held["unodc"]
            assert (local.id, received.id) == (self.ids["local"], self.ids["received"])
            assert local.raw == self.local.sd_jwt and local.claims == dict(self.local.claims)
            assert local.issued_at == self.local.issued_at == ISSUED_AT
            assert local.stored_at == NOW and local.stored_at.tzinfo is not None
            assert received.raw == self.received.raw and received.issuer == "unodc"
            again = verify_view(received.raw, self.manifest, recipient="mission", now=ISSUED_AT)
            assert again.ref == self.received.ref
            # (0008) the natural key of the event issued before: a re-sent copy is known
            spec = get_schema("conflict-event/1")
            natural = record_keys.key_sha256(spec.natural_key(self.local.claims) or "")
            assert record_keys.held_record_keys(session, spec.id, [natural]) == {
                natural: record_keys.HeldKey(
                    self.local.ref.jti,
                    self.local.ref.digest,
                    spec.record_digest(self.local.claims, hc=self.local.hc, hcr=self.local.hcr),
                )
            }
            # The outbox: counted, claimed when due, acknowledged only if offered.
            expected_pending = {"dpa": 1} | ({"sanctions": 1} if "offered" in self.ids else {})
            assert outbox.pending_by_recipient(session) == expected_pending
            lease, later = timedelta(minutes=5), NOW + timedelta(minutes=1)
            early = outbox.claim_due(
                session, recipient="dpa", owner="o", now=NOW, lease=lease, limit=9
            )
            assert early == []  # not due before its next attempt
            (claimed,) = outbox.claim_due(
                session, recipient="dpa", owner="o", now=later, lease=lease, limit=9
            )
            assert (claimed.id, claimed.view, claimed.attempts) == (
                self.ids["pending"],
                self.views["dpa"],
                2,
            )
            assert claimed.created_at == NOW
            assert session.get_one(OutboxItem, claimed.id).offered_at is None
            # a row from before 0003 was never offered: a cursor does not acknowledge it
            assert outbox.ack_through(session, recipient="dpa", cursor=10**6, now=later) == 0
            if "offered" in self.ids:
                assert outbox.ack_through(session, recipient="sanctions", cursor=10**6, now=later)
            assert outbox.count_by_recipient_and_state(session)[("undp", "delivered")] == 1
            # (0013) the receipt the row held, kept in delivery_receipt: its evidence
            assert outbox.receipt_of(session, self.ids["delivered"]) == (RECEIPT, 0)
            assert outbox.receipt_of(session, self.ids["pending"]) is None
            # Refusals, nonces, cursors, counters.
            assert packets.count_refusals(session) == {"quarantined": 1}
            # (0009) kept as a digest, a length and the header, the text itself dropped
            (refusal,) = session.exec(select(InboundRefusal)).all()
            assert (refusal.sha256, refusal.prefix, refusal.size) == (
                hashlib.sha256(b"a~view~").hexdigest(),
                "a",
                7,
            )
            assert "raw" not in {c["name"] for c in inspect(engine).get_columns("inbound_refusal")}
            assert not peers.remember_nonce(session, peer="unodc", nonce="n-0001", now=later)
            assert peers.get_cursor(session, "unodc") == 7
            assert peers.counters(session) == {"views_received": 3}
            # The analyzer's queue, runs and state (from 0002 on).
            if self.revision >= "0002":
                ((_, queued),) = analysis.next_batch(session, 10)
                assert queued.id == self.ids["received"]
                assert analysis.count_runs(session) == {"runs": 1, "errors": 0, "with_result": 0}
                assert analysis.load_state(session, ANALYZER) == {
                    "admin1/Aleppo": {"events": 1, "deaths": [3, 4]}
                }
            else:
                assert analysis.next_batch(session, 10) == []
            # The audit log starts empty, with its head row, and takes entries.
            assert auditlog.head(session) == auditlog.Head(0, EMPTY_ROOT)
        # New rows go after the old ones (ids, and the log's first entry).
        with transaction(engine) as session:
            (new_id,) = packets.add_issued(session, [self.later], issuer="undp", kid="k", now=later)
            outbox.enqueue(session, [(new_id, self.later.ref, {"dpa": "a view"})], now=later)
            appended = auditlog.append(session, [Act("key.loaded", "node:mission")], now=later)
        assert new_id == max(self.ids["local"], self.ids["received"]) + 1
        assert appended == range(0, 1)
        old_items = [self.ids[k] for k in ("pending", "delivered", "offered") if k in self.ids]
        with transaction(engine) as session:
            ids = sorted(i or 0 for i in session.exec(select(OutboxItem.id)).all())
            assert ids == [*sorted(old_items), max(old_items) + 1]
            assert auditlog.head(session).size == 1


@pytest.mark.parametrize("revision", EARLIER)
def test_rows_of_an_older_revision_survive_the_upgrade_to_head(
    empty: TestDatabase, packet_factory: Packets, revision: str
) -> None:
    engine = empty.engine()
    migrate_to(engine, revision)
    assert current_revision(empty.url, engine=engine) == revision
    assert tables(engine) == set().union(*(ADDED[r] for r in EARLIER if r <= revision))
    scenario = Scenario(packet_factory, revision)
    with engine.begin() as connection:
        scenario.write(connection, empty.backend)

    upgrade(empty.url, engine=engine)

    assert current_revision(empty.url, engine=engine) == head_revision()
    assert TABLES <= tables(engine)
    assert differences(engine) == []
    scenario.check(engine)

    downgrade_to_base(engine)
    assert tables(engine) == set() and current_revision(empty.url, engine=engine) is None
    upgrade(empty.url, engine=engine)
    assert current_revision(empty.url, engine=engine) == head_revision()
    assert differences(engine) == []
    with transaction(engine) as session:
        assert auditlog.head(session) == auditlog.Head(0, EMPTY_ROOT)
        assert packets.list_packets(session) == []


# --- the console script -------------------------------------------------------------


def test_the_console_script_upgrades_an_empty_database(empty: TestDatabase, tmp_path: Path) -> None:
    if empty.backend == "sqlite":
        path = tmp_path / "node.db"
        path.touch()  # an empty file, as an operator might create
        url = f"sqlite:///{path}"
    else:
        assert empty.schema is not None
        url = in_schema(POSTGRES_URL, empty.schema)
    script = Path(sys.executable).with_name("clearinghouse")
    done = subprocess.run(
        [str(script), "db", "upgrade", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")},
    )
    assert (done.returncode, done.stdout) == (0, head_revision() + "\n"), done.stderr
    engine = empty.engine()
    assert current_revision(empty.url, engine=engine) == head_revision()
    assert TABLES <= tables(engine)
    assert differences(engine) == []
    with transaction(engine) as session:
        assert auditlog.head(session) == auditlog.Head(0, EMPTY_ROOT)
