"""Scale benchmark: end-to-end throughput and cost per record with 4, 8 and 16 participants.

Generated federations (:func:`bench._local.federation_config`): mission plus bodies
that each take unodc's, dpa's or undp's policy and analyzer in turn, so that with
n participants every record goes out as n - 1 views, is analysed by every
participant whose analyzer takes it, and every result goes to everyone. Each size
gets the same real UCDP GED events in bulk at mission and is timed until settled,
as in ``bench federation``. Per size: records/s, wall and node-CPU milliseconds
per record, views and results per record; beside the yardstick, the crypto cost per
record (the run's Ed25519 work at this core's sign and verify rates, measured in the
same run). The observed exponent k in cost ~ n^k is the least-squares slope of
log(cost) over log(n).

All nodes share this machine's cores, so wall time per record grows with n even
where each node's own work does not; CPU per record is the total work.

    python -m bench scale [--sizes 4,8,16] [--records N] [--quick] [--postgres URL]
                          [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench._local import Probe, federation_config, ingest, running, ucdp_events, wait_until
from bench._report import Row, figures, log, loglog_slope, note, write_json
from bench.crypto import MESSAGE_BYTES, yardstick
from bench.federation import crypto_bound
from clearinghouse.node.localfed import COLUMNS

__all__ = ["main", "measure"]


def measure(n: int, items: list[tuple[int, Any]], *, postgres: str | None,
            stick: dict[str, float], idle_s: float) -> dict[str, Any]:  # fmt: skip
    config, participants = federation_config(n)
    log(f"scale: {n} participants, {len(items):,} records ...")
    booting = time.monotonic()
    with running(participants, config=config, postgres=postgres) as federation:
        boot_s = time.monotonic() - booting
        probe = Probe(federation)
        # what the nodes burn doing nothing: checkpoints, witnessing every peer, catch-up
        idle_before = sum(probe.cpu().values())
        time.sleep(idle_s)
        idle_cpu_per_s = (sum(probe.cpu().values()) - idle_before) / idle_s
        cpu_before = sum(probe.cpu().values())
        started = time.monotonic()
        records = ingest(federation, items)
        done = wait_until(federation, timeout=7200)
        elapsed = done - started
        cpu = sum(probe.cpu().values()) - cpu_before
        stats = federation.all_stats()
        peak = max(probe.peak_rss_mib().values())
    counts = {p: {c: s[c] for c in COLUMNS} for p, s in stats.items()}
    bound = crypto_bound({"nodes": counts, "records": records}, stick)
    results = sum(c["results_issued"] for c in counts.values())
    return {
        "participants": n,
        "records": records,
        "elapsed_s": elapsed,
        "records_per_s": records / elapsed,
        "wall_ms_per_record": 1000 * elapsed / records,
        "cpu_ms_per_record": 1000 * cpu / records,
        "idle_cpu_per_s": idle_cpu_per_s,
        "cpu_ms_per_record_net_of_idle": 1000 * max(cpu - idle_cpu_per_s * elapsed, 0.0) / records,
        "boot_s": boot_s,
        "crypto_ms_per_record": 1000 / bound["records_per_s"],
        "views_per_record": sum(c["sent"] for c in counts.values()) / records,
        "results_per_record": results / records,
        "crypto": {"signs": bound["signs"], "verifies": bound["verifies"]},
        "max_peak_rss_mib": peak,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="4,8,16", help="participant counts (4,8,16)")
    parser.add_argument("--records", type=int, help="records per size (3,000)")
    parser.add_argument("--quick", action="store_true", help="150 records per size")
    parser.add_argument("--idle", type=float, help="seconds of idle CPU measured (5; 3 quick)")
    parser.add_argument("--postgres", help="run the nodes on PostgreSQL at this server URL")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes: comma-separated integers")
    if len(sizes) < 2 or sizes[0] < 2:
        parser.error("--sizes: at least two sizes, each >= 2")
    count = args.records or (150 if args.quick else 3000)
    idle_s = args.idle or (3.0 if args.quick else 5.0)

    stick = yardstick(MESSAGE_BYTES)
    items = ucdp_events(count)
    runs = [measure(n, items, postgres=args.postgres, stick=stick, idle_s=idle_s) for n in sizes]
    ns = [r["participants"] for r in runs]
    exponents = {
        key: loglog_slope(ns, [r[key] for r in runs])
        for key in ("wall_ms_per_record", "cpu_ms_per_record", "cpu_ms_per_record_net_of_idle",
                    "crypto_ms_per_record", "views_per_record")
        if all(r[key] > 0 for r in runs)
    }  # fmt: skip
    out: dict[str, Any] = {
        "sizes": sizes,
        "records": count,
        "database": "postgresql" if args.postgres else "sqlite",
        "yardstick": stick,
        "runs": runs,
        "exponents": exponents,
    }

    rows: list[Row | None] = []
    base = runs[0]
    for r in runs:
        rows += [
            None,
            (f"{r['participants']} participants: records/s", f"{r['records_per_s']:,.1f}/s",
             f"at {base['participants']}: {base['records_per_s']:,.1f}/s",
             f"{r['records_per_s'] / base['records_per_s']:.2f}"),
            ("  wall per record", f"{r['wall_ms_per_record']:,.2f} ms",
             f"crypto {r['crypto_ms_per_record']:,.2f} ms",
             f"{r['wall_ms_per_record'] / r['crypto_ms_per_record']:.1f}"),
            ("  node CPU per record", f"{r['cpu_ms_per_record']:,.2f} ms",
             f"crypto {r['crypto_ms_per_record']:,.2f} ms",
             f"{r['cpu_ms_per_record'] / r['crypto_ms_per_record']:.1f}"),
            ("  the same, net of idle CPU", f"{r['cpu_ms_per_record_net_of_idle']:,.2f} ms",
             f"crypto {r['crypto_ms_per_record']:,.2f} ms",
             f"{r['cpu_ms_per_record_net_of_idle'] / r['crypto_ms_per_record']:.1f}"),
            ("  idle CPU of all nodes", f"{r['idle_cpu_per_s']:.2f} s/s", "", ""),
            ("  views / results per record",
             f"{r['views_per_record']:.2f} / {r['results_per_record']:.3f}", "", ""),
        ]  # fmt: skip
    figures(f"scale: {count:,} real UCDP events at mission, per federation size", rows)
    slopes = ", ".join(
        f"{k.replace('_per_record', '/record').replace('_ms', '').replace('_', ' ')} {v:.2f}"
        for k, v in exponents.items()
    )
    note(f"observed exponent k in cost ~ n^k, log-log slope over n = {ns}: {slopes}")
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
