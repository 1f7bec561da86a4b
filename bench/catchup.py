"""Catch-up benchmark: a participant offline while records go through, then restarted.

The four-participant demo federation (mission, unodc, dpa, undp, with analysis)
in one run:

1. live: all four up; ``--records`` real UCDP GED events at mission in bulk, timed
   until the federation is settled — the live end-to-end rate, the yardstick;
2. offline: ``--offline`` (dpa) stopped; as many further events at mission, and
   the rest of the federation left to finish everything not owed to or by it;
3. back: the participant restarted; timed from its process start until it holds
   everything (no view owed to it anywhere, its analysis queue empty): the
   catch-up rate is the phase-2 records over that time, beside the live rate
   (ratio; the target is 0.8 or more). Also timed: until its own results have
   reached everyone (the federation settled), and its boot alone.

    python -m bench catchup [--records N] [--offline P] [--quick] [--postgres URL]
                            [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench._local import (
    DEMO_FOUR,
    federation_config,
    ingest,
    running,
    settled_but,
    ucdp_events,
    wait_until,
)
from bench._report import Row, figures, log, note, write_json

__all__ = ["TARGET_RATIO", "main", "measure"]

TARGET_RATIO = 0.8


def holds_everything(offline: str) -> Any:
    """Whether nothing is owed to ``offline`` anywhere and it has analysed all it holds."""

    def check(stats: dict[str, dict[str, Any]]) -> bool:
        owed = sum(s["pending"].get(offline, 0) for p, s in stats.items() if p != offline)
        return owed == 0 and not stats[offline]["analysis_queue"]

    return check


def measure(count: int, *, offline: str, postgres: str | None) -> dict[str, Any]:
    config, participants = federation_config(DEMO_FOUR)
    if offline not in participants or offline == "mission":
        raise ValueError(f"--offline must be one of {', '.join(participants[1:])}")
    # The offline phase gets the first ``count`` events, the live one the last ``count``:
    # they must not share any, since an event sent again is a duplicate (ingest is
    # idempotent per UCDP event id) and would issue nothing.
    items = ucdp_events(None)
    if count > len(items) // 2:
        raise ValueError(
            f"--records: at most {len(items) // 2:,} per phase (half the {len(items):,} UCDP "
            "events: each phase needs events the other did not send)"
        )
    live_items, offline_items = items[-count:], items[:count]
    with running(participants, config=config, postgres=postgres) as federation:
        log(f"catchup: live, {len(live_items):,} records with everyone up ...")
        started = time.monotonic()
        live = ingest(federation, live_items)
        live_s = wait_until(federation) - started

        log(f"catchup: {offline} down, {len(offline_items):,} records ...")
        federation.stop(offline)
        others = [p for p in participants if p != offline]
        started = time.monotonic()
        missed = ingest(federation, offline_items)
        without_s = wait_until(federation, settled_but(offline), participants=others) - started
        owed = sum(federation.stats(p)["pending"].get(offline, 0) for p in others)

        log(f"catchup: {offline} back, {owed:,} views owed to it ...")
        restarted = time.monotonic()
        federation.start(offline)
        federation.wait_ready(timeout=120, participant=offline)
        boot_s = time.monotonic() - restarted
        holds_s = wait_until(federation, holds_everything(offline), poll=0.1) - restarted
        settled_s = wait_until(federation) - restarted
        received = federation.stats(offline)["accepted"]
    live_rate = live / live_s
    catchup_rate = missed / holds_s
    return {
        "participants": list(participants),
        "offline": offline,
        "database": "postgresql" if postgres else "sqlite",
        "live_records": live,
        "live_s": live_s,
        "live_records_per_s": live_rate,
        "offline_records": missed,
        "without_it_s": without_s,
        "without_it_records_per_s": missed / without_s,
        "views_owed_to_it": owed,
        "boot_s": boot_s,
        "holds_everything_s": holds_s,
        "catchup_records_per_s": catchup_rate,
        "ratio": catchup_rate / live_rate,
        "target_ratio": TARGET_RATIO,
        "after_boot_records_per_s": missed / max(holds_s - boot_s, 1e-3),
        "after_boot_ratio": missed / max(holds_s - boot_s, 1e-3) / live_rate,
        "settled_s": settled_s,
        "settled_records_per_s": missed / settled_s,
        "settled_ratio": missed / settled_s / live_rate,
        "packets_held_by_it": received,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench catchup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, help="records per phase (3,000)")
    parser.add_argument("--quick", action="store_true", help="500 records per phase")
    parser.add_argument("--offline", default="dpa", help="the participant taken down (dpa)")
    parser.add_argument("--postgres", help="run the nodes on PostgreSQL at this server URL")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    count = args.records or (500 if args.quick else 3000)
    try:
        out = measure(count, offline=args.offline, postgres=args.postgres)
    except ValueError as exc:
        parser.error(str(exc))

    live = f"live {out['live_records_per_s']:,.1f}/s"
    rows: list[Row | None] = [
        (f"{out['offline']} catching up: records/s until it holds all",
         f"{out['catchup_records_per_s']:,.1f}/s", live, f"{out['ratio']:.2f}"),
        ("  the same, its boot left out",
         f"{out['after_boot_records_per_s']:,.1f}/s", live, f"{out['after_boot_ratio']:.2f}"),
        ("  until its own results reached everyone",
         f"{out['settled_records_per_s']:,.1f}/s", live, f"{out['settled_ratio']:.2f}"),
        ("  the others meanwhile, without it",
         f"{out['without_it_records_per_s']:,.1f}/s", live,
         f"{out['without_it_records_per_s'] / out['live_records_per_s']:.2f}"),
    ]  # fmt: skip
    figures(f"catch-up: {out['offline_records']:,} records missed by {out['offline']}", rows)
    note(
        f"target ratio >= {TARGET_RATIO}; {out['views_owed_to_it']:,} views owed to "
        f"{out['offline']} when it came back; boot {out['boot_s']:.1f} s, holds everything "
        f"after {out['holds_everything_s']:.1f} s, federation settled after "
        f"{out['settled_s']:.1f} s; live phase: {out['live_records']:,} records in "
        f"{out['live_s']:.1f} s"
    )
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
