"""Helpers for the storage tests: test databases, real packets, one place for the time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event

from clearinghouse.node.storage import migrate
from clearinghouse.node.storage.db import make_engine
from clearinghouse.protocol.packet import (
    IssuedPacket,
    VerifiedPacket,
    issue_packet,
    recipient_view,
    verify_view,
)
from tests.support import NOW as ISSUED_AT
from tests.support import Federation

#: When storage acts in these tests (a little after the packets were issued).
NOW = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)

#: Who issues each schema used here (as in the demo federation's policy).
ISSUER = {"conflict-event/1": "mission", "seizure/1": "unodc", "market-price/1": "undp"}


@dataclass
class TestDatabase:
    """One migrated test database; :meth:`engine` opens (and remembers) engines on it.

    On PostgreSQL, ``schema`` is this test's own schema, put first on the
    ``search_path`` of every connection.
    """

    __test__ = False

    backend: str
    url: str
    schema: str | None = None
    _engines: list[Engine] = field(default_factory=list)

    def connect_args(self, *, timezone: str | None = None) -> dict[str, Any]:
        if self.schema is None:
            return {}
        options = f"-c search_path={self.schema}"
        if timezone:
            options += f" -c TimeZone={timezone}"
        return {"options": options}

    def engine(self, *, timezone: str | None = None) -> Engine:
        """A new engine on this database (PostgreSQL: session ``TimeZone`` if given)."""
        kwargs: dict[str, Any] = {}
        if self.schema is not None:
            kwargs["connect_args"] = self.connect_args(timezone=timezone)
        engine = make_engine(self.url, **kwargs)
        self._engines.append(engine)
        return engine

    def dispose(self) -> None:
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()


@dataclass(frozen=True)
class Packets:
    """Real packets: issued here, or views as a peer would receive them."""

    federation: Federation
    records: dict[str, dict[str, Any]]

    def issued(self, schema: str = "conflict-event/1") -> IssuedPacket:
        issuer = ISSUER[schema]
        return issue_packet(
            self.records[schema],
            schema=schema,
            issuer=issuer,
            key=self.federation.keys[issuer],
            kid=self.federation.kid(issuer),
            now=ISSUED_AT,
            pseudonym_key=self.federation.pseudonym_key,
            pseudonym_epoch=self.federation.pseudonym_epoch,
        )

    def received(self, packet: IssuedPacket, recipient: str = "dpa") -> VerifiedPacket:
        manifest = self.federation.manifest
        view = recipient_view(packet.sd_jwt, manifest, recipient)
        return verify_view(view, manifest, recipient=recipient, now=ISSUED_AT)


def ref(packet: IssuedPacket | VerifiedPacket) -> tuple[str, str]:
    return (packet.ref.jti, packet.ref.digest)


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[int]]:
    """Count the statements sent to the driver on ``engine`` meanwhile (an executemany,
    or each page of a batched insert, is one): ``counted[0]``."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


def downgrade_to(engine: Engine, revision: str) -> None:
    """Migrate the database of ``engine`` down to ``revision`` ("base": no tables)."""
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(Path(migrate.__file__).resolve().parent / "migrations")
    )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
