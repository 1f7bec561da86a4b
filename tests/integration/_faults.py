"""Fault injection for real node processes: kills, network partitions, locks, lost connections.

* :class:`FaultFederation`: a :class:`~node.localfed.LocalFederation` whose nodes may
  run inside network namespaces (``ip netns exec``), with an environment of their own
  (e.g. a shifted clock), and behind other URLs than their own port (a proxy): the
  manifest is re-signed with those ``base_url`` before the first start.
* :class:`Netns`: a bridge and one namespace per node, each node on its own address;
  :meth:`Netns.cut` drops a node's link (both directions), :meth:`Netns.heal` restores
  it. Everything is deleted on :meth:`Netns.close`, also after a failure.
* :func:`hold_sqlite_lock`: an exclusive lock on a node's SQLite database, held from
  another thread while a block runs.
* :func:`terminate_backends`: PostgreSQL ``pg_terminate_backend`` on every
  connection to one database (the node's, which must then reconnect).
* :func:`wait_settled`, :func:`wait_ready_url`: waiting on nodes that may be down.
* :func:`ucdp_events`: the demo's UCDP feed, read once.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from clearinghouse.node.keyfiles import read_private_key
from clearinghouse.node.localfed import FEEDS, ROOT, LocalFederation, feed_items
from clearinghouse.node.storage.db import make_engine
from clearinghouse.node.transport.local_api import NodeApiError
from clearinghouse.protocol.manifest import manifest_json, parse_manifest, sign_manifest

__all__ = [
    "IP",
    "FaultFederation",
    "Netns",
    "hold_sqlite_lock",
    "say",
    "sqlite_path",
    "terminate_backends",
    "ucdp_events",
    "wait_ready_url",
    "wait_settled",
]

IP = "/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "ip"


def say(message: str) -> None:
    """A line of the fault log, on the test's output (``pytest -s``, or on failure)."""
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


@functools.cache
def ucdp_events() -> tuple[tuple[int, Any], ...]:
    """All 16,566 UCDP GED events of the demo's feed, as ``(line, record)``."""
    items = tuple(feed_items(FEEDS[0], None))
    assert all(isinstance(record, dict) for _, record in items), "a UCDP row was refused"
    return items


class FaultFederation(LocalFederation):
    """Nodes with a command prefix (a namespace), an environment and a published URL of
    their own."""

    def __init__(self, root: Path, participants: tuple[str, ...], **options: Any) -> None:
        super().__init__(root, participants, **options)
        #: participant -> environment variables for its process only
        self.node_env: dict[str, dict[str, str]] = {}
        #: participant -> command prefix, e.g. ["ip", "netns", "exec", "ns1"]
        self.prefix: dict[str, list[str]] = {}

    def publish(self, base_urls: dict[str, str]) -> None:
        """Re-sign the manifest with these ``base_url`` (before any node first starts)."""

        def change(document: dict[str, Any]) -> None:
            for entry in document["participants"]:
                entry["base_url"] = base_urls.get(entry["id"], entry["base_url"])

        self._resign(change)

    def backdate(self, seconds: float) -> None:
        """Re-sign the manifest as issued ``seconds`` earlier, its keys valid from then (a
        node whose clock is behind must still find them valid)."""

        def change(document: dict[str, Any]) -> None:
            def earlier(value: str) -> str:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return (moment - timedelta(seconds=seconds)).isoformat()

            document["issued_at"] = earlier(document["issued_at"])
            for entry in document["participants"]:
                for key in entry["keys"]:
                    key["not_before"] = earlier(key["not_before"])

        self._resign(change)

    def _resign(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = json.loads(self.manifest_path.read_text())
        document["signatures"] = []
        change(document)
        manifest = parse_manifest(document)
        for signer in self.participants[: manifest.quorum]:
            key = read_private_key(self.root / "keys" / f"{signer}.key.pem")
            manifest = sign_manifest(manifest, signer, key)
        self.manifest_path.write_bytes(manifest_json(manifest))

    def start(self, participant: str | None = None) -> None:
        for node in self._processes(participant):
            if node.running:
                continue
            node.log.parent.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
            env.update(self.env)
            env.update(self.node_env.get(node.participant, {}))
            command = [
                sys.executable,
                "-m",
                "clearinghouse.node.cli.main",
                "run",
                "--config",
                str(node.config),
            ]
            with node.log.open("ab") as log:
                node.process = subprocess.Popen(
                    [*self.prefix.get(node.participant, []), *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                )

    def restart(self, participant: str, *, kill: bool = True, down_s: float = 0.0) -> float:
        """Kill (or stop) one node, leave it down ``down_s``, start it; seconds until ready."""
        self.stop(participant, kill=kill)
        time.sleep(down_s)
        started = time.monotonic()
        self.start(participant)
        self.wait_ready(timeout=120, participant=participant)
        return time.monotonic() - started


# -- network namespaces --------------------------------------------------------------------


def _ip(*args: str, netns: str | None = None) -> None:
    command = [IP, "netns", "exec", netns, IP, *args] if netns else [IP, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise OSError(f"{' '.join(command)}: {done.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that no interface of this machine is on."""
    shown = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True).stdout
    used = [ipaddress.IPv4Interface(m).network for m in re.findall(r"inet (\S+)", shown)]
    for _ in range(100):
        net = ipaddress.IPv4Network(
            f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}.0/24"
        )
        if not any(net.overlaps(u) for u in used):
            return net
    raise OSError("no free 10.x.y.0/24 subnet for the test network")


class Netns:
    """One bridge, one namespace per node; the test's process reaches every node through
    the bridge's address."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.bridge = f"chb{self.tag}"
        self.net = _free_subnet()
        self.hosts = list(self.net.hosts())
        self.namespaces: dict[str, str] = {}
        self.addresses: dict[str, str] = {}
        self._host_side: dict[str, str] = {}
        self._made_bridge = False

    @staticmethod
    def unavailable() -> str | None:
        """Why namespaces cannot be used here (None: they can)."""
        probe = f"chprobe{secrets.token_hex(2)}"
        try:
            _ip("netns", "add", probe)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        try:
            _ip("link", "set", "lo", "up", netns=probe)
            _ip("link", "add", f"{probe}a", "type", "veth", "peer", "name", f"{probe}b")
            _ip("link", "del", f"{probe}a")
        except OSError as exc:
            return str(exc)
        finally:
            with contextlib.suppress(OSError):
                _ip("netns", "del", probe)
        return None

    def __enter__(self) -> Netns:
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self._made_bridge = True
            _ip("addr", "add", f"{self.hosts[0]}/{self.net.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise
        return self

    def add(self, participant: str) -> str:
        """A namespace for ``participant``, linked to the bridge; its address."""
        i = len(self.namespaces) + 1
        ns, host_side, node_side = f"chf{self.tag}{i}", f"chh{self.tag}{i}", f"chn{self.tag}{i}"
        address = str(self.hosts[9 + i])
        _ip("netns", "add", ns)
        self.namespaces[participant] = ns
        _ip("link", "add", host_side, "type", "veth", "peer", "name", node_side)
        self._host_side[participant] = host_side
        _ip("link", "set", node_side, "netns", ns)
        _ip("link", "set", host_side, "master", self.bridge, "up")
        _ip("addr", "add", f"{address}/{self.net.prefixlen}", "dev", node_side, netns=ns)
        _ip("link", "set", node_side, "up", netns=ns)
        _ip("link", "set", "lo", "up", netns=ns)
        self.addresses[participant] = address
        return address

    def prefix(self, participant: str) -> list[str]:
        return [IP, "netns", "exec", self.namespaces[participant]]

    def cut(self, participant: str) -> None:
        _ip("link", "set", self._host_side[participant], "down")

    def heal(self, participant: str) -> None:
        _ip("link", "set", self._host_side[participant], "up")

    def close(self) -> None:
        for ns in self.namespaces.values():
            with contextlib.suppress(OSError):
                _ip("netns", "del", ns)  # its end of the veth goes with it, and so the pair
        for host_side in self._host_side.values():
            with contextlib.suppress(OSError):
                _ip("link", "del", host_side)
        if self._made_bridge:
            with contextlib.suppress(OSError):
                _ip("link", "del", self.bridge)

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- databases -----------------------------------------------------------------------------


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


@contextlib.contextmanager
def hold_sqlite_lock(database_url: str) -> Iterator[None]:
    """Hold an exclusive lock on the database (``BEGIN EXCLUSIVE``: no other writer) from
    another thread for as long as the block runs (its body runs with the lock held)."""
    held, release, failed = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            connection = sqlite3.connect(sqlite_path(database_url), timeout=60)
            try:
                connection.execute("BEGIN EXCLUSIVE")
                held.set()
                release.wait(timeout=600)
                connection.rollback()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            failed.append(exc)
            held.set()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait(timeout=60)
    if failed or not held.is_set():
        release.set()
        raise AssertionError(f"could not lock {database_url}: {failed[:1]}")
    try:
        yield
    finally:
        release.set()
        thread.join(timeout=60)


def terminate_backends(server_url: str, database: str) -> int:
    """Kill every connection to ``database`` (not this one); how many there were."""
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": database},
            ).scalar()
    finally:
        engine.dispose()
    return int(killed or 0)


# -- waiting -------------------------------------------------------------------------------


def wait_ready_url(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout:.0f}s")
        time.sleep(0.2)


def wait_settled(
    fed: LocalFederation,
    timeout: float = 300,
    participants: Sequence[str] | None = None,
    *,
    forged: int = 0,
) -> dict[str, dict[str, Any]]:
    """Until nothing is owed or queued anywhere and every view sent was taken, as
    accepted or refused (``forged``: views the test itself sent, not from any outbox) —
    twice in a row, since the nodes are read one after the other; the last stats."""
    deadline = time.monotonic() + timeout
    calm, stats = 0, {}
    while True:
        try:
            stats = {p: fed.stats(p) for p in participants or fed.nodes}
            sent = sum(s["sent"] + s["refused_by_peers"] for s in stats.values()) + forged
            taken = sum(
                s["accepted"] + s["rejected"] + s["quarantined"] + s.get("deferred", 0)
                for s in stats.values()
            )
            idle = all(not s["pending"] and not s["analysis_queue"] for s in stats.values())
            calm = calm + 1 if idle and sent == taken else 0
        except (httpx.HTTPError, NodeApiError):  # a node down or restarting: ask again
            calm = 0
        if calm >= 2:
            return stats
        if time.monotonic() > deadline:
            owed = {p: (s.get("pending"), s.get("analysis_queue")) for p, s in stats.items()}
            raise AssertionError(f"federation did not settle in {timeout:.0f}s: owed {owed}")
        time.sleep(0.5)
