"""Two OS processes draining one outbox on PostgreSQL never send a view twice.

Each worker claims with ``FOR UPDATE SKIP LOCKED`` and a lease, then marks the
items delivered in a second transaction; between them the items are leased, so
the other worker must skip them. SQLite is meant for one node process, so this
test is PostgreSQL-only (not generated without ``CLEARINGHOUSE_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import col, select

from clearinghouse.node.storage import outbox
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import OutboxItem
from clearinghouse.protocol.packet import PacketRef
from tests.node.storage._support import NOW, TestDatabase

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[3]
ITEMS = 2_000
WORKERS = ("worker-a", "worker-b")


def read_claims(path: Path) -> tuple[list[int], int]:
    """The ids a worker claimed, and the sum of what its mark_delivered calls changed."""
    lines = path.read_text().splitlines()
    assert lines and lines[-1] == "done", f"{path.name} did not finish"
    ids, changed = [], 0
    for line in lines[:-1]:
        n, *batch = map(int, line.split())
        assert 0 < len(batch) <= 50
        ids.extend(batch)
        changed += n
    return ids, changed


def test_two_processes_drain_one_outbox_without_a_double_send(
    database: TestDatabase, tmp_path: Path
) -> None:
    engine = database.engine()
    with transaction(engine) as session:
        for i in range(ITEMS):
            outbox.enqueue(
                session,
                [
                    (
                        i + 1,
                        PacketRef(f"jti-{i}", f"{i:064x}"),
                        {"dpa": f"view {i}", "unodc": f"view {i}"},
                    )
                ],
                now=NOW,
            )
    with transaction(engine) as session:
        expected = set(
            session.exec(select(OutboxItem.id).where(OutboxItem.recipient == "dpa")).all()
        )
    assert len(expected) == ITEMS

    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {
        owner: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.node.storage._drain",
                database.url,
                database.schema or "",
                "dpa",
                owner,
                str(tmp_path / f"{owner}.txt"),
                str(go),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for owner in WORKERS
    }
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"{o}.ready").exists() for o in WORKERS):
            failed = [o for o, p in procs.items() if p.poll() is not None]
            assert not failed, procs[failed[0]].communicate()[1]
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.01)
        go.touch()  # both connected and waiting: start together
        for owner, proc in procs.items():
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{owner}: {err}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    claims = {owner: read_claims(tmp_path / f"{owner}.txt") for owner in WORKERS}
    a_ids, a_changed = claims["worker-a"]
    b_ids, b_changed = claims["worker-b"]
    assert a_ids and b_ids, "both workers should have taken part"
    assert len(a_ids) == len(set(a_ids)) and len(b_ids) == len(set(b_ids))
    assert set(a_ids) & set(b_ids) == set(), "an item was claimed by both workers"
    assert set(a_ids) | set(b_ids) == expected
    assert a_changed == len(a_ids) and b_changed == len(b_ids)  # each marked once, by its claimer

    with transaction(engine) as session:
        rows = session.exec(select(OutboxItem).order_by(col(OutboxItem.id))).all()
        evidence = {r.id: outbox.receipt_of(session, r.id or 0) for r in rows}
    dpa = [r for r in rows if r.recipient == "dpa"]
    owner_of = {i: "worker-a" for i in a_ids} | {i: "worker-b" for i in b_ids}
    for row in dpa:
        assert row.state == "delivered" and row.delivered_via == "push"
        found = evidence[row.id]
        assert found is not None and found[0] == f"sent by {owner_of[row.id or 0]}"
        assert row.attempts == 0 and row.lease_owner is None
    assert all(r.state == "pending" and r.lease_owner is None for r in rows if r.recipient != "dpa")
