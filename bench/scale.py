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

from sqlalchemy import func, select

from bench import cost_model
from bench._local import Probe, federation_config, ingest, running, ucdp_events, wait_until
from bench._report import Row, figures, log, loglog_slope, note, write_json
from bench.crypto import MESSAGE_BYTES, yardstick
from bench.federation import crypto_bound
from clearinghouse.node.localfed import COLUMNS, LocalFederation
from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.db import make_engine
from clearinghouse.node.storage.models import AuditCheckpoint, AuditCosignature, AuditEntry

__all__ = ["main", "measure"]


def bookkeeping(federation: LocalFederation) -> dict[str, int]:
    """Audit entries, checkpoints signed and cosignatures received, over all nodes, read
    from each node's own database."""
    totals = dict.fromkeys(("entries", "checkpoints", "cosignatures"), 0)
    for node in federation.nodes.values():
        engine = make_engine(node.database_url)
        try:
            with engine.connect() as connection:
                for key, table in (("entries", AuditEntry), ("checkpoints", AuditCheckpoint),
                                   ("cosignatures", AuditCosignature)):  # fmt: skip
                    totals[key] += connection.execute(
                        select(func.count()).select_from(table_of(table))
                    ).scalar_one()
        finally:
            engine.dispose()
    return totals


def measure(n: int, items: list[tuple[int, Any]], *, postgres: str | None,
            stick: dict[str, float], idle_s: float) -> dict[str, Any]:  # fmt: skip
    config, participants = federation_config(n)
    log(f"scale: {n} participants, {len(items):,} records ...")
    booting = time.monotonic()
    with running(participants, config=config, postgres=postgres) as federation:
        boot_s = time.monotonic() - booting
        probe = Probe(federation)
        # what the nodes burn doing nothing: checkpoints, witnessing, catch-up, polling
        idle_before = sum(probe.cpu().values())
        time.sleep(idle_s)
        idle_cpu_per_s = (sum(probe.cpu().values()) - idle_before) / idle_s
        cpu_before = probe.cpu()
        kept_before = bookkeeping(federation)
        started = time.monotonic()
        records = ingest(federation, items)
        done = wait_until(federation, timeout=7200)
        elapsed = done - started
        cpu_after = probe.cpu()
        node_cpu = {p: cpu_after[p] - cpu_before[p] for p in cpu_after}
        cpu = sum(node_cpu.values())
        kept = {k: v - kept_before[k] for k, v in bookkeeping(federation).items()}
        stats = federation.all_stats()
        peaks = probe.peak_rss_mib()
        peak = max(peaks.values())
    counts = {p: {c: s[c] for c in COLUMNS} for p, s in stats.items()}
    busiest = max(node_cpu, key=node_cpu.__getitem__)
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
        "peak_rss_mib": peaks,
        # per node: the originator (mission) does the most; each on its own machine,
        # the busiest node's CPU per record bounds the federation's rate
        "node_cpu_ms_per_record": {p: 1000 * c / records for p, c in node_cpu.items()},
        "busiest": busiest,
        "busiest_cpu_ms_per_record": 1000 * node_cpu[busiest] / records,
        "audit_entries_per_record": kept["entries"] / records,
        "checkpoints_per_s": kept["checkpoints"] / elapsed,
        "cosignatures_per_s": kept["cosignatures"] / elapsed,
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
    parser.add_argument("--predict", default="50,200", help="sizes the cost model predicts")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes: comma-separated integers")
    if len(sizes) < 2 or sizes[0] < 2:
        parser.error("--sizes: at least two sizes, each >= 2")
    try:
        predict_at = [int(s) for s in args.predict.split(",") if s.strip()]
    except ValueError:
        parser.error("--predict: comma-separated integers")
    count = args.records or (150 if args.quick else 3000)
    idle_s = args.idle or (3.0 if args.quick else 5.0)

    stick = yardstick(MESSAGE_BYTES)
    items = ucdp_events(count)
    runs = [measure(n, items, postgres=args.postgres, stick=stick, idle_s=idle_s) for n in sizes]
    ns = [r["participants"] for r in runs]
    exponents = {
        key: loglog_slope(ns, [r[key] for r in runs])
        for key in ("wall_ms_per_record", "cpu_ms_per_record", "cpu_ms_per_record_net_of_idle",
                    "crypto_ms_per_record", "views_per_record", "busiest_cpu_ms_per_record",
                    "audit_entries_per_record")
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
            (f"  busiest node ({r['busiest']}) CPU per record",
             f"{r['busiest_cpu_ms_per_record']:,.2f} ms", "", ""),
            ("  idle CPU of all nodes", f"{r['idle_cpu_per_s']:.2f} s/s", "", ""),
            ("  largest peak RSS of a node",
             f"{r['max_peak_rss_mib']:,.0f} MiB ({_largest(r['peak_rss_mib'])})",
             "budget 250 MiB", f"{r['max_peak_rss_mib'] / 250:.2f}"),
            ("  views / results per record",
             f"{r['views_per_record']:.2f} / {r['results_per_record']:.3f}", "", ""),
            ("  audit entries per record", f"{r['audit_entries_per_record']:.2f}", "", ""),
            ("  checkpoints / cosignatures per s",
             f"{r['checkpoints_per_s']:.2f} / {r['cosignatures_per_s']:.2f}", "", ""),
        ]  # fmt: skip
    figures(f"scale: {count:,} real UCDP events at mission, per federation size", rows)
    slopes = ", ".join(
        f"{k.replace('_per_record', '/record').replace('_ms', '').replace('_', ' ')} {v:.2f}"
        for k, v in exponents.items()
    )
    note(f"observed exponent k in cost ~ n^k, log-log slope over n = {ns}: {slopes}")
    out["model"] = _model(runs, predict_at)
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()


def _largest(peaks: dict[str, float]) -> str:
    return max(peaks, key=peaks.__getitem__)


def _model(runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """Fit docs/scaling.md's cost model to the runs, show it against them, predict."""
    model = cost_model.fit(runs)
    rows: list[Row | None] = []
    for who, check in (
        ("originator", model.originator_check),
        ("each other node", model.others_check),
    ):
        for n, measured, modelled in check:
            rows.append((f"{who} at {n}: CPU per record", f"{measured:,.2f} ms",
                         f"model {modelled:,.2f} ms", f"{measured / modelled:.2f}"))  # fmt: skip
    predictions = [cost_model.predict(model, n) for n in sizes]
    for p in predictions:
        rows += [
            None,
            (f"{p.participants} participants (predicted)", f"{p.records_per_s:,.1f} records/s",
             "each node on its own core", ""),
            ("  views / results per record",
             f"{p.views_per_record:,.1f} / {p.results_per_record:.2f}", "", ""),
            ("  originator / other node CPU per record",
             f"{p.originator_cpu_ms_per_record:,.2f} / {p.other_cpu_ms_per_record:,.2f} ms",
             "", ""),
        ]  # fmt: skip
    figures("scale: the cost model (docs/scaling.md), measured against modelled", rows,
            ratio="measured/model")  # fmt: skip
    note(
        f"results per record per analyser rho = {model.rho:.4f}; originator "
        f"{model.o0:.2f} + {model.o1:.3f}(n-1) ms, other nodes {model.p0:.2f} + "
        f"{model.p1:.3f}(n-1) ms per record"
    )
    return {
        "constants": {k: getattr(model, k) for k in ("rho", "o0", "o1", "p0", "p1")},
        "check": {"originator": model.originator_check, "others": model.others_check},
        "predictions": [p.as_dict() for p in predictions],
    }
