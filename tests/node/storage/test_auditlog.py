"""The audit log's storage on both databases: numbering, head, blocks and proofs against
the in-memory reference tree, transactions, concurrent appenders, and O(log n) proofs."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.models import (
    AuditBlock,
    AuditEntry,
    AuditEntryView,
    AuditHead,
)
from clearinghouse.protocol.audit import Act, encode_entry, parse_entry
from clearinghouse.protocol.errors import AuditEntryMalformed, MerkleInputError
from clearinghouse.protocol.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    consistency_proof_from,
    inclusion_proof_from,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.node.storage._support import NOW

PEERS = ("mission", "unodc", "undp")


def act(i: int, tag: str = "t") -> Act:
    """A varied act; ``jti`` carries ``tag`` and ``i`` so rows can be traced to callers."""
    peer = PEERS[i % len(PEERS)]
    if i % 4 == 3:
        return Act("key.loaded", "node:dpa", fields={"kid": f"{tag}-{i}"})
    name = ("view.queued", "view.sent", "packet.received")[i % 3]
    return Act(name, "node:dpa", peer=peer, jti=f"{tag}-{i}", fields={"digest": f"d{i}"})


def append_batches(engine: Engine, sizes: list[int], *, tag: str = "t") -> list[range]:
    """Append ``sizes[k]`` acts in transaction ``k``; entry times step by one minute."""
    ranges, n = [], 0
    for k, size in enumerate(sizes):
        with transaction(engine) as session:
            acts = [act(n + i, tag) for i in range(size)]
            ranges.append(auditlog.append(session, acts, now=NOW + timedelta(minutes=k)))
        n += size
    return ranges


def stored(engine: Engine) -> list[AuditEntry]:
    with transaction(engine) as session:
        return list(auditlog.iter_entries(session))


def reference(engine: Engine) -> MemoryTree:
    """The reference tree over the stored bodies (recomputed, not the stored leaf hashes)."""
    return MemoryTree(leaf_hash(row.body.encode()) for row in stored(engine))


def block_rows(engine: Engine) -> dict[tuple[int, int], bytes]:
    with transaction(engine) as session:
        rows = session.execute(select(AuditBlock.level, AuditBlock.idx, AuditBlock.hash))
        return {(int(level), int(idx)): bytes(h) for level, idx, h in rows}


def expected_blocks(tree: MemoryTree) -> dict[tuple[int, int], bytes]:
    """Every complete aligned block of two leaves or more (leaves live in audit_entry)."""
    out = {}
    for level in range(1, tree.size.bit_length()):
        width = 1 << level
        for idx in range(tree.size // width):
            out[(level, idx)] = tree.subtree(idx * width, (idx + 1) * width)
    return out


def assert_log_is_sound(engine: Engine) -> MemoryTree:
    """Seqs 0..n-1 without gap, each body canonical and hashing to its leaf hash, the head
    and the blocks those of the reference tree; return the tree."""
    rows = stored(engine)
    assert [r.seq for r in rows] == list(range(len(rows)))
    for row in rows:
        assert parse_entry(row.body.encode()).seq == row.seq
        assert bytes(row.leaf_hash) == leaf_hash(row.body.encode())
    tree = reference(engine)
    with transaction(engine) as session:
        head = auditlog.head(session)
        size, frontier = session.execute(select(AuditHead.size, AuditHead.frontier)).one()
    assert (head.size, head.root) == (tree.size, tree.root())
    assert CompactRange.from_bytes(int(size), bytes(frontier)).root() == tree.root()
    assert block_rows(engine) == expected_blocks(tree)
    return tree


# --- append and head ---------------------------------------------------------------------


def test_the_migrated_log_is_empty(engine: Engine) -> None:
    with transaction(engine) as session:
        assert auditlog.head(session) == auditlog.Head(0, EMPTY_ROOT)
        assert auditlog.root_at(session, 0) == EMPTY_ROOT
        assert auditlog.append(session, [], now=NOW) == range(0)
        assert auditlog.entries(session, 0, 10) == []
        assert auditlog.latest_checkpoint(session) is None
        assert auditlog.count_by_act(session) == {}
    with transaction(engine) as session:
        assert auditlog.head(session).size == 0


def test_appends_in_several_transactions_match_the_reference_tree(engine: Engine) -> None:
    sizes = [1, 2, 3, 1, 5, 8, 13, 1, 1, 21, 34]
    tree = MemoryTree()
    n = 0
    for k, size in enumerate(sizes):
        (got,) = append_batches(engine, [size], tag=f"b{k}")
        assert got == range(n, n + size)
        n += size
        with transaction(engine) as session:
            rows = auditlog.entries(session, got.start, got.stop)
            for row in rows:
                tree.append(bytes(row.leaf_hash))
            assert auditlog.head(session) == auditlog.Head(n, tree.root())
    assert_log_is_sound(engine)
    rows = stored(engine)
    first = rows[0]
    assert first.body.encode() == encode_entry(0, NOW, act(0, "b0"))
    assert (first.act, first.actor, first.peer, first.jti) == (
        "view.queued",
        "node:dpa",
        "mission",
        "b0-0",
    )


def test_proofs_verify_against_the_reference_tree(engine: Engine) -> None:
    append_batches(engine, [1, 4, 7, 2, 16, 9, 31, 3, 10])  # 83 entries
    tree = assert_log_is_sound(engine)
    n = tree.size
    rng = random.Random(83)
    with transaction(engine) as session:
        for size in range(1, n + 1):
            root = tree.root(size)
            assert auditlog.root_at(session, size) == root
            for index in {0, size - 1, size // 2, rng.randrange(size), rng.randrange(size)}:
                proof = auditlog.inclusion_proof(session, index, size)
                assert proof == inclusion_proof_from(tree, index, size)
                verify_inclusion(tree.subtree(index, index + 1), index, size, proof, root)
            for old in {1, size, size // 2 or 1, max(size - 1, 1), rng.randint(1, size)}:
                proof = auditlog.consistency_proof(session, old, size)
                assert proof == consistency_proof_from(tree, old, size)
                verify_consistency(old, size, tree.root(old), root, proof)


def test_questions_the_log_cannot_answer(engine: Engine) -> None:
    append_batches(engine, [5])
    with transaction(engine) as session:
        for ask in (
            lambda: auditlog.root_at(session, 6),
            lambda: auditlog.root_at(session, -1),
            lambda: auditlog.inclusion_proof(session, 5, 5),
            lambda: auditlog.inclusion_proof(session, 0, 6),
            lambda: auditlog.inclusion_proof(session, -1, 5),
            lambda: auditlog.consistency_proof(session, 0, 5),
            lambda: auditlog.consistency_proof(session, 5, 6),
            lambda: auditlog.consistency_proof(session, 4, 3),
        ):
            with pytest.raises(MerkleInputError):
                ask()


def test_a_rolled_back_transaction_leaves_no_entry_and_no_head_change(engine: Engine) -> None:
    append_batches(engine, [3, 2])
    before = assert_log_is_sound(engine)
    blocks = block_rows(engine)
    with pytest.raises(RuntimeError, match="the act failed"), transaction(engine) as session:
        assert auditlog.append(session, [act(i, "gone") for i in range(5)], now=NOW) == range(5, 10)
        raise RuntimeError("the act failed after its entries were appended")
    with pytest.raises(AuditEntryMalformed), transaction(engine) as session:
        auditlog.append(session, [act(0, "gone"), Act("no.such.act", "node:dpa")], now=NOW)
    with transaction(engine) as session:
        assert auditlog.head(session) == auditlog.Head(5, before.root())
        assert auditlog.search(session, jti="gone-0") == []
    assert block_rows(engine) == blocks
    (after,) = append_batches(engine, [4], tag="next")
    assert after == range(5, 9)  # numbering resumes at the committed head: no gap
    assert_log_is_sound(engine)


# --- reading entries ---------------------------------------------------------------------


def test_entries_iter_entries_search_and_counts(engine: Engine) -> None:
    append_batches(engine, [10, 10, 10, 10])  # batch k at NOW + k minutes
    with transaction(engine) as session:
        assert [e.seq for e in auditlog.entries(session, 5, 12)] == list(range(5, 12))
        assert auditlog.entries(session, 12, 5) == []
        assert [e.seq for e in auditlog.entries(session, 38, 100)] == [38, 39]
        assert [e.seq for e in auditlog.iter_entries(session, chunk=7)] == list(range(40))
        assert [e.seq for e in auditlog.iter_entries(session, start=33, chunk=7)] == list(
            range(33, 40)
        )
        assert [e.seq for e in auditlog.iter_entries(session, chunk=10)] == list(range(40))

        every = auditlog.search(session, limit=1000)
        assert [e.seq for e in every] == list(range(39, -1, -1))  # newest first
        assert [e.seq for e in auditlog.search(session, limit=3)] == [39, 38, 37]
        assert [e.seq for e in auditlog.search(session, before=10, limit=3)] == [9, 8, 7]

        sent = auditlog.search(session, act="view.sent", limit=1000)
        assert sent and {e.act for e in sent} == {"view.sent"}
        assert [e.seq for e in sent] == [i for i in range(39, -1, -1) if act(i).act == "view.sent"]
        unodc = auditlog.search(session, peer="unodc", limit=1000)
        assert [e.seq for e in unodc] == [i for i in range(39, -1, -1) if act(i).peer == "unodc"]
        (one,) = auditlog.search(session, jti="t-17")
        assert one.seq == 17
        both = auditlog.search(session, act="view.queued", peer="mission", limit=1000)
        assert [e.seq for e in both] == [
            i for i in range(39, -1, -1) if (act(i).act, act(i).peer) == ("view.queued", "mission")
        ]

        second = auditlog.search(
            session, since=NOW + timedelta(minutes=1), until=NOW + timedelta(minutes=2), limit=100
        )
        assert [e.seq for e in second] == list(range(19, 9, -1))  # since inclusive, until not
        assert auditlog.search(session, since=NOW + timedelta(minutes=4)) == []
        assert all(e.time == NOW + timedelta(minutes=e.seq // 10) for e in every)

        counts = auditlog.count_by_act(session)
        assert sum(counts.values()) == 40
        assert counts == {
            name: sum(1 for i in range(40) if act(i).act == name)
            for name in {act(i).act for i in range(40)}
        }


# --- concurrent appenders ----------------------------------------------------------------


def _batch(name: str, peer: str, jtis: list[str | None], **fields: Any) -> Act:
    """A batch act listing a view per item of ``jtis`` (None: a view naming no packet);
    one view's jti also stands at the top level, as :mod:`node.services.acts` writes it."""
    views = [{"digest": f"d-{j}"} if j is None else {"jti": j, "digest": f"d-{j}"} for j in jtis]
    top = jtis[0] if len(jtis) == 1 else None
    return Act(name, "node:dpa", peer=peer, jti=top, fields={**fields, "views": views})


def index_rows(engine: Engine) -> set[tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEntryView.jti, AuditEntryView.seq))
        return {(str(jti), int(seq)) for jti, seq in rows}


def test_append_indexes_each_view_a_batch_entry_covers(engine: Engine) -> None:
    acts = [
        Act("view.sent", "node:dpa", peer="mission", jti="old", fields={"digest": "d"}),
        _batch("packet.received", "mission", ["j1", "j2", None, "j1"], via="push"),
        _batch("view.sent", "unodc", ["solo"], via="push"),
        Act("key.loaded", "node:dpa", fields={"kid": "k"}),
        _batch("view.sent", "mission", ["j2", "j3"], via="catch-up"),
        _batch("view.queued", "undp", ["j3", "j4"], policy="p"),
    ]
    with transaction(engine) as session:
        assert auditlog.append(session, acts, now=NOW) == range(6)
    # each packet a batch entry covers beyond its top-level jti, once per entry
    assert index_rows(engine) == {
        ("j1", 1), ("j2", 1), ("j2", 4), ("j3", 4), ("j3", 5), ("j4", 5),
    }  # fmt: skip
    with transaction(engine) as session:

        def found(**filters: Any) -> list[int]:
            return [e.seq for e in auditlog.search(session, limit=1000, **filters)]

        assert found(jti="j2") == [4, 1]  # newest first
        assert found(jti="j3") == [5, 4]
        assert found(jti="j1") == [1]  # listed twice in its batch, found once
        assert found(jti="solo") == [2]  # by the top-level jti alone
        assert found(jti="old") == [0]  # an entry of one view written before batches
        assert found(jti="j9") == []
        # the other filters still apply to what the jti finds
        assert found(jti="j2", act="view.sent") == [4]
        assert found(jti="j3", peer="undp") == [5]
        assert found(jti="j2", before=4) == [1]
        assert [e.seq for e in auditlog.search(session, jti="j3", limit=1)] == [5]
        assert found(jti="j2", actor="node:other") == []
        # the entries read back name the packets the index lists
        for seq in range(6):
            (entry,) = auditlog.entries(session, seq, seq + 1)
            covered = set(parse_entry(entry.body.encode()).covers()) - {entry.jti}
            assert covered == {j for j, s in index_rows(engine) if s == seq}


def test_a_rolled_back_batch_leaves_no_index_rows(engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as session:
        auditlog.append(session, [_batch("view.sent", "mission", ["a", "b"])], now=NOW)
        raise RuntimeError("the act failed")
    assert index_rows(engine) == set()
    with transaction(engine) as session:
        assert auditlog.search(session, jti="a") == []
        auditlog.append(session, [_batch("view.sent", "mission", ["a", "b"])], now=NOW)
    assert index_rows(engine) == {("a", 0), ("b", 0)}


def test_concurrent_appenders_get_contiguous_seqs_and_one_tree(engine: Engine) -> None:
    threads, rounds = 8, 12
    barrier = threading.Barrier(threads)
    results: dict[int, list[range]] = {t: [] for t in range(threads)}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait(timeout=60)
            for r in range(rounds):
                count = 1 + (t + r) % 3
                with transaction(engine) as session:
                    acts = [act(r * 10 + i, f"w{t}") for i in range(count)]
                    results[t].append(auditlog.append(session, acts, now=NOW))
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    assert not any(w.is_alive() for w in workers), "an appender is stuck"
    assert errors == []

    ranges = sorted((r for rs in results.values() for r in rs), key=lambda r: r.start)
    total = sum(len(r) for r in ranges)
    assert total == sum(1 + (t + r) % 3 for t in range(threads) for r in range(rounds))
    seqs = [s for r in ranges for s in r]
    assert seqs == list(range(total))  # no gap, no duplicate, no overlap
    # Each caller got the range its own acts were written at, and nothing else.
    rows = {row.seq: row for row in stored(engine)}

    def marker(seq: int) -> str:
        body = parse_entry(rows[seq].body.encode()).body
        return str(body.get("jti") or body.get("kid"))

    for t, rs in results.items():
        wrote = [f"w{t}-{r * 10 + i}" for r in range(rounds) for i in range(1 + (t + r) % 3)]
        assert [marker(s) for r in rs for s in r] == wrote
    tree = assert_log_is_sound(engine)
    assert tree.size == total


# --- checkpoints, cosignatures, witnessing, alerts ---------------------------------------


def add_checkpoints(engine: Engine, sizes: tuple[int, ...]) -> None:
    with transaction(engine) as session:
        for size in sizes:
            root = leaf_hash(b"%d" % size)
            assert auditlog.add_checkpoint(session, size=size, root=root, note=f"n{size}", now=NOW)


def test_checkpoints_are_listed_in_size_order(engine: Engine) -> None:
    add_checkpoints(engine, (5, 2, 9, 7))
    with transaction(engine) as session:
        assert [c.size for c in auditlog.checkpoints_after(session, 0)] == [2, 5, 7, 9]
        assert [c.size for c in auditlog.checkpoints_after(session, 5)] == [7, 9]
        assert [c.size for c in auditlog.checkpoints_after(session, 4, limit=2)] == [5, 7]
        assert [c.size for c in auditlog.checkpoints_after(session, 6)] == [7, 9]
        assert auditlog.checkpoints_after(session, 9) == []
        latest = auditlog.latest_checkpoint(session)
        assert latest is not None and latest.size == 9
        seven = auditlog.checkpoint_at(session, 7)
        assert seven is not None
        assert (seven.note, bytes(seven.root), seven.signed_at) == ("n7", leaf_hash(b"7"), NOW)
        assert auditlog.checkpoint_at(session, 3) is None


def test_a_checkpoint_is_kept_once_per_size(engine: Engine) -> None:
    add_checkpoints(engine, (7,))
    with transaction(engine) as session:
        again = auditlog.add_checkpoint(session, size=7, root=EMPTY_ROOT, note="other", now=NOW)
    with transaction(engine) as session:
        seven = auditlog.checkpoint_at(session, 7)
        assert seven is not None and (seven.note, bytes(seven.root)) == ("n7", leaf_hash(b"7"))
    # "Return whether it was new": it was not.
    assert again is False


def test_cosignatures_are_deduplicated_per_size_and_witness(engine: Engine) -> None:
    with transaction(engine) as session:
        assert auditlog.add_cosignatures(session, witness="mission", lines=[], now=NOW) == 0
        lines = [(5, "m5\n", 100), (9, "m9\n", 101)]
        assert auditlog.add_cosignatures(session, witness="mission", lines=lines, now=NOW) == 2
    with transaction(engine) as session:
        again = [(5, "m5 again\n", 200), (7, "m7\n", 201)]
        assert auditlog.add_cosignatures(session, witness="mission", lines=again, now=NOW) == 1
        other = [(5, "u5\n", 300)]
        assert auditlog.add_cosignatures(session, witness="unodc", lines=other, now=NOW) == 1
    with transaction(engine) as session:
        found = auditlog.cosignatures(session, [5, 7, 9, 11])
        assert {s: [(c.witness, c.line, c.timestamp) for c in cs] for s, cs in found.items()} == {
            5: [("mission", "m5\n", 100), ("unodc", "u5\n", 300)],
            7: [("mission", "m7\n", 201)],
            9: [("mission", "m9\n", 101)],
            11: [],
        }
        assert auditlog.cosignatures(session, []) == {}
        # the largest size each witness cosigned, whatever the order they came in
        last = {w: auditlog.last_cosigned(session, w) for w in ("mission", "unodc", "dpa")}
        assert last == {"mission": 9, "unodc": 5, "dpa": 0}


def test_witnessed_logs_and_alerts(engine: Engine) -> None:
    with transaction(engine) as session:
        assert auditlog.witnessed(session, "mission") is None
        auditlog.set_witnessed(session, peer="mission", size=3, root=EMPTY_ROOT, note="a", now=NOW)
    later = NOW + timedelta(minutes=1)
    root = leaf_hash(b"r")
    with transaction(engine) as session:
        auditlog.set_witnessed(session, peer="mission", size=8, root=root, note="b", now=later)
    with transaction(engine) as session:
        row = auditlog.witnessed(session, "mission")
        assert row is not None
        assert (row.size, bytes(row.root), row.note, row.updated_at) == (8, root, "b", later)
        for i in range(3):
            auditlog.add_alert(
                session, peer="unodc", kind="fork", detail=f"d{i}", evidence="e", now=NOW
            )
    with transaction(engine) as session:
        assert [a.detail for a in auditlog.alerts(session)] == ["d2", "d1", "d0"]
        assert [a.detail for a in auditlog.alerts(session, limit=1)] == ["d2"]


# --- proofs read O(log n) blocks in a fixed number of statements --------------------------


@contextmanager
def counting(engine: Engine) -> Iterator[dict[str, int]]:
    seen = {"statements": 0, "parameters": 0}

    def count(_conn: Any, _cursor: Any, _statement: str, parameters: Any, *_: Any) -> None:
        seen["statements"] += 1
        seen["parameters"] += len(parameters) if parameters else 0

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def cost(engine: Engine, ask: Any) -> tuple[int, int]:
    with transaction(engine) as session:
        session.execute(select(1))  # open the connection before counting
        with counting(engine) as seen:
            ask(session)
    return seen["statements"], seen["parameters"]


def test_proofs_fetch_log_n_blocks_in_a_fixed_number_of_statements(engine: Engine) -> None:
    append_batches(engine, [40])
    small = [
        cost(engine, lambda s: auditlog.inclusion_proof(s, 17, 40)),
        cost(engine, lambda s: auditlog.consistency_proof(s, 13, 40)),
        cost(engine, lambda s: auditlog.root_at(s, 39)),
    ]
    append_batches(engine, [1000, 1500, 613])  # 3153 entries
    n = 3153
    tree = reference(engine)
    rng = random.Random(3153)
    bound = 2 * math.log2(n) + 2  # blocks asked (see protocol.merkle)
    statements = set()
    for _ in range(40):
        size = rng.randint(1, n)
        index, old = rng.randrange(size), rng.randint(1, size)
        for ask, check in (
            (
                lambda s, i=index, z=size: auditlog.inclusion_proof(s, i, z),
                inclusion_proof_from(tree, index, size),
            ),
            (
                lambda s, o=old, z=size: auditlog.consistency_proof(s, o, z),
                consistency_proof_from(tree, old, size),
            ),
            (lambda s, z=size: auditlog.root_at(s, z), tree.root(size)),
        ):
            with transaction(engine) as session:
                assert ask(session) == check
            count, parameters = cost(engine, ask)
            statements.add(count)
            # one head read, then one query for leaves and one for blocks: each block or
            # leaf is at most two bound parameters (level, idx), the head id one more.
            assert parameters <= 2 * bound + 1, (size, index, old, parameters)
    assert max(statements) <= 3
    assert max(statements) == max(c for c, _ in small)  # the same for 40 and 3153 entries
