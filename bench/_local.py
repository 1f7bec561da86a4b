"""Local federations for the benchmarks: their configs, running them, and what they did.

* :func:`federation_config`: the config a manifest is built from for the demo's
  four bodies (mission, unodc, dpa, undp) or for ``n`` participants — mission and
  generated bodies that each take one of unodc's, dpa's or undp's policy and
  analyzer in turn — with or without analyzers (``analysis=False``: no participant
  declares one, so only the protocol runs). Only ``conflict-event/1`` and
  ``analysis-result/1`` are shared; results go to everyone in full.
* :func:`running`: those participants as ``clearinghouse run`` processes
  (:class:`node.localfed.LocalFederation`), on SQLite or in private PostgreSQL
  databases (:mod:`bench._postgres`), stopped (and the databases dropped) on exit.
* :class:`Probe`: peak and current RSS and CPU seconds of each node process, from
  ``/proc`` (Linux).
* :func:`ingest`, :func:`wait_until`, :func:`settled_but`: feeding real events and
  waiting until the federation has done everything with them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench._postgres import private_databases
from clearinghouse.node.localfed import FEDERATION_YAML, FEEDS, LocalFederation, feed_items
from clearinghouse.node.transport.records_upload import post_batches

__all__ = [
    "CONFLICT",
    "DEMO_FOUR",
    "RESULT",
    "UCDP",
    "Probe",
    "federation_config",
    "ingest",
    "participant_ids",
    "running",
    "settled_but",
    "ucdp_events",
    "wait_until",
]

DEMO_FOUR = ("mission", "unodc", "dpa", "undp")
CONFLICT, RESULT = "conflict-event/1", "analysis-result/1"
#: The bodies whose conflict-event policy and analyzer generated participants copy.
TEMPLATES = ("unodc", "dpa", "undp")
UCDP = FEEDS[0]


def participant_ids(n: int) -> tuple[str, ...]:
    """mission, unodc, dpa, undp, then dpa-05, undp-06, unodc-07, ... (n in all)."""
    if n < 2:
        raise ValueError("a federation needs at least two participants")
    ids = list(DEMO_FOUR[:n])
    for i in range(len(ids) + 1, n + 1):
        ids.append(f"{TEMPLATES[(i - 1) % len(TEMPLATES)]}-{i:02d}")
    return tuple(ids)


def federation_config(
    participants: int | Sequence[str] = DEMO_FOUR, *, analysis: bool = True
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A federation config (as in federation.yaml) and its participant ids."""
    demo = yaml.safe_load(FEDERATION_YAML.read_text())
    ids = participant_ids(participants) if isinstance(participants, int) else tuple(participants)
    entries, conflict = [], {}
    by_id = {p["id"]: p for p in demo["participants"]}
    for i, pid in enumerate(ids, 1):
        template = pid.split("-", 1)[0]
        entry = {
            "id": pid,
            "name": f"{by_id[template]['name']} ({pid})",
            "base_url": f"http://127.0.0.1:{8100 + i}",  # LocalFederation sets the real one
        }
        if analysis and by_id[template].get("analyzer"):
            entry["analyzer"] = by_id[template]["analyzer"]
        entries.append(entry)
        conflict[pid] = demo["policy"][CONFLICT][template]
    everything = demo["policy"][RESULT]["mission"]
    config = {
        "federation": f"bench-{len(ids)}{'' if analysis else '-protocol-only'}",
        "serial": 1,
        "quorum": min(3, len(ids)),
        "key_validity_days": 30,
        "participants": entries,
        "policy": {CONFLICT: conflict, RESULT: dict.fromkeys(ids, everything)},
    }
    return config, ids


@contextmanager
def running(
    participants: Sequence[str],
    *,
    config: dict[str, Any] | None = None,
    postgres: str | None = None,
    start: Sequence[str] | None = None,
    config_extra: str = "",
    replicas: dict[str, int] | None = None,
) -> Iterator[LocalFederation]:
    """A federation in a temporary folder, its nodes (or only ``start``) running and ready;
    ``replicas``: more processes for a participant (PostgreSQL only)."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ch-bench-")))
        urls = stack.enter_context(private_databases(postgres, participants)) if postgres else {}
        federation = LocalFederation(
            tmp,
            tuple(participants),
            database_urls=urls,
            config=config,
            config_extra=config_extra,
            replicas=replicas,
        )
        federation.build()
        stack.callback(federation.stop)
        for p in start if start is not None else participants:
            federation.start(p)
        for p in start if start is not None else participants:
            federation.wait_ready(timeout=120, participant=p)
        yield federation


class Probe:
    """Memory and CPU of the running node processes of a federation, from ``/proc``."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, federation: LocalFederation) -> None:
        self.federation = federation

    def pids(self) -> dict[str, int]:
        """Each running process by name: the participant, or e.g. ``mission.replica1``."""
        return {
            n.log.stem: n.process.pid
            for n in self.federation.processes()
            if n.process is not None and n.running
        }

    @staticmethod
    def status_kib(pid: int, field: str) -> int:
        """A ``kB`` line of ``/proc/<pid>/status`` (VmHWM: peak RSS, VmRSS: current)."""
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    @classmethod
    def cpu_s(cls, pid: int) -> float:
        """User + system CPU seconds of the process so far."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / cls.TICK

    def peak_rss_mib(self) -> dict[str, float]:
        return {p: self.status_kib(pid, "VmHWM") / 1024 for p, pid in self.pids().items()}

    def rss_mib(self) -> dict[str, float]:
        return {p: self.status_kib(pid, "VmRSS") / 1024 for p, pid in self.pids().items()}

    def cpu(self) -> dict[str, float]:
        return {p: self.cpu_s(pid) for p, pid in self.pids().items()}


def ucdp_events(count: int | None, *, skip: int = 0) -> list[tuple[int, Any]]:
    """Real UCDP GED events as ``post_batches`` takes them: (line, record)."""
    items = feed_items(UCDP, None if count is None else skip + count)
    return items[skip:]


def ingest(
    federation: LocalFederation,
    items: list[tuple[int, Any]],
    *,
    participant: str = "mission",
    schema: str = CONFLICT,
    batch: int = 500,
) -> int:
    """Post ``items`` to ``participant`` in batches; return how many were accepted."""
    with federation.nodes[participant].client("submitter", timeout=600) as client:
        accepted, problems = post_batches(client, schema, iter(items), batch=batch)
    if problems:
        raise RuntimeError(f"{len(problems)} records refused; first: {problems[0]}")
    return accepted


def settled_but(offline: str) -> Callable[[dict[str, dict[str, Any]]], bool]:
    """Whether everything not owed to or by ``offline`` (which is down) is done."""

    def check(stats: dict[str, dict[str, Any]]) -> bool:
        return all(
            not s["analysis_queue"] and not any(n for r, n in s["pending"].items() if r != offline)
            for p, s in stats.items()
            if p != offline
        )

    return check


def wait_until(
    federation: LocalFederation,
    done: Callable[[dict[str, dict[str, Any]]], bool] | None = None,
    *,
    participants: Sequence[str] | None = None,
    timeout: float = 3600,
    poll: float = 0.25,
) -> float:
    """Poll the nodes' stats until ``done`` (default: the federation settled) holds twice in
    a row; return the :func:`time.monotonic` of the first of the two."""
    check = done or federation.settled
    deadline, first = time.monotonic() + timeout, None
    while True:
        seen = time.monotonic()
        names = participants or list(federation.nodes)
        if check({p: federation.stats(p) for p in names}):
            if first is not None:
                return first
            first = seen
        else:
            first = None
        if time.monotonic() > deadline:
            raise TimeoutError(f"federation not done after {timeout:.0f}s")
        time.sleep(poll)
