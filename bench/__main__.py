"""``python -m bench [NAME] [--records N] [--quick] [--postgres URL] [--out FILE] [...]``

Runs one part of the benchmark suite, or (no NAME, or ``all``) every part in turn.
Each part prints its figures beside a yardstick measured in the same process run,
with the ratio; ``--out FILE`` writes the results as JSON (for the whole suite: one
object keyed by part). With a NAME, options after the common ones go to that part
(``python -m bench scale --sizes 4,8``; ``python -m bench NAME --help`` lists them).

Parts: crypto, protocol, federation, latency, scale, audit, catchup, memory, analysis (see
README.md, "Benchmarks"). ``--quick`` makes every part small enough for the whole
suite to run in about ten minutes on two cores; ``--records`` sets each part's main
size (``audit``: log entries; ``memory``: packets in the large node).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import audit, catchup, crypto, federation, latency, memory, protocol, scale
from bench._report import log, note, write_json
from bench.analysis import run as analysis

Main = Callable[[list[str]], dict[str, Any]]

#: name -> (the part's main, whether it takes --postgres)
PARTS: dict[str, tuple[Main, bool]] = {
    "crypto": (crypto.main, False),
    "protocol": (protocol.main, False),
    "federation": (federation.main, True),
    "latency": (latency.main, True),
    "scale": (scale.main, True),
    "audit": (audit.main, True),
    "catchup": (catchup.main, True),
    "memory": (memory.main, False),
    "analysis": (analysis.main, False),
}


def _argv(name: str, args: argparse.Namespace, out: Path | None) -> list[str]:
    """The common options as the part ``name`` takes them."""
    argv: list[str] = []
    if args.records is not None:
        argv += ["--entries" if name == "audit" else "--records", str(args.records)]
    if args.quick:
        argv.append("--quick")
    if args.postgres and PARTS[name][1]:
        argv += ["--postgres", args.postgres]
    if out is not None:
        argv += ["--out", str(out)]
    return argv


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every part in turn; memory reuses the federation part's node processes' RSS."""
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(),
            "cpus": _cpus(),
        },
        "quick": args.quick,
        "seconds": {},
    }
    for name, (main, _) in PARTS.items():
        log(f"\n=== bench {name} ===")
        started = time.monotonic()
        if name == "memory":
            results[name] = memory.main(_argv(name, args, None), federation=results["federation"])
        else:
            results[name] = main(_argv(name, args, None))
        results["seconds"][name] = round(time.monotonic() - started, 1)
    total = sum(results["seconds"].values())
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in results["seconds"].items())
    note(f"suite done in {total:.0f} s ({parts})")
    return results


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n", 1)[1], add_help=False
    )
    parser.add_argument("-h", "--help", action="store_true", help="this help, or a part's")
    parser.add_argument("name", nargs="?", default="all", choices=[*PARTS, "all"])
    parser.add_argument("--records", type=int, help="each part's main size")
    parser.add_argument("--quick", action="store_true", help="small sizes (~10 min in all)")
    parser.add_argument("--postgres", help="PostgreSQL server URL (parts that take it)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.help:
        if args.name == "all":
            parser.print_help()
            raise SystemExit(0)
        rest.append("--help")
    if args.name == "all":
        if rest:
            parser.error(f"options for one part only: {' '.join(rest)} (give a NAME)")
        results = run_all(args)
        write_json(args.out, results)
        return results
    main_, takes_postgres = PARTS[args.name]
    if args.postgres and not takes_postgres:
        parser.error(f"{args.name} runs on SQLite only; --postgres is for other parts")
    return main_(_argv(args.name, args, args.out) + rest)


if __name__ == "__main__":
    main()
