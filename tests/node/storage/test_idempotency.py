"""Idempotent ingest in storage: ``idempotency_key`` claims and ``record_key`` natural keys.

On SQLite and PostgreSQL: a key is claimed once per token, a second claim sees the
first (in progress, then answered), keys of two tokens never collide, an expired key
is purged and claimed afresh, an abandoned one is taken over after the lease, and a
released one is free again. Natural keys are found by schema and key, and a second
insert of a key held fails (the race between replicas that ingest retries).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlmodel
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from clearinghouse.node.storage import idempotency, record_keys
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.idempotency import PROCESSING_LEASE, HeldRequest
from clearinghouse.node.storage.models import IdempotencyRecord, RecordKey
from clearinghouse.node.storage.record_keys import HeldKey, NewKey
from tests.node.storage._support import NOW

DAY = timedelta(days=1)
BODY, OTHER_BODY = "a" * 64, "b" * 64


def claim(
    engine: Engine, token: str, key: str, body: str, *, at: timedelta = timedelta(0)
) -> HeldRequest | None:
    with transaction(engine) as session:
        return idempotency.claim(
            session, token=token, key=key, request_sha256=body, now=NOW + at, retention=DAY
        )


def test_a_key_is_claimed_once_and_then_gives_its_answer(engine: Engine) -> None:
    assert claim(engine, "ingest", "k-1", BODY) is None
    assert claim(engine, "ingest", "k-1", BODY) == HeldRequest(BODY, None, None)
    assert claim(engine, "ingest", "k-1", OTHER_BODY) == HeldRequest(BODY, None, None)
    with transaction(engine) as session:
        idempotency.complete(session, token="ingest", key="k-1", status=200, response='{"a": 1}')
    assert claim(engine, "ingest", "k-1", BODY, at=timedelta(hours=23)) == HeldRequest(
        BODY, 200, '{"a": 1}'
    )
    # another token's key of the same name is its own
    assert claim(engine, "other-client", "k-1", OTHER_BODY) is None


def test_an_expired_key_is_purged_and_claimed_afresh(engine: Engine) -> None:
    assert claim(engine, "ingest", "k-1", BODY) is None
    assert claim(engine, "ingest", "k-2", BODY) is None
    with transaction(engine) as session:
        idempotency.complete(session, token="ingest", key="k-1", status=200, response="{}")
    later = DAY + timedelta(seconds=1)
    assert claim(engine, "ingest", "k-1", OTHER_BODY, at=later) is None
    with transaction(engine) as session:
        rows = session.exec(sqlmodel.select(IdempotencyRecord)).all()
        assert [(r.key, r.request_sha256, r.status) for r in rows] == [
            ("k-1", OTHER_BODY, None)
        ]  # k-2 purged with it


def test_an_abandoned_claim_is_taken_over_after_the_lease(engine: Engine) -> None:
    assert claim(engine, "ingest", "k-1", BODY) is None
    within = PROCESSING_LEASE - timedelta(seconds=1)
    assert claim(engine, "ingest", "k-1", BODY, at=within) == HeldRequest(BODY, None, None)
    assert claim(engine, "ingest", "k-1", BODY, at=PROCESSING_LEASE + timedelta(seconds=1)) is None
    # an answered one is never taken over
    with transaction(engine) as session:
        idempotency.complete(session, token="ingest", key="k-1", status=200, response="{}")
    assert claim(engine, "ingest", "k-1", BODY, at=2 * PROCESSING_LEASE + timedelta(seconds=1)) == (
        HeldRequest(BODY, 200, "{}")
    )


def test_a_released_key_is_free_and_an_answered_one_is_not_released(engine: Engine) -> None:
    assert claim(engine, "ingest", "k-1", BODY) is None
    with transaction(engine) as session:
        idempotency.release(session, token="ingest", key="k-1")
    assert claim(engine, "ingest", "k-1", OTHER_BODY) is None
    with transaction(engine) as session:
        idempotency.complete(session, token="ingest", key="k-1", status=422, response="{}")
        idempotency.release(session, token="ingest", key="k-1")
    assert claim(engine, "ingest", "k-1", OTHER_BODY) == HeldRequest(OTHER_BODY, 422, "{}")


def test_a_long_key_and_token_name_are_kept_whole(engine: Engine) -> None:
    key, token = "k" * 255, "t" * 255
    assert claim(engine, token, key, BODY) is None
    assert claim(engine, token, key, BODY) == HeldRequest(BODY, None, None)


def new_key(natural: str, packet_id: int, record: str = "r" * 64) -> NewKey:
    return NewKey(record_keys.key_sha256(natural), packet_id, f"jti-{packet_id}", "d" * 64, record)


def test_natural_keys_are_found_per_schema(engine: Engine) -> None:
    event, flow = new_key('["216780"]', 1), new_key('["FIU-1"]', 2)
    with transaction(engine) as session:
        record_keys.add_record_keys(session, "conflict-event/1", [event], now=NOW)
        record_keys.add_record_keys(session, "financial-flow/1", [flow], now=NOW)
        record_keys.add_record_keys(session, "financial-flow/1", [], now=NOW)
    with transaction(engine) as session:
        found = record_keys.held_record_keys(
            session, "conflict-event/1", [event.key_sha256, flow.key_sha256, "0" * 64]
        )
        assert found == {event.key_sha256: HeldKey("jti-1", "d" * 64, "r" * 64)}
        assert record_keys.held_record_keys(session, "conflict-event/1", []) == {}
        assert set(record_keys.held_record_keys(session, "financial-flow/1", [flow.key_sha256]))


def test_a_natural_key_held_cannot_be_stored_twice(engine: Engine) -> None:
    with transaction(engine) as session:
        record_keys.add_record_keys(session, "conflict-event/1", [new_key('["1"]', 1)], now=NOW)
    with pytest.raises(IntegrityError), transaction(engine) as session:
        record_keys.add_record_keys(
            session, "conflict-event/1", [new_key('["2"]', 2), new_key('["1"]', 3)], now=NOW
        )
    with transaction(engine) as session:  # the failed transaction left nothing
        assert session.execute(select(func.count()).select_from(RecordKey)).scalar_one() == 1
