"""Federation benchmark: the demo federation end to end, beside its crypto bound.

Five ``clearinghouse run`` processes (mission, unodc, dpa, undp, sanctions;
SQLite each, or PostgreSQL with ``--postgres URL``) on loopback, fed like the
demo: the real UCDP GED events at mission, UNODC seizures at unodc, WFP staple
prices at undp. Measured: input records per second from the first ingest call
until every view is verified and stored at every recipient, every packet
analysed by every participant whose analyzer takes it, and every result
delivered to everyone.

Yardstick, measured in the same run on one core: the Ed25519 work that run
needed, counted from the nodes' own exact counts — one signature per packet
issued (records and results) and per receipt, one verification per view
received and per receipt checked — at the measured cost of a sign and a verify.
The bound is records/s if that cryptography were all there is, on one core
(request signatures, one per batch, are left out: they are under 1%).

    python -m bench.federation [--records N] [--out FILE] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.protocol import yardstick
from node.cli.demo import run_demo
from node.localfed import LocalFederation


def _postgres_urls(base: str, participants: tuple[str, ...]) -> dict[str, str]:
    """One fresh database per node on the given server (dropped by the caller)."""
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    urls = {}
    with psycopg.connect(base, autocommit=True) as conn:
        for p in participants:
            name = f"bench_{p}_{suffix}"
            conn.execute(f'CREATE DATABASE "{name}"')
            urls[p] = base.rsplit("/", 1)[0] + "/" + name
    return urls


def _drop(base: str, urls: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def measure(records: int | None, postgres: str | None) -> dict[str, Any]:
    participants = ("mission", "unodc", "dpa", "undp", "sanctions")
    urls = _postgres_urls(postgres, participants) if postgres else {}
    try:
        with tempfile.TemporaryDirectory(prefix="ch-bench-") as tmp:
            federation = LocalFederation(Path(tmp), participants, database_urls=urls)
            federation.build()
            try:
                federation.start()
                federation.wait_ready()
                result = run_demo(federation, records=records, timeout=3600)
            finally:
                federation.stop()
    finally:
        if postgres:
            _drop(postgres, urls)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=None, help="events (default: all 16,566)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--postgres", help="also run on PostgreSQL at this server URL")
    args = parser.parse_args(argv)

    stick = yardstick(400)
    sign_s, verify_s = 1 / stick["ed25519_sign_per_s"], 1 / stick["ed25519_verify_per_s"]
    out: dict[str, Any] = {
        "yardstick": stick,
        "verify_per_s_single_core": stick["ed25519_verify_per_s"],
    }
    runs = [("sqlite", None)] + ([("postgresql", args.postgres)] if args.postgres else [])
    for name, url in runs:
        print(f"federation benchmark on {name} ...", file=sys.stderr)
        result = measure(args.records, url)
        nodes = result["nodes"].values()
        signs = sum(n["issued"] + n["sent"] for n in nodes)  # issued counts results too
        verifies = sum(n["received"] + n["sent"] for n in nodes)
        bound = result["records"] / (signs * sign_s + verifies * verify_s)
        rate = result["records"] / result["elapsed_s"]
        out[name] = {
            **result,
            "crypto": {"signs": signs, "verifies": verifies},
            "crypto_bound_records_per_s_single_core": bound,
            "records_per_s": rate,
            "ratio_to_crypto_bound": rate / bound,
            "ratio_to_verify_per_s": rate / stick["ed25519_verify_per_s"],
        }
    sqlite = out["sqlite"]
    out["records_per_s"] = sqlite["records_per_s"]
    out["ratio"] = sqlite["records_per_s"] / stick["ed25519_verify_per_s"]
    print(
        f"{'Ed25519 sign / verify (one core)':40}{stick['ed25519_sign_per_s']:12,.0f} / "
        f"{stick['ed25519_verify_per_s']:,.0f} per s"
    )
    for name, _ in runs:
        r = out[name]
        print(
            f"{'crypto bound, ' + name:40}{r['crypto_bound_records_per_s_single_core']:12,.0f} "
            f"records/s ({r['crypto']['signs']:,} signs + {r['crypto']['verifies']:,} verifies)"
        )
        print(
            f"{'end to end, ' + name:40}{r['records_per_s']:12,.0f} records/s "
            f"({r['records']:,} records, {r['views']:,} views, {r['elapsed_s']:.1f} s)  "
            f"= {r['ratio_to_crypto_bound']:.3f} x crypto bound, "
            f"{r['ratio_to_verify_per_s']:.4f} x verifies/s"
        )
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
