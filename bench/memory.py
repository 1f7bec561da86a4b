"""Memory benchmark: node RSS under load, and with a million stored packets.

1. Peak RSS (``VmHWM``) of every node process during ``bench federation`` — taken
   from that part's results when the suite ran it, else from a run made here.
2. One node (mission, SQLite) started on a database that already holds N stored
   packets, written before it starts in bulk (:mod:`bench._seed`): real UCDP events
   issued and signed by mission (the full SD-JWT and its claims), and one in 50 a real
   analysis result (mission's own analyzer's, or received from dpa or unodc: findings
   of their analyzers run offline on the same events), each row with fresh ids, with
   the common situation's index the node keeps of them; one view per own packet still
   owed to dpa (backed off, as for a peer long gone) and one audit entry per packet,
   through the real append so the log verifies. Then its APIs are exercised, one
   request after another: the stats; the common situation as JSON (``/v1/situation``,
   every page, following ``page.next``); the situation page and an area's page
   (``/ui/situation``, ``/ui/areas``, as an analyst signed in); the situation's exports
   (CSV, GeoJSON, XLSX, each read to the end); the catch-up feed (``GET /v1/packets``,
   pulled as dpa, ``--feed-pages`` pages of 5,000); and the audit export
   (``clearinghouse audit export --node``: every entry and checkpoint). Done at 0 packets
   (the yardstick: a fresh node), at N / 10 and at N (1,000,000): memory that does not
   grow with the log and the packets shows as a ratio near 1 between the last two.

Each request's figure is the node's peak RSS while serving it: ``VmHWM``, reset to
the current RSS before the request (Linux ``clear_refs``), so the peak is that
request's own; where the reset is not allowed, the highest ``VmRSS`` sampled every
50 ms instead. Times are wall-clock seconds, side by side, never a threshold.

    python -m bench memory [--records N] [--feed-pages P] [--templates E] [--quick]
                           [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from bench._local import DEMO_FOUR, Probe, federation_config, running
from bench._report import Row, console, figures, log, note, write_json
from bench._seed import NODE, PULLER, RESULT_EVERY, Sample, analyses, seed, templates
from clearinghouse.node.audit_tool import open_node_log, write_bundle
from clearinghouse.node.auth.sessions import COOKIE
from clearinghouse.node.clock import SystemClock
from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.transport.peer_client import PeerClient
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import parse_manifest

__all__ = ["main", "measure_node"]

FEED_LIMIT = 5_000
#: The area page asked for: the governorate with the most events in the UCDP file.
AREA = {"country": "Syria", "admin1": "Aleppo Governorate"}
#: One request, made whole: how many of what it read (count, unit).
Work = Callable[[], tuple[int, str]]


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


def reset_peak(pid: int) -> bool:
    """Set the process's ``VmHWM`` back to its current RSS (``clear_refs``: 5); False
    where the kernel or the user's rights do not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


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


def _exercises(federation: LocalFederation, pages: int, folder: Path) -> dict[str, Work]:
    node, manifest = federation.nodes[NODE], parse_manifest(federation.manifest_path.read_bytes())

    session: dict[str, str] = {}

    def page_cookie() -> dict[str, str]:
        """A session of the analyst on the pages, as the sign-in form starts it."""
        if not session:
            token, origin = node.tokens["analyst"], {"origin": node.url}
            with httpx.Client(base_url=node.url, timeout=60) as browser:
                answer = browser.post("/ui/login", data={"token": token}, headers=origin)
            if answer.status_code != 303:
                raise RuntimeError(f"signing in to {node.url}: HTTP {answer.status_code}")
            morsel = SimpleCookie(answer.headers["set-cookie"])[COOKIE]
            session["cookie"] = f"{COOKIE}={morsel.value}"
        return session

    def read(path: str, *, role: str = "auditor", **params: str) -> tuple[int, str]:
        """The whole body of one GET, streamed; its size in bytes."""
        with node.client(role, timeout=1800) as client:
            headers = page_cookie() if role == "analyst" else {}
            with client.stream("GET", path, params=params, headers=headers) as response:
                response.raise_for_status()
                return sum(len(chunk) for chunk in response.iter_bytes()), "bytes"

    def situation() -> tuple[int, str]:
        """Every page of ``/v1/situation``; the findings on them."""
        found, pages_read, offset = 0, 0, 0
        with node.client("analyst", timeout=1800) as client:
            while offset is not None:
                response = client.get("/v1/situation", params={"offset": offset})
                response.raise_for_status()
                answer = response.json()
                found += sum(len(area["findings"]) for area in answer["areas"])
                pages_read, offset = pages_read + 1, answer["page"]["next"]
        return found, f"findings, {pages_read} page(s)"

    def export() -> tuple[int, str]:
        with open_node_log(
            node.url, node.tokens["auditor"], manifest=manifest, participant=NODE
        ) as lg:
            bundle = write_bundle(lg, folder / "export.jsonl", now=datetime.now(UTC))
        return bundle.entries, "entries"

    return {  # the situation's first: the feed's pages stay in the process's heap after it
        "stats": lambda: read("/v1/local/stats"),
        "situation JSON, all pages": situation,
        "situation page": lambda: read("/ui/situation", role="analyst"),
        "area page (Aleppo)": lambda: read("/ui/areas", role="analyst", **AREA),
        "situation CSV": lambda: read("/v1/situation", role="analyst", format="csv"),
        "situation GeoJSON": lambda: read("/v1/situation", role="analyst", format="geojson"),
        "situation XLSX": lambda: read("/v1/situation", role="analyst", format="xlsx"),
        "catch-up feed": lambda: (asyncio.run(pull_feed(federation, pages)), "views"),
        "audit export": export,
    }


def _exercise(pid: int, works: dict[str, Work]) -> dict[str, dict[str, Any]]:
    """Each request in turn, with the node's peak RSS while serving it and its time."""
    done: dict[str, dict[str, Any]] = {}
    with Sampler(pid).running() as sampler:
        for name, work in works.items():
            before = Probe.status_kib(pid, "VmRSS") / 1024
            exact = reset_peak(pid)
            sampler.phase, started = name, time.perf_counter()
            items, unit = work()
            seconds = time.perf_counter() - started
            time.sleep(0.1)  # the sampler's last look
            peak = Probe.status_kib(pid, "VmHWM") / 1024 if exact else sampler.peaks[name]
            done[name] = {"items": items, "unit": unit, "seconds": seconds, "exact_peak": exact,
                          "rss_before_mib": before, "rss_peak_mib": peak}  # fmt: skip
            log(f"memory:   {name}: {items:,} {unit} in {seconds:.1f} s, {peak:,.0f} MiB "
                f"(before: {before:,.0f} MiB)")  # fmt: skip
    return done


def measure_node(count: int, pages: int, sample: Sample) -> dict[str, Any]:
    """Seed mission with ``count`` packets, start it, exercise it; its RSS throughout."""
    config, participants = federation_config(DEMO_FOUR)
    with running(participants, config=config, start=()) as federation:
        manifest = parse_manifest(federation.manifest_path.read_bytes())
        now = datetime.now(UTC).replace(microsecond=0)  # the keys are valid from the build on
        t = templates(federation.root, manifest, sample, now)
        log(f"memory: seeding {count:,} packets at {NODE} ...")
        seed_s = seed(federation.nodes[NODE].database_url, t, count, now)
        db = federation.root / f"{NODE}.db"
        db_mib = sum(p.stat().st_size for p in db.parent.glob(f"{NODE}.db*")) / 2**20
        log(f"memory: seeded in {seed_s:.0f} s ({db_mib:,.0f} MiB); starting {NODE} ...")
        federation.start(NODE)
        federation.wait_ready(timeout=600, participant=NODE)
        pid = Probe(federation).pids()[NODE]
        time.sleep(2)  # the first checkpoint, the workers settling in
        ready = Probe.status_kib(pid, "VmRSS") / 1024
        started_peak = Probe.status_kib(pid, "VmHWM") / 1024
        with tempfile.TemporaryDirectory() as tmp:
            done = _exercise(pid, _exercises(federation, pages, Path(tmp)))
    peak = max([started_peak, *(e["rss_peak_mib"] for e in done.values())])
    return {"packets": count, "results": count // RESULT_EVERY, "seed_s": seed_s,
            "db_mib": db_mib, "rss_ready_mib": ready, "rss_peak_mib": peak,
            "exercises": done}  # fmt: skip


def _request_table(nodes: dict[str, dict[str, Any]]) -> None:
    """Per request: peak RSS and time at each size, and the ratios of the two largest."""
    small, large = nodes["small"], nodes["large"]
    table = Table(
        title=f"memory per request: the node's peak RSS while serving it (its rise over the RSS "
        f"before it), wall time, what it read; ratios of {large['packets']:,} packets to "
        f"{small['packets']:,}",
        title_justify="left",
    )
    table.add_column("request")
    for n in nodes.values():
        table.add_column(f"{n['packets']:,} packets", justify="right")
    table.add_column("RSS ratio", justify="right")
    table.add_column("time ratio", justify="right")
    for name in large["exercises"]:
        cells = []
        for n in nodes.values():
            e = n["exercises"][name]
            grew = max(0.0, e["rss_peak_mib"] - e["rss_before_mib"])
            cells.append(f"{e['rss_peak_mib']:,.0f} MiB (+{grew:,.0f})\n{e['seconds']:,.1f} s\n"
                         f"{e['items']:,} {e['unit']}")  # fmt: skip
        a, b = small["exercises"][name], large["exercises"][name]
        table.add_row(name, *cells, f"{b['rss_peak_mib'] / a['rss_peak_mib']:.2f}",
                      f"{b['seconds'] / max(a['seconds'], 1e-3):.1f}")  # fmt: skip
    console().print(table)


def _summary(out: dict[str, Any], pages: int) -> None:
    nodes, fed = out["nodes"], out["federation_peak_rss_mib"]
    fresh = nodes["fresh"]["rss_peak_mib"]
    yard = f"fresh node {fresh:,.0f} MiB"
    rows: list[Row | None] = [
        (f"{p}: peak RSS during bench federation", f"{mib:,.0f} MiB", yard, f"{mib / fresh:.2f}")
        for p, mib in fed.items()
    ]
    for key in ("small", "large"):
        n = nodes[key]
        rows += [None, (f"{NODE} holding {n['packets']:,} packets: peak RSS",
                        f"{n['rss_peak_mib']:,.0f} MiB", yard, f"{n['rss_peak_mib'] / fresh:.2f}"),
                 ("  RSS when ready", f"{n['rss_ready_mib']:,.0f} MiB",
                  f"fresh {nodes['fresh']['rss_ready_mib']:,.0f} MiB",
                  f"{n['rss_ready_mib'] / nodes['fresh']['rss_ready_mib']:.2f}")]  # fmt: skip
    small, big = nodes["small"], nodes["large"]
    rows += [None, (f"peak RSS at {big['packets']:,} packets", f"{big['rss_peak_mib']:,.0f} MiB",
                    f"at {small['packets']:,}: {small['rss_peak_mib']:,.0f} MiB",
                    f"{out['large_to_small_peak']:.2f}")]  # fmt: skip
    figures("memory (RSS of node processes)", rows)
    _request_table(nodes)
    exact = all(e["exact_peak"] for n in nodes.values() for e in n["exercises"].values())
    note(
        f"database files: {small['db_mib']:,.0f} MiB at {small['packets']:,} packets, "
        f"{big['db_mib']:,.0f} MiB at {big['packets']:,} (seeded in {big['seed_s']:.0f} s); "
        f"one packet in {RESULT_EVERY} a result, copied from {out['template_results']:,} real "
        f"results on {out['template_events']:,} real events; catch-up feed: {pages} pages of "
        f"{FEED_LIMIT:,}; bench federation: {out['federation_records']:,} records; peaks "
        + ("VmHWM per request" if exact else "sampled VmRSS (VmHWM could not be reset)")
    )


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
    parser.add_argument("--templates", type=int, default=2000, help="real events to copy (2000)")
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
    log(f"memory: analysing {args.templates:,} real events offline ...")
    sample = analyses(args.templates)
    sizes = {"fresh": 0, "small": max(1, large // 10), "large": large}
    out: dict[str, Any] = {
        "federation_peak_rss_mib": fed["peak_rss_mib"],
        "federation_records": fed["records"],
        "template_events": len(sample.records),
        "template_results": sample.results,
        "nodes": {k: measure_node(n, pages, sample) for k, n in sizes.items()},
    }
    nodes = out["nodes"]
    out["large_to_small_peak"] = nodes["large"]["rss_peak_mib"] / nodes["small"]["rss_peak_mib"]
    out["large_to_fresh_peak"] = nodes["large"]["rss_peak_mib"] / nodes["fresh"]["rss_peak_mib"]
    _summary(out, pages)
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
