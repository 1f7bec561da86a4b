"""Federation benchmark: a whole federation end to end, beside its crypto bound.

By default the four-participant demo federation (mission, unodc, dpa, undp; one
``clearinghouse run`` process and one SQLite database each, on loopback) with
every real UCDP GED event (16,566) ingested in bulk at mission. Measured: input
records per second from the first ingest call until every view is verified and
stored at every recipient, every packet analysed by every participant whose
analyzer takes it, and every result delivered to everyone; and that rate over
the single-core Ed25519 verifies/s measured in the same run (``ratio``). Also
the peak RSS (VmHWM) and CPU seconds of each node process.

Variants: ``protocol`` is the same without analysis (no participant declares an
analyzer, so no results either: only packets, views, receipts and the audit log);
``--feeds demo`` runs the five-body demo instead (mission, unodc, dpa, undp,
sanctions, fed UCDP events, UNODC seizures and WFP prices); ``--postgres URL``
repeats the run with each node in a private PostgreSQL database (dropped after), and
``--replicas K`` with it runs it once more with mission as 1 + K processes on its one
database (replicas: README "Deployment"), the feed's batches spread over them.

Yardstick, measured in the same run on one core before the nodes start: Ed25519
verifies/s, and the crypto bound — the Ed25519 work the run needed, counted from
the nodes' own exact counts (one signature per packet issued, records and results;
one verification per view received) at the measured cost of a sign and a verify:
the records/s the run would reach if that cryptography were all there is, on one
core (request signatures and receipts, one each per batch and peer, are left out:
a few per hundred views).

    python -m bench federation [--records N] [--quick] [--feeds ucdp|demo]
                               [--variants full,protocol] [--postgres URL [--replicas K]]
                               [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml

from bench._local import DEMO_FOUR, UCDP, Probe, federation_config, running
from bench._report import Row, figures, log, note, write_json
from bench.crypto import MESSAGE_BYTES, yardstick
from clearinghouse.node.localfed import DEFAULT_PARTICIPANTS, FEDERATION_YAML, FEEDS, run_demo

__all__ = ["crypto_bound", "main", "measure"]

VARIANTS = ("full", "protocol")


def _config(feeds: str, analysis: bool) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    if feeds == "ucdp":
        return federation_config(DEMO_FOUR, analysis=analysis)
    if analysis:
        return None, DEFAULT_PARTICIPANTS  # federation.yaml as it is
    config = yaml.safe_load(FEDERATION_YAML.read_text())
    for participant in config["participants"]:
        participant.pop("analyzer", None)
    return config, DEFAULT_PARTICIPANTS


def crypto_bound(result: dict[str, Any], stick: dict[str, float]) -> dict[str, Any]:
    """The Ed25519 work of a run (from the nodes' counts) and the records/s it bounds:
    a signature per packet issued (records and results) and a verification per view
    received. The receipts and request signatures, one per batch and peer since
    issue 20 (one receipt per view before), are left out: a few per hundred views."""
    nodes = result["nodes"].values()
    signs = sum(n["issued"] for n in nodes)  # issued counts results too
    verifies = sum(n["received"] for n in nodes)
    seconds = signs / stick["ed25519_sign_per_s"] + verifies / stick["ed25519_verify_per_s"]
    return {"signs": signs, "verifies": verifies, "records_per_s": result["records"] / seconds}


def measure(
    records: int | None,
    *,
    feeds: str = "ucdp",
    analysis: bool = True,
    postgres: str | None = None,
    replicas: int = 0,
    stick: dict[str, float],
) -> dict[str, Any]:
    """One run: the federation started, fed, settled; its counts, rates, RSS and CPU (per
    process: ``mission.replica1`` is mission's second)."""
    config, participants = _config(feeds, analysis)
    extra = {"mission": replicas} if replicas else None
    with running(participants, config=config, postgres=postgres, replicas=extra) as federation:
        probe = Probe(federation)
        cpu_before = probe.cpu()
        result = run_demo(
            federation, records=records, feeds=(UCDP,) if feeds == "ucdp" else FEEDS, timeout=7200
        )
        cpu = {p: s - cpu_before[p] for p, s in probe.cpu().items()}
        peak = probe.peak_rss_mib()
    rate = result["records"] / result["elapsed_s"]
    bound = crypto_bound(result, stick)
    return {
        **result,
        "participants": list(participants),
        "analysis": analysis,
        "database": "postgresql" if postgres else "sqlite",
        "mission_processes": 1 + replicas,
        "records_per_s": rate,
        "crypto": {"signs": bound["signs"], "verifies": bound["verifies"]},
        "crypto_bound_records_per_s_single_core": bound["records_per_s"],
        "ratio_to_crypto_bound": rate / bound["records_per_s"],
        "ratio_to_verify_per_s": rate / stick["ed25519_verify_per_s"],
        "cpu_s": cpu,
        "cpu_ms_per_record": 1000 * sum(cpu.values()) / result["records"],
        "peak_rss_mib": peak,
    }


def _rows(name: str, r: dict[str, Any], verify_per_s: float) -> list[Row | None]:
    bound = r["crypto_bound_records_per_s_single_core"]
    return [
        None,
        (f"{name}: records/s end to end", f"{r['records_per_s']:,.1f}/s",
         f"Ed25519 verify {verify_per_s:,.0f}/s", f"{r['ratio_to_verify_per_s']:.4f}"),
        ("  the same", f"{r['records_per_s']:,.1f}/s",
         f"crypto bound {bound:,.0f}/s", f"{r['ratio_to_crypto_bound']:.3f}"),
        ("  CPU of all nodes per record", f"{r['cpu_ms_per_record']:,.1f} ms",
         f"crypto {1000 / bound:,.2f} ms", f"{r['cpu_ms_per_record'] * bound / 1000:.1f}"),
    ]  # fmt: skip


def _notes(name: str, r: dict[str, Any]) -> str:
    rss = ", ".join(f"{p} {m:,.0f}" for p, m in r["peak_rss_mib"].items())
    return (
        f"{name}: {r['records']:,} records, {r['views']:,} views in {r['elapsed_s']:.1f} s; "
        f"{r['crypto']['signs']:,} signs and {r['crypto']['verifies']:,} verifies; "
        f"peak RSS per node (MiB): {rss}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench federation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, help="records per feed (default: all)")
    parser.add_argument("--quick", action="store_true", help="1,500 records per feed")
    parser.add_argument("--feeds", choices=("ucdp", "demo"), default="ucdp")
    parser.add_argument("--variants", default="full,protocol", help="full, protocol or both")
    parser.add_argument("--postgres", help="also run (full) on PostgreSQL at this server URL")
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="with --postgres: once more with mission as 1 + K processes on its database",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants or set(variants) - set(VARIANTS):
        parser.error(f"--variants: a comma-separated subset of {', '.join(VARIANTS)}")
    if args.replicas and not args.postgres:
        parser.error("--replicas: replicas share a PostgreSQL database; give --postgres URL")
    if args.replicas < 0:
        parser.error("--replicas: a number of extra processes, 0 or more")
    records = args.records or (1500 if args.quick else None)

    log("federation: the single-core yardstick ...")
    stick = yardstick(MESSAGE_BYTES)
    verify_per_s = stick["ed25519_verify_per_s"]
    out: dict[str, Any] = {"feeds": args.feeds, "yardstick": stick}
    runs: list[tuple[str, bool, str | None, int]] = []
    if "full" in variants:
        runs.append(("sqlite", True, None, 0))
        if args.postgres:
            runs.append(("postgresql", True, args.postgres, 0))
            if args.replicas:
                name = f"postgresql_mission_x{1 + args.replicas}"
                runs.append((name, True, args.postgres, args.replicas))
    if "protocol" in variants:
        runs.append(("protocol_only", False, None, 0))
    for name, analysis, url, replicas in runs:
        log(f"federation: {name}, feeds {args.feeds}, {records or 'all'} records per feed ...")
        started = time.monotonic()
        out[name] = measure(
            records,
            feeds=args.feeds,
            analysis=analysis,
            postgres=url,
            replicas=replicas,
            stick=stick,
        )
        out[name]["wall_s_with_start_and_stop"] = time.monotonic() - started
    first = out[runs[0][0]]
    out["records_per_s"] = first["records_per_s"]
    out["verify_per_s_single_core"] = verify_per_s
    out["ratio"] = first["records_per_s"] / verify_per_s
    out["ratio_of"] = runs[0][0]

    rows: list[Row | None] = [
        ("Ed25519 sign / verify, one core",
         f"{stick['ed25519_sign_per_s']:,.0f} / {verify_per_s:,.0f}/s", "", ""),
    ]  # fmt: skip
    for name, *_ in runs:
        rows += _rows(name, out[name], verify_per_s)
    participants = ", ".join(first["participants"])
    figures(f"federation ({participants}; feeds {args.feeds})", rows)
    for name, *_ in runs:
        note(_notes(name, out[name]))
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
