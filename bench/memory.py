"""Memory benchmark: node RSS under load, and with a million stored packets.

1. Peak RSS (``VmHWM``) of every node process during ``bench federation`` — taken
   from that part's results when the suite ran it, else from a run made here.
2. One node (mission, SQLite) started on a database that already holds N stored
   packets, made before it starts with bulk inserts of realistic rows: real UCDP
   events issued and signed by mission (the full SD-JWT and its claims), and one in
   50 a real analysis result received from dpa or unodc (findings of their
   analyzers run offline on the same events), each row with fresh ids; one view per
   own packet still owed to dpa (backed off, as for a peer long gone) and one audit
   entry per packet, through the real append so the log verifies. Then its APIs are
   exercised: the catch-up feed (``GET /v1/packets``, pulled as dpa, ``--feed-pages``
   pages of 5,000), the audit export (``clearinghouse audit export --node``: every
   entry and checkpoint), the common situation (``/v1/situation``) and the stats.
   RSS is sampled throughout. Done at 0 packets (the yardstick: a fresh node), at
   N / 10 and at N (1,000,000): memory that does not grow with the log and the
   packets shows as a ratio near 1 between the last two.

    python -m bench memory [--records N] [--feed-pages P] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench._local import CONFLICT, DEMO_FOUR, RESULT, Probe, federation_config, running
from bench._local import ucdp_events as events
from bench._report import Row, figures, log, note, write_json
from bench.audit import view_queued_acts
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.registry import load
from clearinghouse.node.audit_tool import open_node_log, write_bundle
from clearinghouse.node.clock import SystemClock
from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.storage import auditlog
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import OutboxItem, StoredPacket
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.ids import uuid7
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import Manifest, parse_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view, verify_view
from clearinghouse.protocol.results import result_record

__all__ = ["main", "measure_node"]

NODE, PULLER = "mission", "dpa"
RESULT_EVERY = 50  # one stored packet in 50 is a result received from a peer
CHUNK = 10_000  # rows per transaction when seeding
FEED_LIMIT = 5_000


def templates(
    root: Path, manifest: Manifest, count: int, now: datetime
) -> tuple[list[dict[str, Any]], ...]:
    """Rows to copy: ``count`` real events issued by mission (with dpa's view of each),
    and the real results dpa's and unodc's analyzers find in them, as mission holds them."""
    key = read_private_key(root / "keys" / f"{NODE}.key.pem")
    pseudonym_key = read_pseudonym_key(root / "keys" / "pseudonym.key")
    every = events(None)
    records = [r for _, r in every[:: max(1, len(every) // count)]][:count]
    own: list[dict[str, Any]] = []
    kid = public_jwk(key)["kid"]
    for record in records:
        packet = issue_packet(record, schema=CONFLICT, issuer=NODE, key=key, kid=kid, now=now,
                              pseudonym_key=pseudonym_key.key,
                              pseudonym_epoch=pseudonym_key.epoch)  # fmt: skip
        own.append({"issuer": NODE, "kid": kid, "schema_id": CONFLICT,
                    "hc": packet.hc, "hcr": packet.hcr, "origin": "local", "raw": packet.sd_jwt,
                    "claims": dict(packet.claims), "ref": packet.ref,
                    "view": recipient_view(packet.sd_jwt, manifest, PULLER)})  # fmt: skip
    config, _ = federation_config(DEMO_FOUR)
    received: list[dict[str, Any]] = []
    for peer, analyzer_id in (("dpa", "dpa.spoiler-risk"), ("unodc", "unodc.trafficking-network")):
        peer_key = read_private_key(root / "keys" / f"{peer}.key.pem")
        run = OfflineRun.start(load(analyzer_id), config, participant=peer, issuer=NODE)
        declared = manifest.participant(peer).analyzer
        assert declared is not None  # federation_config declares one for each
        for template, findings in zip(own, run.run(CONFLICT, records), strict=True):
            if not findings:
                continue
            result = result_record(
                analyzer=declared, input_jti=template["ref"].jti,
                input_digest=template["ref"].digest, input_schema=CONFLICT, input_issuer=NODE,
                findings=[f.as_json() for f in findings], explanation=f"{len(findings)} found",
            )  # fmt: skip
            packet = issue_packet(result, schema=RESULT, issuer=peer, key=peer_key,
                                  kid=public_jwk(peer_key)["kid"], now=now)  # fmt: skip
            view = recipient_view(packet.sd_jwt, manifest, NODE)
            verified = verify_view(view, manifest, recipient=NODE, now=now)
            received.append({"issuer": peer, "kid": verified.kid, "schema_id": RESULT,
                             "hc": verified.hc, "hcr": verified.hcr, "origin": peer,
                             "raw": view, "claims": dict(verified.claims)})  # fmt: skip
    if not received:
        raise RuntimeError("the analyzers found nothing in the template events")
    return own, received


def seed(
    url: str, own: list[dict[str, Any]], received: list[dict[str, Any]], count: int, now: datetime
) -> float:
    """Write ``count`` packets (and their outbox rows and audit entries); return seconds."""
    engine = make_engine(url)
    started, rng = time.perf_counter(), random.Random(8)
    try:
        upgrade(url, engine=engine)
        for first in range(0, count, CHUNK):
            packets, outbox = [], []
            for i in range(first, min(first + CHUNK, count)):
                jti = uuid7(now, rng.randbytes)
                digest = hashlib.sha256(jti.encode()).hexdigest()
                is_result = i % RESULT_EVERY == RESULT_EVERY - 1
                t = received[i % len(received)] if is_result else own[i % len(own)]
                packets.append({"id": i + 1, "jti": jti, "digest": digest, "issued_at": now,
                                "stored_at": now, **{k: v for k, v in t.items()
                                                     if k not in ("ref", "view")}})  # fmt: skip
                if not is_result:
                    outbox.append({"recipient": PULLER, "packet_id": i + 1, "jti": jti,
                                   "digest": digest, "view": t["view"], "state": "pending",
                                   "attempts": 8, "created_at": now,
                                   "next_attempt_at": now + timedelta(days=1)})  # fmt: skip
            with transaction(engine) as session:
                session.execute(insert(StoredPacket), packets)
                session.execute(insert(OutboxItem), outbox)
                auditlog.append(session, view_queued_acts(len(packets), rng), now=now)
    finally:
        engine.dispose()
    return time.perf_counter() - started


class Sampler:
    """VmRSS of one process every 50 ms, the peak kept per phase."""

    def __init__(self, pid: int) -> None:
        self.pid, self.phase = pid, "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = Probe.status_kib(self.pid, "VmRSS") / 1024
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            self._stop.wait(0.05)

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


async def pull_feed(federation: LocalFederation, pages: int) -> int:
    """Pull up to ``pages`` catch-up pages from the node as its peer would; return views."""
    key = read_private_key(federation.root / "keys" / f"{PULLER}.key.pem")
    total, since = 0, 0
    async with httpx.AsyncClient(timeout=600) as http:
        client = PeerClient(http, key=key, kid=public_jwk(key)["kid"], clock=SystemClock())
        for _ in range(pages):
            page = await client.get_views(federation.nodes[NODE].url, since=since, limit=FEED_LIMIT)
            if not page.items:
                break
            total, since = total + len(page.items), page.next_cursor
    return total


def _exercises(
    federation: LocalFederation, pages: int, folder: Path
) -> dict[str, Callable[[], int]]:
    node, manifest = federation.nodes[NODE], parse_manifest(federation.manifest_path.read_bytes())

    def get(path: str) -> int:
        with node.client("auditor", timeout=600) as client:
            response = client.get(path)
            response.raise_for_status()
            return len(response.content)

    def export() -> int:
        with open_node_log(
            node.url, node.tokens["auditor"], manifest=manifest, participant=NODE
        ) as lg:
            return write_bundle(lg, folder / "export.jsonl", now=datetime.now(UTC)).entries

    return {
        "stats": lambda: get("/v1/local/stats"),
        "catch-up feed": lambda: asyncio.run(pull_feed(federation, pages)),
        "audit export": export,
        "situation": lambda: get("/v1/situation"),
    }


def measure_node(count: int, pages: int, template_count: int) -> dict[str, Any]:
    """Seed mission with ``count`` packets, start it, exercise it; its RSS throughout."""
    config, participants = federation_config(DEMO_FOUR)
    with running(participants, config=config, start=()) as federation:
        manifest = parse_manifest(federation.manifest_path.read_bytes())
        now = datetime.now(UTC).replace(microsecond=0)  # the keys are valid from the build on
        own, received = templates(federation.root, manifest, template_count, now)
        log(f"memory: seeding {count:,} packets at {NODE} ...")
        seed_s = seed(federation.nodes[NODE].database_url, own, received, count, now)
        db = federation.root / f"{NODE}.db"
        db_mib = sum(p.stat().st_size for p in db.parent.glob(f"{NODE}.db*")) / 2**20
        federation.start(NODE)
        federation.wait_ready(timeout=600, participant=NODE)
        pid = Probe(federation).pids()[NODE]
        time.sleep(2)  # the first checkpoint, the workers settling in
        ready = Probe.status_kib(pid, "VmRSS") / 1024
        done: dict[str, dict[str, float]] = {}
        with tempfile.TemporaryDirectory() as tmp, Sampler(pid).running() as sampler:
            for name, work in _exercises(federation, pages, Path(tmp)).items():
                sampler.phase, started = name, time.perf_counter()
                items = work()
                done[name] = {"items": items, "seconds": time.perf_counter() - started}
            time.sleep(0.1)
        peak = Probe.status_kib(pid, "VmHWM") / 1024
    for name, figures_ in done.items():
        figures_["rss_peak_mib"] = sampler.peaks.get(name, 0.0)
    return {"packets": count, "results": count // RESULT_EVERY, "seed_s": seed_s,
            "db_mib": db_mib, "rss_ready_mib": ready, "rss_peak_mib": peak,
            "exercises": done}  # fmt: skip


def main(
    argv: list[str] | None = None, *, federation: dict[str, Any] | None = None
) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, help="packets in the large node (1,000,000)")
    parser.add_argument("--feed-pages", type=int, help="catch-up pages pulled (20; 4 quick)")
    parser.add_argument("--templates", type=int, default=400, help="real events to copy (400)")
    parser.add_argument("--quick", action="store_true", help="100,000 packets, 4 feed pages")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    large = args.records or (100_000 if args.quick else 1_000_000)
    pages = args.feed_pages or (4 if args.quick else 20)

    if federation is None:
        from bench import federation as part

        log("memory: running the federation part for its peak RSS ...")
        federation = part.main(["--variants", "full"] + (["--quick"] if args.quick else []))
    fed = federation[federation.get("ratio_of", "sqlite")]
    sizes = {"fresh": 0, "small": max(1, large // 10), "large": large}
    out: dict[str, Any] = {
        "federation_peak_rss_mib": fed["peak_rss_mib"],
        "federation_records": fed["records"],
        "nodes": {k: measure_node(n, pages, args.templates) for k, n in sizes.items()},
    }
    nodes = out["nodes"]
    out["large_to_small_peak"] = nodes["large"]["rss_peak_mib"] / nodes["small"]["rss_peak_mib"]
    out["large_to_fresh_peak"] = nodes["large"]["rss_peak_mib"] / nodes["fresh"]["rss_peak_mib"]

    fresh = nodes["fresh"]["rss_peak_mib"]
    yard = f"fresh node {fresh:,.0f} MiB"
    rows: list[Row | None] = [
        (f"{p}: peak RSS during bench federation", f"{mib:,.0f} MiB", yard, f"{mib / fresh:.2f}")
        for p, mib in fed["peak_rss_mib"].items()
    ]
    for key in ("small", "large"):
        n = nodes[key]
        rows += [None, (f"{NODE} holding {n['packets']:,} packets: peak RSS",
                        f"{n['rss_peak_mib']:,.0f} MiB", yard, f"{n['rss_peak_mib'] / fresh:.2f}"),
                 ("  RSS when ready", f"{n['rss_ready_mib']:,.0f} MiB",
                  f"fresh {nodes['fresh']['rss_ready_mib']:,.0f} MiB",
                  f"{n['rss_ready_mib'] / nodes['fresh']['rss_ready_mib']:.2f}")]  # fmt: skip
        rows += [(f"  RSS during {name}, max ({e['items']:,} in {e['seconds']:.1f} s)",
                  f"{e['rss_peak_mib']:,.0f} MiB", yard, f"{e['rss_peak_mib'] / fresh:.2f}")
                 for name, e in n["exercises"].items()]  # fmt: skip
    small, big = nodes["small"], nodes["large"]
    rows += [None, (f"peak RSS at {big['packets']:,} packets", f"{big['rss_peak_mib']:,.0f} MiB",
                    f"at {small['packets']:,}: {small['rss_peak_mib']:,.0f} MiB",
                    f"{out['large_to_small_peak']:.2f}")]  # fmt: skip
    figures("memory (RSS of node processes)", rows)
    note(
        f"database files: {small['db_mib']:,.0f} MiB at {small['packets']:,} packets, "
        f"{big['db_mib']:,.0f} MiB at {big['packets']:,} (seeded in {big['seed_s']:.0f} s); "
        f"one packet in {RESULT_EVERY} a result; catch-up feed: {pages} pages of {FEED_LIMIT:,}; "
        f"bench federation: {out['federation_records']:,} records"
    )
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
