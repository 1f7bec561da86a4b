"""Local ingest against a concurrent batch (another replica) of the same records.

On SQLite and PostgreSQL. Between a batch's look-up of natural keys and its write,
another batch may store one of its keys: the write then fails on the ``record_key``
primary key, rolls back whole, and is done again against what the other stored. The
window is opened here by hiding the keys from the first look-ups, so that the race
happens every time instead of now and then.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.ingest import ingest_records
from clearinghouse.node.storage import record_keys
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import AuditEntry, StoredPacket
from clearinghouse.node.storage.record_keys import HeldKey
from tests.databases import node_database
from tests.nodes import built_federation, opened_node
from tests.support import EXAMPLES

EVENT = json.loads((EXAMPLES / "records" / "conflict-event.json").read_text())


@pytest.fixture
def mission(backend: str, tmp_path: Path) -> Iterator[NodeContext]:
    with node_database(backend, tmp_path) as url:
        fed = built_federation(
            tmp_path, ("mission", "unodc", "dpa"), database_urls={"mission": url}
        )
        with opened_node(fed.nodes["mission"]) as ctx:
            yield ctx


def counts(ctx: NodeContext) -> tuple[int, int]:
    with transaction(ctx.engine) as session:
        packets = session.exec(select(func.count()).select_from(StoredPacket)).one()
        issued = session.exec(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.act == "packet.issued")
        ).one()
    return packets, issued


def hide_keys_from_the_first(monkeypatch: pytest.MonkeyPatch, lookups: int) -> list[int]:
    """The first ``lookups`` look-ups see no key held: a concurrent batch stores them in
    between. Returns the list of how many keys each look-up was asked for."""
    real = record_keys.held_record_keys
    asked: list[int] = []

    def late(session: Session, schema_id: str, keys: Collection[str]) -> dict[str, HeldKey]:
        asked.append(len(keys))
        return {} if len(asked) <= lookups else real(session, schema_id, keys)

    monkeypatch.setattr(record_keys, "held_record_keys", late)
    return asked


def event(event_id: str, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "event_id": event_id, **changes}


def test_a_key_stored_meanwhile_makes_the_batch_retry_and_answer_with_it(
    mission: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    (held,) = ingest_records(mission, "conflict-event/1", [event("r-1")]).accepted
    before = counts(mission)
    asked = hide_keys_from_the_first(monkeypatch, 2)  # the look-up and the first write

    done = ingest_records(
        mission, "conflict-event/1", [event("r-1"), event("r-2"), event("r-1", year=2017)]
    )

    assert asked == [2, 2, 2]  # looked up, written (conflict, rolled back), written again
    assert [(a["index"], a["outcome"]) for a in done.accepted] == [(0, "duplicate"), (1, "issued")]
    assert done.accepted[0]["jti"] == held["jti"]
    assert [(r.index, r.status, r.jti) for r in done.rejected] == [(2, 409, held["jti"])]
    # r-2 issued once: the rolled-back attempt left no packet and no audit entry
    assert counts(mission) == (before[0] + 1, before[1] + 1)


def test_a_key_stored_between_look_up_and_write_is_answered_without_a_retry(
    mission: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_records(mission, "conflict-event/1", [event("r-3")])
    before = counts(mission)
    asked = hide_keys_from_the_first(monkeypatch, 1)  # only the first look-up misses it

    done = ingest_records(mission, "conflict-event/1", [event("r-3"), event("r-4")])

    assert asked == [2, 2]
    assert [a["outcome"] for a in done.accepted] == ["duplicate", "issued"]
    assert counts(mission) == (before[0] + 1, before[1] + 1)
