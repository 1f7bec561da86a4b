"""A local federation's node processes kept up, as a service supervisor would keep them.

:class:`Supervisor` looks after every process of a :class:`~.federation.LocalFederation`
while the demo drives it: a process that exited (killed, crashed) is reported (which
node, its exit code or signal) and started again on the same config and database
(``Restart=always`` in systemd's words), and the caller waits until it answers
``/readyz``. :meth:`Supervisor.call` runs a call on the nodes' API and, if a node cannot
be reached because its process went down, runs it again once the process is back; the
demo's stats polls, feeds and audit go through it, so that a node that dies mid-run
costs a restart and a catch-up, not the run.

A process that goes down more than :data:`MAX_RESTARTS` times, or does not come back,
ends the run with ``RuntimeError`` (naming it; the end of its log when it exits while
starting) or ``TimeoutError``. Once :attr:`Supervisor.stopping` is set (Ctrl+C, or the
caller is done) nothing is restarted any more. A process stopped on purpose
(:meth:`LocalFederation.stop`) is not looked after.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from clearinghouse.node.localfed.federation import LocalFederation, NodeHandle
from clearinghouse.node.transport.local_api import NodeUnreachable

__all__ = ["MAX_RESTARTS", "NodeDown", "Supervisor", "serve_until_stopped"]

#: How often one process may be restarted in one run before the supervisor gives up.
MAX_RESTARTS = 5
#: Seconds a node that cannot be reached, though its process runs, is given to answer
#: again (or for its process to be seen exiting) before the failure stands.
GRACE = 10.0
#: Seconds between two looks while waiting.
POLL = 0.2
#: Seconds a restarted node gets to answer ``/readyz``.
READY_TIMEOUT = 60.0

T = TypeVar("T")


@dataclass(frozen=True)
class NodeDown:
    """A process found exited: which (``mission`` or e.g. ``mission.replica1``), its pid,
    its exit status (negative: the signal that ended it) and its log."""

    name: str
    pid: int
    returncode: int
    log: Path

    @property
    def how(self) -> str:
        """How it ended, in words: ``killed by SIGKILL`` or ``exited with code 3``."""
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exited with code {self.returncode}"


def _cannot_reach(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a node that did not answer."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NodeUnreachable):
            return True
        seen = seen.__cause__
    return False


class Supervisor:
    """Restart the processes of ``federation`` that exit; report on ``console``."""

    def __init__(
        self,
        federation: LocalFederation,
        *,
        console: Console | None = None,
        stopping: threading.Event | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.federation = federation
        self.console = console or Console(stderr=True, highlight=False)
        #: set: restart nothing any more (the run is being stopped)
        self.stopping = stopping or threading.Event()
        self.ready_timeout = ready_timeout
        #: every process found down, in order
        self.downs: list[NodeDown] = []
        self._lock = threading.Lock()  # one restart at a time, whichever thread finds it

    def check(self) -> list[NodeDown]:
        """Restart every process that has exited, each ready before this returns; what
        was found down. Raises ``RuntimeError`` for a process down too often, or one
        that exits again while starting, and ``TimeoutError`` for one not ready in time."""
        with self._lock:
            found = []
            for node in self.federation.processes():
                if self.stopping.is_set():
                    break
                down = self._exited(node)
                if down is not None:
                    self._restart(node, down)
                    found.append(down)
            return found

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until every process answers ``/readyz`` (all within ``timeout`` seconds);
        one that exits meanwhile is restarted, as :meth:`check` restarts it. Raises what
        :meth:`check` and :meth:`LocalFederation.wait_ready` raise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.federation.wait_ready(timeout=max(deadline - time.monotonic(), POLL))
                return
            except RuntimeError:  # a process exited while starting
                if self.stopping.is_set() or not self.check():
                    raise

    def _exited(self, node: NodeHandle) -> NodeDown | None:
        process = node.process
        if process is None or process.poll() is None:
            return None
        return NodeDown(node.log.stem, process.pid, process.returncode, node.log)

    def _restart(self, node: NodeHandle, down: NodeDown) -> None:
        self.downs.append(down)
        times = sum(1 for d in self.downs if d.name == down.name)
        self.console.print(
            f"[bold red]node {down.name} went down[/] (pid {down.pid}, {down.how}; "
            f"log: {down.log})",
            soft_wrap=True,
        )
        if times > MAX_RESTARTS:
            raise RuntimeError(f"node {down.name} went down {times} times; not restarting it")
        self.console.print(f"restarting {down.name} on the same config and database")
        started = time.monotonic()
        self.federation.restart(node, timeout=self.ready_timeout)
        self.console.print(
            f"node {down.name} is back (ready in {time.monotonic() - started:.1f} s); "
            "the federation catches up"
        )

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()``; if a node cannot be reached because its process went down, restart
        it and run ``fn()`` again. A failure for any other reason, a node unreachable
        for longer than :data:`GRACE` while its process runs, or any failure once
        :attr:`stopping` is set, is raised as it is."""
        deadline: float | None = None
        while True:
            try:
                return fn()
            except Exception as exc:
                if self.stopping.is_set() or not _cannot_reach(exc):
                    raise
                if self.check():
                    deadline = None
                    continue
                deadline = deadline or time.monotonic() + GRACE
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL)


def serve_until_stopped(
    supervisor: Supervisor, stop: threading.Event, *, poll: float = 1.0
) -> None:
    """Keep the federation's nodes serving until ``stop`` is set: every ``poll`` seconds,
    restart any that went down. Sets :attr:`Supervisor.stopping` on the way out."""
    try:
        while not stop.wait(poll):
            supervisor.check()
    finally:
        supervisor.stopping.set()
