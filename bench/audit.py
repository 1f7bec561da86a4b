"""Audit log benchmark: appends, ``audit verify`` and proofs, each beside its floor.

Measured on SQLite (a temp file) and, with ``--postgres URL``, again on PostgreSQL
(a private schema, dropped afterwards), each figure beside a yardstick from the
same run and database:

* appends/s through :func:`node.storage.auditlog.append` in transactions of 1, 10
  and 100 entries shaped like ingest's ``view.queued`` (a jti, a peer, two digests,
  a few field names), beside a bare ``INSERT`` of the same bytes in the same
  transactions; then appends/s while a second thread serves inclusion and
  consistency proofs against the growing log. The issue's target (3,000 appends/s)
  and what public transparency logs quote (1,600-2,900 writes/s) are printed too;
* ``audit verify``: a log of ``--entries`` entries with a checkpoint signed every
  ``--checkpoint-every``, read back in order (:func:`auditlog.iter_entries`) into
  :class:`protocol.audit.LogVerifier` with the checkpoints, and the consistency
  proof from the previous one, interleaved — entries/s beside a bare SHA-256 loop
  over the same entry bytes. Reading the DB alone and the verifier alone over
  in-memory bytes are timed apart;
* one inclusion and one consistency proof served at that size (median over
  ``--samples`` random indexes and sizes, a fresh session each, as a request
  would) and verified, beside a primary-key ``SELECT`` of one entry.

    python -m bench.audit [--entries N] [--quick] [--out FILE] [--postgres URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy import Table as SqlTable
from sqlmodel import Session

from bench._timing import rate
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import AuditEntry
from clearinghouse.protocol.audit import Act, LogVerifier, audit_origin, encode_entry
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.merkle import leaf_hash, verify_consistency, verify_inclusion
from clearinghouse.protocol.notes import (
    Verifier,
    checkpoint_text,
    ed25519_vkey,
    parse_vkey,
    sign_note,
)

T = TypeVar("T")

#: The issue's target, and the range public transparency logs quote (writes/s).
TARGET_APPENDS_PER_S = 3000
PUBLIC_LOGS_WRITES_PER_S = [1600, 2900]

BATCHES = (1, 10, 100)  # entries per transaction
CONCURRENT_BATCH = 10  # entries per transaction while proofs are served
BUILD_BATCH = 10_000  # entries per transaction when building the log to verify
NOW = datetime.now(UTC).replace(microsecond=0)
ORIGIN = audit_origin("bench", "mission")
PEERS = ("unodc", "dpa", "undp", "sanctions")
FIELDS = (
    "event_id", "year", "type_of_violence", "conflict", "dyad", "side_a", "side_b",
    "date_start", "date_end", "country", "admin1", "admin2", "latitude", "longitude",
    "deaths", "narrative",
)  # fmt: skip
POLICY = hashlib.sha256(b"the demo policy").hexdigest()


def view_queued_acts(count: int, rng: random.Random) -> list[Act]:
    """``count`` acts shaped like ingest's ``view.queued`` (see node.services.acts)."""
    return [
        Act(
            "view.queued",
            "node:mission",
            peer=rng.choice(PEERS),
            jti=uuid7(NOW, rng.randbytes),
            fields={
                "digest": rng.randbytes(32).hex(),
                "fields": sorted(rng.sample(FIELDS, rng.randint(3, 8))),
                "policy": POLICY,
            },
        )
        for _ in range(count)
    ]


@contextmanager
def database(postgres: str | None, directory: Path) -> Iterator[Engine]:
    """A freshly migrated database: a SQLite file in ``directory``, or a private
    schema on the PostgreSQL server at ``postgres`` (dropped afterwards)."""
    if postgres is None:
        url = f"sqlite:///{directory / f'audit-{secrets.token_hex(4)}.db'}"
        engine = make_engine(url)
        try:
            upgrade(url, engine=engine)
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_{secrets.token_hex(6)}"
    admin = make_engine(postgres)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(postgres, connect_args={"options": f"-c search_path={schema}"})
        try:
            upgrade(postgres, engine=engine)
            yield engine
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


# --- 1. appends ----------------------------------------------------------------------


def _append_all(engine: Engine, batches: list[list[Act]]) -> None:
    for acts in batches:
        with transaction(engine) as session:
            auditlog.append(session, acts, now=NOW)


def _bare_table(engine: Engine) -> SqlTable:
    """A scratch table for the yardstick: the entry's bytes and leaf hash, nothing else."""
    table = SqlTable(
        "bench_bare_insert",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("body", Text, nullable=False),
        Column("leaf_hash", LargeBinary(32), nullable=False),
    )
    table.create(engine)
    return table


def appends(engine: Engine, count: int, rng: random.Random) -> dict[str, dict[str, float]]:
    """Appends/s for each batch size, beside bare INSERTs of the same bytes."""
    bare = _bare_table(engine)
    out = {}
    for size in BATCHES:
        batches = [view_queued_acts(size, rng) for _ in range(max(1, count // size))]
        rows = [
            [
                {
                    "seq": i,
                    "body": (b := encode_entry(i, NOW, a)).decode(),
                    "leaf_hash": leaf_hash(b),
                }
                for i, a in enumerate(acts)
            ]
            for acts in batches
        ]

        def insert_all(rows: list[list[dict[str, Any]]] = rows) -> None:
            for batch in rows:
                with transaction(engine) as session:
                    session.execute(insert(bare), batch)

        n = len(batches) * size
        ours = rate(lambda batches=batches: _append_all(engine, batches), n)
        floor = rate(insert_all, n)
        out[f"batch_{size}"] = {
            "entries_per_transaction": size,
            "appends_per_s": ours,
            "bare_insert_per_s": floor,
            "ratio_to_bare_insert": ours / floor,
            "ratio_to_target": ours / TARGET_APPENDS_PER_S,
        }
    bare.drop(engine)
    return out


def appends_while_proving(
    engine: Engine, count: int, rng: random.Random, *, alone: float
) -> dict[str, float]:
    """Appends/s (batches of CONCURRENT_BATCH) while another thread serves proofs.

    One process, as in a node: the proof thread shares the GIL with the appender.
    """
    batches = [
        view_queued_acts(CONCURRENT_BATCH, rng) for _ in range(max(1, count // CONCURRENT_BATCH))
    ]
    stop, serving = threading.Event(), threading.Event()
    served, failed = [0], []

    def prove() -> None:
        pick = random.Random(1)
        try:
            while not stop.is_set():
                with Session(engine) as session:
                    size = auditlog.head(session).size
                    auditlog.inclusion_proof(session, pick.randrange(size), size)
                    auditlog.consistency_proof(session, pick.randint(1, size), size)
                served[0] += 2
                serving.set()
        except BaseException as exc:  # reported by the main thread below
            failed.append(exc)
            serving.set()

    thread = threading.Thread(target=prove, name="bench-proofs", daemon=True)
    thread.start()
    try:
        serving.wait()
        start, before = time.perf_counter(), served[0]
        ours = rate(lambda: _append_all(engine, batches), len(batches) * CONCURRENT_BATCH)
        proofs_per_s = (served[0] - before) / (time.perf_counter() - start)
    finally:
        stop.set()
        thread.join()
    if failed:
        raise failed[0]
    return {
        "entries_per_transaction": CONCURRENT_BATCH,
        "appends_per_s": ours,
        "proofs_served_per_s": proofs_per_s,
        "appends_per_s_alone": alone,
        "ratio_to_alone": ours / alone,
        "ratio_to_target": ours / TARGET_APPENDS_PER_S,
    }


# --- 2. audit verify ------------------------------------------------------------------


def build_log(
    engine: Engine, entries: int, every: int, key: Ed25519PrivateKey, rng: random.Random
) -> float:
    """Append ``entries`` entries, signing a checkpoint every ``every``; return seconds."""
    start, done = time.perf_counter(), 0
    while done < entries:
        n = min(BUILD_BATCH, every - done % every, entries - done)
        acts = view_queued_acts(n, rng)
        with transaction(engine) as session:
            auditlog.append(session, acts, now=NOW + timedelta(milliseconds=done))
            done += n
            if done % every == 0 or done == entries:
                head = auditlog.head(session)
                note = sign_note(checkpoint_text(ORIGIN, head.size, head.root), ORIGIN, key)
                auditlog.add_checkpoint(session, size=head.size, root=head.root, note=note, now=NOW)
    return time.perf_counter() - start


Stored = tuple[int, bytes, bytes]  # seq, body, stored leaf hash
Signed = tuple[int, str, list[bytes] | None]  # size, note, consistency proof from the last


def _stored_checkpoints(session: Session) -> Iterator[Signed]:
    """The stored checkpoints in size order, each with its proof from the previous one."""
    previous = 0
    while page := auditlog.checkpoints_after(session, previous):
        for row in page:
            proof = auditlog.consistency_proof(session, previous, row.size) if previous else None
            yield row.size, row.note, proof
            previous = row.size


def _stored_entries(session: Session) -> Iterator[Stored]:
    return ((e.seq, e.body.encode(), e.leaf_hash) for e in auditlog.iter_entries(session))


def verify_log(
    keys: list[Verifier], entries: Iterable[Stored], checkpoints: Iterable[Signed], claimed: int
) -> LogVerifier:
    """The ``audit verify`` loop: every entry in order, each checkpoint when reached."""
    verifier = LogVerifier(ORIGIN, keys)
    pending = iter(checkpoints)
    due = next(pending, None)
    for seq, body, stored in entries:
        verifier.entry(seq, body, stored)
        if due is not None and verifier.size == due[0]:
            verifier.checkpoint(due[1], due[2])
            due = next(pending, None)
    verifier.finish(claimed)
    if due is not None:
        raise RuntimeError(f"checkpoint {due[0]} is beyond the {verifier.size} entries")
    return verifier


def _timed(work: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def verify(
    engine: Engine, entries: int, every: int, key: Ed25519PrivateKey, rng: random.Random
) -> dict[str, float]:
    """Build the log, then time ``audit verify`` from the DB and its parts."""
    keys = [parse_vkey(ed25519_vkey(ORIGIN, key.public_key()))]
    built = build_log(engine, entries, every, key, rng)

    def from_db() -> LogVerifier:
        with Session(engine) as session:
            claimed = auditlog.head(session).size
            return verify_log(keys, _stored_entries(session), _stored_checkpoints(session), claimed)

    def read_db() -> list[Stored]:
        with Session(engine) as session:
            return list(_stored_entries(session))

    db_s, verifier = _timed(from_db)
    read_s, loaded = _timed(read_db)
    with Session(engine) as session:
        signed = list(_stored_checkpoints(session))
    memory_s, _ = _timed(lambda: verify_log(keys, loaded, signed, entries))
    bodies = [body for _, body, _ in loaded]
    sha = hashlib.sha256
    sha_per_s = rate(lambda: [sha(b).digest() for b in bodies], entries)
    out = {
        "entries": verifier.size,
        "checkpoints": verifier.checkpoints,
        "entry_bytes_mean": sum(map(len, bodies)) / entries,
        "build_entries_per_s": entries / built,
        "sha256_per_s": sha_per_s,
        "verify_from_db_per_s": entries / db_s,
        "read_db_per_s": entries / read_s,
        "verifier_in_memory_per_s": entries / memory_s,
    }
    for name in ("verify_from_db", "read_db", "verifier_in_memory"):
        out[f"{name}_ratio_to_sha256"] = out[f"{name}_per_s"] / sha_per_s
    return out


# --- 3. proofs ------------------------------------------------------------------------


def _in_session(engine: Engine, work: Callable[[Session], T]) -> tuple[float, T]:
    """Seconds ``work`` takes in a fresh session (connection checkout included)."""
    with Session(engine) as session:
        return _timed(lambda: work(session))


def proofs(engine: Engine, samples: int, rng: random.Random) -> dict[str, float]:
    """Median seconds to serve and to verify one proof at the log's size."""
    with Session(engine) as session:
        size = auditlog.head(session).size
    times: dict[str, list[float]] = {
        k: [] for k in ("select", "inclusion", "consistency", "verify_inc", "verify_cons")
    }
    lengths: dict[str, list[int]] = {"inclusion": [], "consistency": []}
    for _ in range(samples):
        index = rng.randrange(size)
        at = rng.randint(index + 1, size)
        old = rng.randint(1, size - 1)
        new = rng.randint(old + 1, size)
        point = select(AuditEntry.leaf_hash).where(AuditEntry.seq == index)  # type: ignore[arg-type]
        seconds, leaf = _in_session(engine, lambda s, q=point: s.execute(q).scalar_one())
        times["select"].append(seconds)
        seconds, path = _in_session(
            engine, lambda s, i=index, n=at: auditlog.inclusion_proof(s, i, n)
        )
        times["inclusion"].append(seconds)
        seconds, link = _in_session(
            engine, lambda s, m=old, n=new: auditlog.consistency_proof(s, m, n)
        )
        times["consistency"].append(seconds)
        with Session(engine) as session:  # roots as a verified checkpoint would give them
            root, old_root, new_root = (auditlog.root_at(session, n) for n in (at, old, new))
        seconds, _ = _timed(partial(verify_inclusion, bytes(leaf), index, at, path, root))
        times["verify_inc"].append(seconds)
        seconds, _ = _timed(partial(verify_consistency, old, new, old_root, new_root, link))
        times["verify_cons"].append(seconds)
        lengths["inclusion"].append(len(path))
        lengths["consistency"].append(len(link))
    us = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    return {
        "size": size,
        "samples": samples,
        "point_select_median_us": us["select"],
        "inclusion_serve_median_us": us["inclusion"],
        "consistency_serve_median_us": us["consistency"],
        "inclusion_verify_median_us": us["verify_inc"],
        "consistency_verify_median_us": us["verify_cons"],
        "inclusion_ratio_to_select": us["inclusion"] / us["select"],
        "consistency_ratio_to_select": us["consistency"] / us["select"],
        "inclusion_hashes_mean": statistics.mean(lengths["inclusion"]),
        "consistency_hashes_mean": statistics.mean(lengths["consistency"]),
    }


# --- the run --------------------------------------------------------------------------


def measure(postgres: str | None, args: argparse.Namespace) -> dict[str, Any]:
    rng, key = random.Random(7), Ed25519PrivateKey.generate()
    name = "postgresql" if postgres else "sqlite"
    with tempfile.TemporaryDirectory(prefix="ch-bench-audit-") as tmp:
        with database(postgres, Path(tmp)) as engine:
            print(f"{name}: appends ...", file=sys.stderr)
            appended = appends(engine, args.appends, rng)
            alone = appended[f"batch_{CONCURRENT_BATCH}"]["appends_per_s"]
            concurrent = appends_while_proving(engine, args.appends, rng, alone=alone)
        with database(postgres, Path(tmp)) as engine:
            print(f"{name}: building and verifying {args.entries:,} entries ...", file=sys.stderr)
            verified = verify(engine, args.entries, args.checkpoint_every, key, rng)
            print(f"{name}: proofs at {args.entries:,} entries ...", file=sys.stderr)
            proved = proofs(engine, args.samples, rng)
    return {"appends": appended, "appends_while_proving": concurrent, "verify": verified,
            "proofs": proved}  # fmt: skip


def _table(name: str, r: dict[str, Any]) -> Table:
    table = Table(title=f"audit log on {name}", title_justify="left")
    table.add_column("")
    for column in ("figure", "yardstick (same run)", "ratio", f"x {TARGET_APPENDS_PER_S:,}/s"):
        table.add_column(column, justify="right")
    for a in r["appends"].values():
        table.add_row(
            f"append, {a['entries_per_transaction']}/transaction",
            f"{a['appends_per_s']:,.0f}/s",
            f"bare INSERT {a['bare_insert_per_s']:,.0f}/s",
            f"{a['ratio_to_bare_insert']:.3f}",
            f"{a['ratio_to_target']:.2f}",
        )
    c = r["appends_while_proving"]
    table.add_row(
        f"append, {c['entries_per_transaction']}/transaction, proofs served",
        f"{c['appends_per_s']:,.0f}/s",
        f"alone {c['appends_per_s_alone']:,.0f}/s",
        f"{c['ratio_to_alone']:.3f}",
        f"{c['ratio_to_target']:.2f}",
    )
    table.add_row("  proofs served meanwhile", f"{c['proofs_served_per_s']:,.0f}/s")
    v = r["verify"]
    table.add_section()
    sha = f"SHA-256 {v['sha256_per_s']:,.0f}/s"
    for label, key in (
        (f"audit verify from the DB, {v['entries']:,} entries", "verify_from_db"),
        ("  the DB read alone (iter_entries)", "read_db"),
        ("  LogVerifier alone (in memory)", "verifier_in_memory"),
    ):
        ratio = f"{v[key + '_ratio_to_sha256']:.4f}"
        table.add_row(label, f"{v[key + '_per_s']:,.0f}/s", sha, ratio)
    build = f"{v['build_entries_per_s']:,.0f}/s"
    table.add_row(f"  (the log built, {BUILD_BATCH:,}/transaction)", build)
    p = r["proofs"]
    table.add_section()
    select_us = f"PK SELECT {p['point_select_median_us']:,.0f} us"
    for kind in ("inclusion", "consistency"):
        table.add_row(
            f"{kind} proof served at {p['size']:,} (median)",
            f"{p[kind + '_serve_median_us']:,.0f} us",
            select_us,
            f"{p[kind + '_ratio_to_select']:.2f}",
        )
        hashes = f"{p[kind + '_hashes_mean']:.1f} hashes"
        table.add_row(f"  verified ({hashes})", f"{p[kind + '_verify_median_us']:,.1f} us")
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, help="log size to verify and prove (1,000,000)")
    parser.add_argument("--checkpoint-every", type=int, default=10_000, help="(10,000)")
    parser.add_argument("--appends", type=int, help="entries per append measurement (3,000)")
    parser.add_argument("--samples", type=int, default=200, help="proofs timed (200)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 entries")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--postgres", help="also run on PostgreSQL at this server URL")
    args = parser.parse_args(argv)
    args.entries = args.entries or (20_000 if args.quick else 1_000_000)
    args.appends = args.appends or (1_000 if args.quick else 3_000)
    if args.entries < 2 or args.checkpoint_every < 1 or args.appends < 1 or args.samples < 1:
        parser.error("--entries must be >= 2, the other sizes >= 1")

    print(
        f"audit benchmark: {args.entries:,} entries, checkpoint every "
        f"{args.checkpoint_every:,}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        file=sys.stderr,
    )
    out: dict[str, Any] = {
        "entries": args.entries,
        "checkpoint_every": args.checkpoint_every,
        "target_appends_per_s": TARGET_APPENDS_PER_S,
        "public_logs_writes_per_s": PUBLIC_LOGS_WRITES_PER_S,
        "sqlite": measure(None, args),
    }
    if args.postgres:
        out["postgresql"] = measure(args.postgres, args)
    console = Console(width=None if sys.stdout.isatty() else 120)
    for name in ("sqlite", "postgresql"):
        if name in out:
            console.print(_table(name, out[name]))
    low, high = PUBLIC_LOGS_WRITES_PER_S
    console.print(
        f"target: >= {TARGET_APPENDS_PER_S:,} appends/s (the issue); public transparency "
        f"logs quote {low:,}-{high:,} writes/s"
    )
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
