"""A local node as a process: a free port, ``clearinghouse run`` started, ready, stopped.

Each node runs as ``python -m clearinghouse.node.cli.main run --config FILE`` with
its output appended to its log file, in an environment without the caller's
``CLEARINGHOUSE_*`` variables (a node is configured by its file and by what the
federation sets on purpose). Readiness is the node's own ``/readyz``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from clearinghouse.node.transport.local_api import node_ready

__all__ = ["NodeProcess", "free_port", "free_ports", "start_process", "stop_process", "wait_ready"]

#: Seconds a node gets to stop after SIGTERM, then after SIGKILL.
STOP_TIMEOUT, KILL_TIMEOUT = 20, 10


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a node to take)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on now.

    Each is held until all are drawn: a port given back at once may be drawn again, and
    two nodes given one port would be one node answering for both (the other fails to
    bind, while its address still answers)."""
    with ExitStack() as held:
        ports = []
        for _ in range(count):
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


class NodeProcess(Protocol):
    """What this module needs of a node: where it listens, its config and log, and the
    process it runs as (None while stopped)."""

    url: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None


def start_process(
    node: NodeProcess, *, env: Mapping[str, str], cwd: Path, prefix: Sequence[str] = ()
) -> None:
    """Start ``node`` (unless it runs), its output appended to its log; ``env`` is set on
    top of this environment without its ``CLEARINGHOUSE_*`` variables. ``prefix`` is put
    before the command (e.g. ``ip netns exec NAME``, to run it elsewhere)."""
    if node.process is not None and node.process.poll() is None:
        return
    node.log.parent.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    environment.update(env)
    command = [sys.executable, "-m", "clearinghouse.node.cli.main", "run"]
    with node.log.open("ab") as log:
        node.process = subprocess.Popen(
            [*prefix, *command, "--config", str(node.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
        )


def wait_ready(nodes: Iterable[NodeProcess], *, timeout: float) -> None:
    """Wait until every node answers ``/readyz``, all within ``timeout`` seconds.

    Raises ``RuntimeError`` (with the end of its log) if a node's process exits, and
    ``TimeoutError`` if one is not ready in time."""
    deadline = time.monotonic() + timeout
    for node in nodes:
        name = node.log.stem  # the participant, or e.g. "mission.replica1"
        while True:
            if node.process is not None and node.process.poll() is not None:
                tail = node.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"node {name} exited with {node.process.returncode}:\n{tail}")
            if node_ready(node.url):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {name} not ready after {timeout:.0f}s; see {node.log}")
            time.sleep(0.1)


def stop_process(node: NodeProcess, *, kill: bool = False) -> None:
    """Stop ``node``: SIGTERM (SIGKILL with ``kill``), then SIGKILL if it does not exit."""
    if node.process is None:
        return
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            node.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=KILL_TIMEOUT)
    node.process = None
