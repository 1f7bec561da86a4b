"""Faults on a real federation: ``clearinghouse run`` processes, real databases, real data.

1. Crash: 8,000 UCDP events (the first half of the demo's feed) ingested at mission
   and carried to unodc, dpa and undp (views, analyses, results) while nodes are
   SIGKILLed and restarted at random moments, twelve times (during ingest and the
   delivery and analysis after it; seeded: the seed is printed and ``FAULTS_SEED=N``
   repeats a schedule). An ingest call that failed is looked up in mission's database
   and posted again only if none of its records is there (the local API is not
   idempotent).
2. Partition: dpa cut off for 20 s (each node in its own network namespace, dpa's
   link taken down; where namespaces are unavailable, or with ``FAULTS_NO_NETNS=1``,
   dpa is stopped instead, and the output says which) while ingest goes on; healed,
   it catches up, nothing is stored twice, duplicate deliveries are counted.
3. Slow and flaky peer: a fault-injecting proxy (:mod:`tests.integration._proxy`) in
   front of dpa — slow answers, timeouts, 500, 503 with Retry-After, connections reset
   before and after dpa saw the request — while deliveries to the healthy peers go
   on; the sender backs off, honours Retry-After, and everything reaches dpa later,
   exactly once.
4. Database trouble: an exclusive lock held on dpa's and then mission's SQLite
   database during delivery and ingest (``FAULTS_SQLITE_LOCK_S``, default 8 s); on
   PostgreSQL (``CLEARINGHOUSE_TEST_POSTGRES_URL``) every connection of a node
   terminated, again and again, during delivery, then the server unreachable for 5 s
   (as in a restart, through a relay: the shared server itself is left alone); and
   the connections of two processes of one node sharing its database terminated.
5. Clock skew (``clock_offset_s``): within the signature window nodes work; beyond it
   they refuse each other with a clear reason (``stale-signature``, a packet issued in
   the future) and deliver everything once the clock is right; and within a wider
   window a node ahead must lose no view.

Afterwards, every view, analysis and result is checked to be present exactly once at
every entitled participant, from each node's database (:mod:`tests.integration._ledger`),
and, where the test says so, every audit log is verified with its witnesses' cosignatures.
Each test prints what it injected and what it found (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from clearinghouse.node.keyfiles import read_private_key, read_pseudonym_key
from clearinghouse.protocol.keys import public_jwk
from clearinghouse.protocol.manifest import parse_manifest
from clearinghouse.protocol.packet import issue_packet, recipient_view
from clearinghouse.protocol.receipts import verify_receipt
from tests.databases import POSTGRES_URL, on_database, throwaway_database
from tests.integration._drive import (
    CONFLICT,
    IngestDriver,
    assert_every_event_once,
    held_from,
    ingest,
    log_lines,
    received_again,
    records,
    sender_duplicates,
    wait_for,
)
from tests.integration._faults import (
    FaultFederation,
    Netns,
    hold_sqlite_lock,
    say,
    terminate_backends,
    ucdp_events,
    wait_settled,
)
from tests.integration._ledger import check_audit, check_exactly_once, duplicate_receipts
from tests.integration._nodes import Databases
from tests.integration._proxy import FaultProxy, Hit, TcpRelay
from tests.signer import participant_key, send, signed_request

pytestmark = pytest.mark.slow

FOUR = ("mission", "unodc", "dpa", "undp")
RESULT = "analysis-result/1"


def node_config(
    *,
    catchup_interval_s: float = 5.0,
    request_timeout_s: float = 30.0,
    lease_s: float = 10.0,
) -> str:
    """Quick retries (backoff 0.2 s doubling to 2 s), and a lease a killed sender's claims
    lapse from in seconds; witnesses every second."""
    return f"""
[delivery]
base_delay_s = 0.2
max_delay_s = 2.0
poll_interval_s = 0.5
catchup_interval_s = {catchup_interval_s}
request_timeout_s = {request_timeout_s}
lease_s = {lease_s}

[audit]
checkpoint_interval_s = 1.0
witness_interval_s = 1.0
"""


FAST = node_config()


def fault_seed() -> int:
    seed = int(os.environ.get("FAULTS_SEED") or secrets.randbits(32))
    say(f"seed {seed} (FAULTS_SEED={seed} repeats this schedule)")
    return seed


# -- 1. crash ------------------------------------------------------------------------------

KILLS = 12
#: Events ingested: the first half of the UCDP feed, 16 calls of 500. The twelve kills
#: (two to seven seconds apart, each node down up to two seconds, then restarted) span
#: about as long as ingesting these takes, so that they fall during ingest and during
#: the delivery and analysis that follow it. The whole feed (16,566) cost twice the time
#: and the CPU for the same twelve kills on the same paths.
CRASH_EVENTS = 8_000


@pytest.mark.timeout(1200)
def test_random_kills_during_a_ucdp_run_lose_and_double_nothing(tmp_path: Path) -> None:
    rng = random.Random(fault_seed())
    items = ucdp_events()[:CRASH_EVENTS]
    fed = FaultFederation(tmp_path / "fed", FOUR, config_extra=FAST)
    fed.build()
    db = Databases(fed)
    started = time.monotonic()
    try:
        fed.start()
        fed.wait_ready(timeout=120)
        driver = IngestDriver(fed, db, items)
        driver.start()
        kills: list[dict[str, Any]] = []
        while len(kills) < KILLS:
            time.sleep(rng.uniform(2.0, 7.0))
            victim, down = rng.choice(FOUR), rng.uniform(0.0, 2.0)
            during = "ingest" if driver.is_alive() else "delivery/analysis"
            at = time.monotonic() - started
            ready_s = fed.restart(victim, kill=True, down_s=down)
            kills.append({"victim": victim, "at": at, "during": during})
            say(
                f"kill {len(kills)}/{KILLS}: SIGKILL {victim} at {at:.1f}s during {during}, "
                f"down {down:.1f}s, ready {ready_s:.1f}s after restart "
                f"({driver.posted:,}/{len(items):,} events posted)"
            )
        driver.finish(timeout=900)
        ingested = time.monotonic() - started
        stats = wait_settled(fed, timeout=600)
        settled = time.monotonic() - started
        assert_every_event_once(db, items)
        counts = check_exactly_once(fed, db)
        audit = check_audit(fed, db, FOUR)
        say(
            f"crash: {len(kills)} kills {dict(Counter(k['victim'] for k in kills))}, "
            f"{sum(k['during'] == 'ingest' for k in kills)} during ingest; ingest calls failed "
            f"{dict(driver.failed_calls)}, {driver.reposted} batches posted again, "
            f"{driver.answer_lost} went through with the answer lost; ingest done {ingested:.0f}s, "
            f"settled {settled:.0f}s, checked {time.monotonic() - started:.0f}s"
        )
        again = {p: received_again(db, p) for p in FOUR}
        say(
            f"crash: {len(items):,} events; {counts['views']:,} views, {counts['analyses']:,} "
            f"analyses, {counts['results']:,} results checked exactly once; packets held "
            f"{counts['packets']}; duplicate deliveries {duplicate_receipts(db, FOUR)}, by how"
            f" they came {again}; "
            f"audit entries {audit['entries']}, checkpoints {audit['checkpoints']}"
        )
        assert all(s["rejected"] == 0 and s["quarantined"] == 0 for s in stats.values())
    finally:
        fed.stop()
        db.close()


# -- 2. partition --------------------------------------------------------------------------

CUT = "dpa"
#: set to 1 to partition by stopping the node, as where namespaces are unavailable
NO_NETNS = "FAULTS_NO_NETNS"


@pytest.mark.timeout(600)
def test_a_cut_off_node_catches_up_and_nothing_is_stored_twice(tmp_path: Path) -> None:
    # A request into a dead link hangs until its timeout: 6 s, so that it shows.
    fed = FaultFederation(tmp_path / "fed", FOUR, config_extra=node_config(request_timeout_s=6))
    fed.build()
    db = Databases(fed)
    why_not = f"{NO_NETNS}=1" if os.environ.get(NO_NETNS) == "1" else Netns.unavailable()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if why_not is None:
            netns = stack.enter_context(Netns())
            urls = {}
            for p in FOUR:
                address = netns.add(p)
                urls[p] = f"http://{address}:{urlsplit(fed.nodes[p].url).port}"
                fed.nodes[p].url = urls[p]
                fed.prefix[p] = netns.prefix(p)
                fed.node_env[p] = {"CLEARINGHOUSE_HOST": address}
            fed.publish(urls)
            method = f"network namespaces on {netns.net}; {CUT}'s link taken down"
            cut, heal = (lambda: netns.cut(CUT)), (lambda: netns.heal(CUT))
        else:
            method = f"FALLBACK (network namespaces unavailable: {why_not}); {CUT} stopped"

            def cut() -> None:
                fed.stop(CUT)

            def heal() -> None:
                fed.start(CUT)

        say(f"partition: {method}")
        stack.callback(db.close)
        stack.callback(fed.stop)
        fed.start()
        fed.wait_ready(timeout=120)
        ingest(fed, records(0, 1000))
        wait_settled(fed)
        before = held_from(db, CUT, "mission")
        duplicates_before = duplicate_receipts(db, FOUR)
        cut()
        cut_at = time.monotonic()
        for i in range(3):  # ingest goes on at mission during the partition
            ingest(fed, records(1000 + 500 * i, 500))
            time.sleep(2.0)
        others = wait_for(  # seconds after the last ingest call
            "unodc and undp hold every event of the partition",
            lambda: all(held_from(db, p, "mission") == 2500 for p in ("unodc", "undp")),
        )
        time.sleep(max(0.0, 20.0 - (time.monotonic() - cut_at)))  # cut off for 20 s at least
        assert held_from(db, CUT, "mission") == before, f"{CUT} got views while cut off"
        owed = db.value(
            "mission",
            "SELECT count(*) FROM outbox WHERE recipient = :r AND state = 'pending'",
            r=CUT,
        )
        errors = db.rows(
            "mission",
            "SELECT last_error FROM outbox WHERE recipient = :r AND state = 'pending'"
            " AND last_error IS NOT NULL LIMIT 1",
            r=CUT,
        )
        assert owed >= 1500 and errors, (owed, errors)
        partition_s = time.monotonic() - cut_at
        heal()
        healed_at = time.monotonic()
        if why_not is not None:
            fed.wait_ready(timeout=120, participant=CUT)
        wait_for(
            f"{CUT} holds all 2,500 events",
            lambda: held_from(db, CUT, "mission") == 2500,
            timeout=180,
        )
        caught_up = time.monotonic() - healed_at
        wait_settled(fed)
        counts = check_exactly_once(fed, db)
        duplicates = {p: n - duplicates_before[p] for p, n in duplicate_receipts(db, FOUR).items()}
        audit = check_audit(fed, db, FOUR)
        say(
            f"partition ({method}): {CUT} cut off {partition_s:.1f}s while 1,500 events went in"
            f" ({owed:,} views owed it by mission, first error: {errors[0].last_error[:80]!r});"
            f" the others had them all {others:.1f}s after the last call; healed, {CUT} held"
            f" everything {caught_up:.1f}s later; {counts['views']:,} views,"
            f" {counts['analyses']:,} analyses, {counts['results']:,} results exactly once;"
            f" duplicate deliveries since the cut {duplicates}, of them answered 'duplicate' to"
            f" mission's pushes: {sender_duplicates(db, 'mission', CUT)}; audit"
            f" {audit['entries']}; {time.monotonic() - started:.0f}s in all"
        )
        assert duplicates[CUT] <= owed, (
            f"{CUT} took {duplicates[CUT]} duplicates for {owed} views owed"
        )


# -- 3. slow and flaky peer ----------------------------------------------------------------

BAD = "dpa"
HEALTHY = ("unodc", "undp")
#: (mode, its parameters, whether dpa stores the phase's views while it lasts)
PHASES: tuple[tuple[str, dict[str, float], bool], ...] = (
    ("pass", {}, True),
    ("slow", {"delay_s": 1.5}, True),
    ("stall", {"stall_s": 8.0}, False),
    ("http-500", {}, False),
    ("http-503", {"retry_after": 4}, False),
    ("reset", {}, False),
    ("reset-after", {}, True),
    ("stall-after", {"stall_s": 8.0}, True),
)
PHASE_S = 10.0
CALLS, PER_CALL = 4, 25  # per phase: four ingest calls a second apart


def view_gaps(pushes: Sequence[Hit]) -> dict[str, list[float]]:
    """For each view pushed, the seconds between one attempt and the next."""
    times: dict[str, list[float]] = {}
    for hit in pushes:
        for view in hit.views:
            times.setdefault(view, []).append(hit.at)
    return {v: [b - a for a, b in itertools.pairwise(t)] for v, t in times.items()}


@pytest.mark.timeout(600)
def test_a_slow_or_failing_peer_gets_everything_later_and_holds_up_no_one(tmp_path: Path) -> None:
    # Push only (dpa pulls nothing after its start), and calls time out after 3 s.
    config = node_config(catchup_interval_s=3600, request_timeout_s=3)
    fed = FaultFederation(tmp_path / "fed", FOUR, config_extra=config)
    fed.build()
    db = Databases(fed)
    proxy = FaultProxy(
        urlsplit(fed.nodes[BAD].url).port or 0,
        senders={fed.nodes[p].public_jwk["kid"]: p for p in FOUR},
    )
    proxy.start()
    fed.publish({BAD: proxy.url})  # the others reach dpa through the proxy only
    started = time.monotonic()
    problems: list[str] = []
    try:
        fed.start()
        fed.wait_ready(timeout=120)
        sent = 0
        for mode, params, stores in PHASES:
            proxy.set(mode, **params)
            at = time.monotonic()
            had = held_from(db, BAD, "mission")
            for i in range(CALLS):  # views queued while earlier ones back off
                time.sleep(1.0 if i else 0.0)
                ingest(fed, records(sent, PER_CALL))
                sent += PER_CALL
            healthy = wait_for(
                f"{HEALTHY} hold every event while dpa's proxy does {mode}",
                lambda n=sent: all(held_from(db, p, "mission") == n for p in HEALTHY),
                timeout=60,
            )
            time.sleep(max(0.0, PHASE_S - (time.monotonic() - at)))
            if mode in ("pass", "slow"):  # a slow peer still gets everything, in time
                wait_for(
                    f"dpa stores this phase's views through a {mode} proxy",
                    lambda n=had + CALLS * PER_CALL: held_from(db, BAD, "mission") == n,
                    timeout=30,
                )
            pushes = proxy.hits_since(at, sender="mission", method="POST", path="/v1/packets")
            gaps = [round(b.at - a.at, 2) for a, b in itertools.pairwise(pushes)]
            got = held_from(db, BAD, "mission") - had
            say(
                f"proxy {mode}: healthy peers had everything {healthy:.1f}s after the last call;"
                f" mission pushed to dpa {len(pushes)}x ({len(view_gaps(pushes))} views),"
                f" gaps {gaps}; dpa stored {got}"
            )
            # The healthy peers are not held up, and a failing proxy lets nothing through.
            assert healthy < 15.0, f"{mode}: the healthy peers were held up {healthy:.1f}s"
            if not stores:
                assert got == 0, f"{mode}: dpa stored {got} views through a failing proxy"
            # The sender backs off from the failing peer (each view: after five failures,
            # about a second or more between attempts, the 2 s cap with jitter; polling
            # without backoff would be every 0.5 s), and honours its Retry-After.
            per_view = view_gaps(pushes)
            if mode in ("http-500", "reset", "reset-after"):
                hasty = {v: g for v, g in per_view.items() if len(g) >= 5 and sum(g[-3:]) < 2.7}
                assert not hasty, f"{mode}: no backoff, gaps {list(hasty.values())[:2]}"
            if mode == "http-503":
                wait = params["retry_after"] - 0.2
                early = [round(x, 2) for g in per_view.values() for x in g if x < wait]
                assert not early, f"a view pushed again {early} s after Retry-After: 4"
                early = [g for g in gaps if g < wait]
                if early:
                    problems.append(
                        f"http-503: mission pushed to dpa again after {early} s, though dpa"
                        f" answered 503 with Retry-After: {params['retry_after']:g} (each view"
                        " waits, but views queued at different times keep schedules of their"
                        " own: Retry-After is honoured per view, not per peer)"
                    )
        proxy.set("pass")
        wait_for(
            "dpa holds every event", lambda: held_from(db, BAD, "mission") == sent, timeout=120
        )
        stats = wait_settled(fed)
        counts = check_exactly_once(fed, db)
        via = db.rows(
            "mission",
            "SELECT delivered_via, count(*) AS n FROM outbox WHERE recipient = :r"
            " GROUP BY delivered_via",
            r=BAD,
        )
        say(
            f"proxy: requests to dpa by mode {dict(Counter(h.mode for h in proxy.hits))}; "
            f"{counts['views']:,} views, {counts['analyses']:,} analyses, {counts['results']:,}"
            f" results exactly once; dpa's views delivered via {[tuple(r) for r in via]};"
            f" duplicates {duplicate_receipts(db, FOUR)} (answered to mission's pushes: "
            f"{sender_duplicates(db, 'mission', BAD)}); {time.monotonic() - started:.0f}s in all"
        )
        assert all(s["rejected"] == 0 for s in stats.values())
        check_audit(fed, db, FOUR)
        assert not problems, "\n".join(problems)
    finally:
        fed.stop()
        proxy.close()
        db.close()


# -- 4. database trouble -------------------------------------------------------------------

THREE = ("mission", "unodc", "dpa")
#: how long each lock is held (``FAULTS_SQLITE_LOCK_S=34``: past SQLite's 30 s busy
#: timeout, so that the nodes meet "database is locked" errors; 8 s keeps CI quick)
LOCK_S = float(os.environ.get("FAULTS_SQLITE_LOCK_S") or 8.0)


@pytest.mark.timeout(600)
def test_a_locked_sqlite_database_during_delivery_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    # Calls time out after 5 s: a receiver waiting on the lock answers too late.
    fed = FaultFederation(tmp_path / "fed", THREE, config_extra=node_config(request_timeout_s=5))
    fed.build()
    db = Databases(fed)
    started = time.monotonic()
    try:
        fed.start()
        fed.wait_ready(timeout=120)
        # (a) the receiver's database locked while mission delivers to it
        ingest(fed, records(0, 1000))
        with hold_sqlite_lock(fed.nodes["dpa"].database_url):
            locked_at, before = time.monotonic(), held_from(db, "dpa", "mission")
            unodc = wait_for("unodc holds 1,000", lambda: held_from(db, "unodc", "mission") == 1000)
            time.sleep(max(0.0, LOCK_S - (time.monotonic() - locked_at)))
            assert held_from(db, "dpa", "mission") == before, "dpa wrote through the lock"
        wait_for("dpa holds 1,000", lambda: held_from(db, "dpa", "mission") == 1000, timeout=120)
        receiver_done = time.monotonic() - locked_at
        # (b) the sender's database locked while it ingests and delivers
        driver = IngestDriver(fed, db, ucdp_events()[1000:2000], batch=250)
        driver.start()
        time.sleep(1.0)
        with hold_sqlite_lock(fed.nodes["mission"].database_url):
            time.sleep(LOCK_S)
        driver.finish(timeout=300)
        stats = wait_settled(fed)
        assert_every_event_once(db, ucdp_events()[:2000])
        counts = check_exactly_once(fed, db)
        check_audit(fed, db, THREE)
        say(
            f"sqlite lock: dpa's database locked {LOCK_S:g}s during delivery (unodc had all"
            f" 1,000 after {unodc:.1f}s meanwhile; dpa all {receiver_done:.1f}s after the lock"
            f" was taken), then mission's {LOCK_S:g}s during ingest (calls failed"
            f" {dict(driver.failed_calls)}, posted again {driver.reposted}); "
            f"{counts['views']:,} views, {counts['analyses']:,} analyses, {counts['results']:,}"
            f" results exactly once; duplicates {duplicate_receipts(db, THREE)}; 'locked' in"
            f" logs { ({p: log_lines(fed, p, 'locked') for p in THREE}) };"
            f" {time.monotonic() - started:.0f}s in all"
        )
        assert all(s["rejected"] == 0 for s in stats.values())
    finally:
        fed.stop()
        db.close()


OUTAGE_S = 5.0


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_postgres_connections_lost_during_delivery_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    """Every connection of mission, then of dpa, terminated (``pg_terminate_backend``)
    eight times; then the server "restarts" as the nodes see it: the relay they reach it
    through resets every connection and refuses new ones for 5 s. (The shared server
    itself is not restarted: others may be using it.)"""
    server = urlsplit(POSTGRES_URL)
    relay = TcpRelay(server.hostname or "127.0.0.1", server.port or 5432)
    relay.start()
    with contextlib.ExitStack() as stack:
        stack.callback(relay.close)
        names = {p: stack.enter_context(throwaway_database(f"faults_{p}")) for p in THREE}
        direct = {p: on_database(POSTGRES_URL, name) for p, name in names.items()}
        user = server.netloc.rpartition("@")[0]  # user[:password], as given
        via = f"{user}@127.0.0.1:{relay.port}" if user else f"127.0.0.1:{relay.port}"
        relayed = {p: urlunsplit(urlsplit(url)._replace(netloc=via)) for p, url in direct.items()}
        fed = FaultFederation(tmp_path / "fed", THREE, database_urls=relayed, config_extra=FAST)
        fed.build()
        for p in THREE:  # the test reads the databases directly, not through the relay
            fed.nodes[p].database_url = direct[p]
        db = Databases(fed)
        stack.callback(db.close)
        stack.callback(fed.stop)
        started = time.monotonic()
        fed.start()
        fed.wait_ready(timeout=120)
        items = ucdp_events()[:2000]
        driver = IngestDriver(fed, db, items, batch=250)
        driver.start()
        killed: Counter[str] = Counter()
        for i in range(8):  # every 1.5 s, all of one node's connections, in turn
            time.sleep(1.5)
            victim = ("mission", "dpa")[i % 2]
            killed[victim] += terminate_backends(POSTGRES_URL, names[victim])
        relay.outage(OUTAGE_S)
        time.sleep(OUTAGE_S)
        driver.finish(timeout=300)
        stats = wait_settled(fed)
        assert_every_event_once(db, items)
        counts = check_exactly_once(fed, db)
        check_audit(fed, db, THREE)
        say(
            f"postgres: 8 rounds of pg_terminate_backend during ingest and delivery, connections"
            f" killed {dict(killed)}; then a {OUTAGE_S:g} s outage of the server as the nodes"
            f" see it ({relay.resets} connections reset); ingest calls failed"
            f" {dict(driver.failed_calls)}, posted again {driver.reposted}, answer lost"
            f" {driver.answer_lost}; {counts['views']:,} views, {counts['analyses']:,}"
            f" analyses, {counts['results']:,} results exactly once; duplicates"
            f" {duplicate_receipts(db, THREE)}; errors logged"
            f" { ({p: log_lines(fed, p, 'OperationalError', 'AdminShutdown') for p in THREE}) };"
            f" {time.monotonic() - started:.0f}s in all"
        )
        assert all(s["rejected"] == 0 for s in stats.values())


@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_postgres_replicas_still_analyse_once_after_their_connections_are_killed(
    tmp_path: Path,
) -> None:
    """Two processes of mission share its database; one is the analyst (it holds the
    advisory lock). Killing their connections must not leave two analysts."""
    with contextlib.ExitStack() as stack:
        names = {p: stack.enter_context(throwaway_database(f"faults_{p}")) for p in THREE}
        urls = {p: on_database(POSTGRES_URL, name) for p, name in names.items()}
        fed = FaultFederation(
            tmp_path / "fed",
            THREE,
            database_urls=urls,
            replicas={"mission": 1},
            config_extra=FAST,
        )
        fed.build()
        db = Databases(fed)
        stack.callback(db.close)
        stack.callback(fed.stop)
        started = time.monotonic()
        fed.start()
        fed.wait_ready(timeout=120)
        items = ucdp_events()[:3000]
        driver = IngestDriver(fed, db, items, batch=100)
        driver.start()
        killed = 0
        for _ in range(4):  # every 3 s: each of mission's connections, both processes'
            time.sleep(3.0)
            killed += terminate_backends(POSTGRES_URL, names["mission"])
        driver.finish(timeout=300)
        wait_settled(fed)
        runs = db.rows(
            "mission",
            "SELECT packet_id, count(*) AS n FROM analysis_run GROUP BY packet_id"
            " HAVING count(*) > 1",
        )
        doubled_results = db.value(
            "mission",
            "SELECT count(*) FROM (SELECT claims->'input'->>'jti' FROM packet"
            " WHERE origin = 'local' AND schema_id = :s GROUP BY 1 HAVING count(*) > 1) AS d",
            s=RESULT,
        )
        say(
            f"postgres replicas: mission's connections killed {killed}x in 4 rounds;"
            f" packets analysed more than once at mission: {len(runs)}, inputs with two"
            f" results: {doubled_results}; {time.monotonic() - started:.0f}s"
        )
        assert_every_event_once(db, items)
        check_exactly_once(fed, db)


# -- 5. clock skew -------------------------------------------------------------------------

OFFSET = "CLEARINGHOUSE_CLOCK_OFFSET_S"


def future_view(fed: FaultFederation, issuer: str, recipient: str, ahead_s: float) -> str:
    """A view for ``recipient`` of a packet ``issuer`` signs ``ahead_s`` in the future."""
    key = read_private_key(fed.root / "keys" / f"{issuer}.key.pem")
    manifest = parse_manifest(fed.manifest_path.read_bytes())
    pseudonyms = read_pseudonym_key(fed.root / "keys" / "pseudonym.key")
    packet = issue_packet(
        records(5000, 1)[0],
        schema=CONFLICT,
        issuer=issuer,
        key=key,
        kid=public_jwk(key)["kid"],
        now=datetime.now(UTC) + timedelta(seconds=ahead_s),
        pseudonym_key=pseudonyms.key,
        pseudonym_epoch=pseudonyms.epoch,
    )
    return recipient_view(packet.sd_jwt, manifest, recipient)


def push_as(fed: FaultFederation, sender: str, to: str, views: list[str]) -> httpx.Response:
    """``POST /v1/packets`` to ``to``, signed now (this machine's clock) as ``sender``."""
    body = json.dumps({"views": views}).encode()
    key = participant_key(fed.root, sender)
    return send(signed_request("POST", f"{fed.nodes[to].url}/v1/packets", body, key=key))


@pytest.mark.timeout(600)
def test_clocks_apart_by_more_than_the_window_refuse_clearly_and_heal(tmp_path: Path) -> None:
    fed = FaultFederation(tmp_path / "fed", THREE, config_extra=FAST)
    fed.build()
    db = Databases(fed)
    started = time.monotonic()
    try:
        # (a) within the 300 s window: dpa 200 s ahead, unodc 50 s behind (250 s apart)
        fed.backdate(3600)  # keys valid for an hour already, as for a node behind
        fed.node_env = {"dpa": {OFFSET: "200"}, "unodc": {OFFSET: "-50"}}
        fed.start()
        fed.wait_ready(timeout=120)
        ingest(fed, records(0, 100))
        wait_settled(fed)
        within = check_exactly_once(fed, db)
        # (b) beyond it: dpa 900 s ahead of everyone
        fed.node_env = {"dpa": {OFFSET: "900"}}
        fed.restart("dpa", kill=False)
        fed.restart("unodc", kill=False)  # its clock right again
        ingest(fed, records(100, 100))
        wait_for("unodc holds 200", lambda: held_from(db, "unodc", "mission") == 200)

        def errors() -> list[str]:
            return [
                r.last_error
                for r in db.rows(
                    "mission",
                    "SELECT DISTINCT last_error FROM outbox WHERE recipient = 'dpa'"
                    " AND state = 'pending' AND last_error IS NOT NULL",
                )
            ]

        wait_for("mission's pushes to dpa refused", errors)
        wait_for("dpa's calls refused", lambda: log_lines(fed, "dpa", "stale-signature"))
        time.sleep(3.0)  # a few more rounds of delivery, catch-up and witnessing
        assert held_from(db, "dpa", "mission") == 100, "dpa took views signed 900 s off"
        refusals = errors()
        assert all("401" in e and "window" in e for e in refusals), refusals
        refused_by_others = log_lines(fed, "dpa", "stale-signature")
        # a packet issued 900 s in the future, in a request signed now: refused, with why
        response = push_as(fed, "mission", "unodc", [future_view(fed, "mission", "unodc", 900)])
        assert response.status_code == 200, response.text
        receipt = verify_receipt(
            response.json()["receipts"][0], parse_manifest(fed.manifest_path.read_bytes()),
            sender="mission",
        )  # fmt: skip
        # not final: deferred (retryable), with when it would be inside unodc's window
        assert (receipt.status, receipt.reason_code) == ("deferred", "issued-in-the-future")
        assert receipt.retryable and (receipt.retry_after or 0) >= 500, receipt
        # (c) the clock put right: everything owed arrives, once
        fed.node_env = {}
        fed.restart("dpa", kill=False)
        wait_settled(fed, forged=1)
        counts = check_exactly_once(fed, db, refused={"unodc": 1})
        check_audit(fed, db, THREE)
        say(
            f"clock skew: within the window (dpa +200 s, unodc -50 s) {within['views']:,}"
            f" views, {within['results']:,} results exactly once; dpa +900 s: mission's"
            f" pushes refused {refusals[0][:140]!r}, dpa's own calls refused {refused_by_others}x"
            f" (stale-signature); a packet 900 s in the future deferred: {receipt.reason!r};"
            f" clock right again: {counts['views']:,} views exactly once;"
            f" {time.monotonic() - started:.0f}s in all"
        )
    finally:
        fed.stop()
        db.close()


@pytest.mark.timeout(600)
def test_a_clock_within_a_wider_window_loses_no_view(tmp_path: Path) -> None:
    """With ``signature_window_s = 1200``, a node 600 s ahead is within the window: its
    requests are taken, so its views must arrive (if late), not be lost."""
    fed = FaultFederation(tmp_path / "fed", THREE, config_extra=FAST)
    fed.build()
    db = Databases(fed)
    try:
        fed.env = {"CLEARINGHOUSE_SIGNATURE_WINDOW_S": "1200"}
        fed.node_env = {"mission": {OFFSET: "600"}}
        fed.start()
        fed.wait_ready(timeout=120)
        ingest(fed, records(0, 50))
        wait_for(
            "mission's views to unodc and dpa answered",
            lambda: not db.value("mission", "SELECT count(*) FROM outbox WHERE state = 'pending'"),
            timeout=60,
        )
        outcome = Counter(
            (r.recipient, r.state)
            for r in db.rows("mission", "SELECT recipient, state FROM outbox")
        )
        reasons = {r.code for r in db.rows("unodc", "SELECT DISTINCT code FROM inbound_refusal")}
        fed.node_env = {}
        fed.restart("mission", kill=False)  # its clock put right
        time.sleep(5.0)  # what was refused is not sent again
        say(
            f"wider window: mission +600 s, window 1200 s: mission's outbox {dict(outcome)},"
            f" unodc refused them as {reasons}; after the clock is right: unodc holds"
            f" {held_from(db, 'unodc', 'mission')} of 50, dpa"
            f" {held_from(db, 'dpa', 'mission')} of 50"
        )
        wait_settled(fed, timeout=60)
        check_exactly_once(fed, db)
    finally:
        fed.stop()
        db.close()
