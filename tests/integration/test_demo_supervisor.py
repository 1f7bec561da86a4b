"""The demo on a real three-node federation (``clearinghouse run`` processes) whose nodes
die under it, then kept serving as ``--keep-running`` keeps it.

While the demo feeds the federation, mission's process is killed (SIGKILL) before one
of the batches; as the demo first reads the nodes' counts to see them settle, dpa's is.
The demo names each node that went down and how, restarts it on the same config and
database, and ends with the exact counts and every audit log verified. Then the nodes
keep serving until a stop event is set: a node killed meanwhile comes back, and a
sign-in link minted on mission signs a browser-less client in once.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from rich.console import Console

from clearinghouse.node.localfed import (
    LocalFederation,
    Supervisor,
    audit_federation,
    run_demo,
    serve_until_stopped,
    sign_in_link,
)
from clearinghouse.node.transport.local_api import node_ready
from tests.integration.test_audit_federation import FAST
from tests.nodes import running_federation
from tests.ui_sessions import COOKIE, session_cookie

PARTICIPANTS = ("mission", "unodc", "dpa")
#: Records of each feed (mission's UCDP events, unodc's seizures), in batches of BATCH.
RECORDS, BATCH = 40, 10
#: mission is killed before this call of the demo on the nodes (a batch of a feed)
KILL_MISSION_AT = 3
KILLED = "killed by SIGKILL"

T = TypeVar("T")


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    root = tmp_path_factory.mktemp("demo-supervisor")
    with running_federation(root, PARTICIPANTS, config_extra=FAST) as federation:
        yield federation


def kill(fed: LocalFederation, participant: str) -> None:
    """SIGKILL to ``participant``'s process, returning once it is dead."""
    process = fed.nodes[participant].process
    assert process is not None and process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


class Killing(Supervisor):
    """The demo's supervisor, with the faults the module docstring describes."""

    def __init__(self, federation: LocalFederation, console: Console) -> None:
        super().__init__(federation, console=console)
        self.calls = 0
        self.killed: list[str] = []
        self._counting = threading.Lock()  # the feeds call from threads of their own

    def call(self, fn: Callable[[], T]) -> T:
        with self._counting:
            self.calls += 1
            if self.calls == KILL_MISSION_AT:
                kill(self.federation, "mission")
                self.killed.append("mission")
            if fn == self.federation.all_stats and "dpa" not in self.killed:
                kill(self.federation, "dpa")
                self.killed.append("dpa")
        return super().call(fn)


def check_exact_counts(summary: dict[str, Any]) -> None:
    """Every record issued once, every view and result delivered once, nothing refused."""
    nodes = summary["nodes"]
    assert summary["feeds"] == {
        "UCDP events at mission": RECORDS,
        "UNODC seizures at unodc": RECORDS,
    }
    assert summary["records"] == 2 * RECORDS
    for p, n in nodes.items():
        fed_here = RECORDS if p in ("mission", "unodc") else 0
        assert n["issued"] == fed_here + n["results_issued"], (p, n)
        assert n["received"] == n["accepted"] + n["duplicates"], (p, n)
        assert n["rejected"] == 0 and n["quarantined"] == 0, (p, n)
    results = sum(n["results_issued"] for n in nodes.values())
    assert results > 0
    for n in nodes.values():
        assert n["results_received"] == results - n["results_issued"]
    assert sum(n["sent"] for n in nodes.values()) == sum(n["accepted"] for n in nodes.values())


def test_nodes_killed_during_the_demo_are_restarted_and_the_counts_are_exact(
    fed: LocalFederation,
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False)
    supervisor = Killing(fed, console)
    pids = {p: node.process.pid for p, node in fed.nodes.items() if node.process}

    summary = run_demo(fed, records=RECORDS, batch=BATCH, console=console, supervisor=supervisor)
    assert supervisor.killed == ["mission", "dpa"]
    assert summary["restarts"] == [
        {"node": "mission", "how": KILLED},
        {"node": "dpa", "how": KILLED},
    ]
    said = out.getvalue()
    for p in ("mission", "dpa"):
        assert f"node {p} went down (pid {pids[p]}, {KILLED}" in said
        assert f"restarting {p} on the same config and database" in said
        assert f"node {p} is back" in said
    assert "Traceback" not in said and "ConnectError" not in said
    check_exact_counts(summary)
    # the same processes again, on their ports, still serving
    for p, node in fed.nodes.items():
        assert node.running and node_ready(node.url)
        assert (node.process is not None and node.process.pid != pids[p]) == (p != "unodc")

    report = audit_federation(fed, console=console, supervisor=supervisor)
    assert set(report) == set(PARTICIPANTS)
    assert all(r["entries"] > 0 and r["checkpoints"] > 0 for r in report.values())
    assert len(supervisor.downs) == 2  # nothing else went down


def test_kept_running_the_nodes_serve_and_a_link_signs_in_once(fed: LocalFederation) -> None:
    supervisor = Supervisor(fed, console=Console(file=io.StringIO()))
    stop = threading.Event()
    serving = threading.Thread(
        target=serve_until_stopped, args=(supervisor, stop), kwargs={"poll": 0.2}
    )
    serving.start()
    try:
        assert all(node_ready(node.url) for node in fed.nodes.values())
        kill(fed, "unodc")  # a node that goes down while the federation is on show
        deadline = time.monotonic() + 60
        while not (supervisor.downs and node_ready(fed.nodes["unodc"].url)):
            assert time.monotonic() < deadline, "unodc was not restarted"
            time.sleep(0.2)
        assert [(d.name, d.how) for d in supervisor.downs] == [("unodc", KILLED)]

        link = sign_in_link(fed.nodes["mission"], "analyst")
        assert link.token == "analyst" and link.url.startswith(fed.nodes["mission"].url)
        signed_in = httpx.get(link.url, follow_redirects=False, timeout=30)
        assert signed_in.headers["location"] == "/ui/situation"
        session = session_cookie(signed_in)
        page = httpx.get(
            fed.nodes["mission"].url + "/ui/situation",
            headers={"cookie": f"{COOKIE}={session}"},
            follow_redirects=False,
            timeout=30,
        )
        assert page.status_code == 200, page.text[:300]
        again = httpx.get(link.url, follow_redirects=False, timeout=30)
        assert again.status_code == 404 and "set-cookie" not in again.headers
    finally:
        stop.set()
        serving.join(timeout=30)
    assert not serving.is_alive() and supervisor.stopping.is_set()
    # the caller stops the nodes (the CLI, or this module's fixture): they still run
    assert all(node.running for node in fed.nodes.values())
