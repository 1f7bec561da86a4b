"""A whole federation on this machine: keys, a quorum-signed manifest, one process per node.

Used by ``clearinghouse demo``, by the integration tests and by the benchmarks.
Each participant gets its own key, config, SQLite database (or a given database
URL), bearer tokens and a free loopback port, and runs as its own
``clearinghouse run`` process. A folder built once is reused on the next run
(same keys, manifest and ports).

``config`` replaces the federation config (``deploy/examples/federation.yaml``)
the manifest is built from, e.g. to declare no analyzers or more participants;
only the entries of ``participants`` are kept either way.

``replicas`` runs more processes for a participant: each is the same node (same
key, tokens and database, which must then be PostgreSQL) with a config of its own
on another port. The manifest's ``base_url`` points at the first process, so peers
call only that one; every process runs all the workers.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from clearinghouse.node.cli.node_init import make_tokens, write_node_config
from clearinghouse.node.declarations import resolve_analyzers
from clearinghouse.node.keyfiles import (
    read_private_key,
    write_jwk,
    write_private_key,
    write_pseudonym_key,
    write_secret,
)
from clearinghouse.protocol.keys import generate_private_key, public_jwk
from clearinghouse.protocol.manifest import build_manifest, manifest_json, sign_manifest

__all__ = ["DEFAULT_PARTICIPANTS", "FEDERATION_YAML", "LocalFederation", "NodeHandle"]

ROOT = Path(__file__).resolve().parent.parent
FEDERATION_YAML = ROOT / "deploy" / "examples" / "federation.yaml"
DEFAULT_PARTICIPANTS = ("mission", "unodc", "dpa", "undp", "sanctions")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client made here: httpx builds a new one (loading the
    CA bundle, ~10-100 ms of CPU) per client otherwise, and the local nodes speak plain
    HTTP anyway. Polling loops made that the driver's largest cost."""
    return ssl.create_default_context()


@dataclass
class NodeHandle:
    participant: str
    url: str
    config: Path
    database_url: str
    tokens: dict[str, str]
    public_jwk: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, role: str = "admin", timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            timeout=timeout,
            verify=tls_context(),
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalFederation:
    """Build (or reuse) a federation in ``root`` and run its nodes as processes."""

    def __init__(
        self,
        root: Path,
        participants: tuple[str, ...] = DEFAULT_PARTICIPANTS,
        *,
        database_urls: dict[str, str] | None = None,
        config_extra: str = "",
        env: dict[str, str] | None = None,
        replicas: dict[str, int] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.participants = participants
        self.database_urls = database_urls or {}
        self.config_extra = config_extra
        self.env = env or {}
        #: participant -> how many processes to run besides the one in ``nodes``
        self.replicas = replicas or {}
        #: the federation config (as in federation.yaml); None: FEDERATION_YAML
        self.config = config
        self.nodes: dict[str, NodeHandle] = {}
        #: participant -> its extra processes (same node, other ports), see ``replicas``
        self.replica_nodes: dict[str, list[NodeHandle]] = {}
        self.manifest_path = root / "manifest.json"

    # -- building --------------------------------------------------------------------------

    def build(self) -> None:
        """Create keys, tokens, configs and the signed manifest (or load those already there)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for p in self.replicas:
            if self.database_urls.get(p, "sqlite:").startswith("sqlite"):
                raise ValueError(f"replicas of {p} need a PostgreSQL database_urls entry")
        state_file = self.root / "state.json"
        if state_file.exists():
            state = json.loads(state_file.read_text())
        else:
            state = {"ports": {p: free_port() for p in self.participants}, "tokens": {}}
        replica_ports = state.setdefault("replica_ports", {})
        for p, count in self.replicas.items():
            ports = replica_ports.setdefault(p, [])
            ports += [free_port() for _ in range(count - len(ports))]
        pseudonym = self.root / "keys" / "pseudonym.key"
        if not pseudonym.exists():
            write_pseudonym_key(pseudonym)
        keys = {}
        for p in self.participants:
            key_path = self.root / "keys" / f"{p}.key.pem"
            if key_path.exists():
                keys[p] = read_private_key(key_path)
            else:
                keys[p] = generate_private_key()
                write_private_key(key_path, keys[p], None)
                write_jwk(self.root / "keys" / f"{p}.jwk.json", keys[p])
        if not self.manifest_path.exists():
            config = (
                copy.deepcopy(dict(self.config))
                if self.config is not None
                else yaml.safe_load(FEDERATION_YAML.read_text())
            )
            chosen = set(self.participants)
            config["participants"] = [
                {**entry, "base_url": f"http://127.0.0.1:{state['ports'][entry['id']]}"}
                for entry in config["participants"]
                if entry["id"] in chosen
            ]
            config["policy"] = {
                schema: {r: rules for r, rules in per.items() if r in chosen}
                for schema, per in config["policy"].items()
            }
            config["quorum"] = min(config["quorum"], len(self.participants))
            manifest = build_manifest(
                resolve_analyzers(config),
                {p: [public_jwk(k)] for p, k in keys.items()},
                issued_at=datetime.now(UTC).replace(microsecond=0),
            )
            for signer in self.participants[: manifest.quorum]:
                manifest = sign_manifest(manifest, signer, keys[signer])
            self.manifest_path.write_bytes(manifest_json(manifest))
        for p in self.participants:
            config_path = self.root / f"{p}.toml"
            database_url = self.database_urls.get(p, f"sqlite:///{self.root / (p + '.db')}")
            if p not in state["tokens"] or not config_path.exists():
                plain, hashes = make_tokens()
                state["tokens"][p] = plain
                write_node_config(
                    config_path,
                    participant=p,
                    key_file=f"keys/{p}.key.pem",
                    manifest_file="manifest.json",
                    database_url=database_url,
                    port=state["ports"][p],
                    token_hashes=hashes,
                    pseudonym_key_file="keys/pseudonym.key",
                    extra=self.config_extra,
                )
            self.nodes[p] = NodeHandle(
                participant=p,
                url=f"http://127.0.0.1:{state['ports'][p]}",
                config=config_path,
                database_url=database_url,
                tokens=state["tokens"][p],
                public_jwk=public_jwk(keys[p]),
                log=self.root / "logs" / f"{p}.log",
            )
            self.replica_nodes[p] = [
                self._replica(p, i, port, database_url, state["tokens"][p])
                for i, port in enumerate(replica_ports.get(p, [])[: self.replicas.get(p, 0)], 1)
            ]
        write_secret(state_file, json.dumps(state, indent=2).encode(), replace=True)

    def _replica(
        self, p: str, i: int, port: int, database_url: str, tokens: dict[str, str]
    ) -> NodeHandle:
        """Process ``i`` besides the first of participant ``p``: its own config and port
        (written each time, so that it always has the first process's tokens)."""
        config_path = self.root / f"{p}.replica{i}.toml"
        write_node_config(
            config_path,
            participant=p,
            key_file=f"keys/{p}.key.pem",
            manifest_file="manifest.json",
            database_url=database_url,
            port=port,
            token_hashes={r: hashlib.sha256(t.encode()).hexdigest() for r, t in tokens.items()},
            pseudonym_key_file="keys/pseudonym.key",
            extra=self.config_extra,
        )
        return NodeHandle(
            participant=p,
            url=f"http://127.0.0.1:{port}",
            config=config_path,
            database_url=database_url,
            tokens=tokens,
            public_jwk=self.nodes[p].public_jwk,
            log=self.root / "logs" / f"{p}.replica{i}.log",
        )

    def describe(self) -> dict[str, Any]:
        """What operators need to work against the running federation."""
        return {
            "participants": {
                p: {
                    "url": n.url,
                    "admin_token": n.tokens["admin"],
                    "submitter_token": n.tokens["submitter"],
                    "analyst_token": n.tokens["analyst"],
                    "auditor_token": n.tokens["auditor"],
                    "database_url": n.database_url,
                    "config": str(n.config),
                    "public_jwk": n.public_jwk,
                }
                for p, n in self.nodes.items()
            },
            "manifest": str(self.manifest_path),
        }

    # -- processes -------------------------------------------------------------------------

    def _processes(self, participant: str | None) -> Iterator[NodeHandle]:
        """The processes of ``participant`` (default: of everyone), replicas included."""
        for p in [participant] if participant else list(self.nodes):
            yield self.nodes[p]
            yield from self.replica_nodes.get(p, [])

    def start(self, participant: str | None = None) -> None:
        for node in self._processes(participant):
            if node.running:
                continue
            node.log.parent.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
            env.update(self.env)
            with node.log.open("ab") as log:
                node.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "clearinghouse.node.cli.main",
                        "run",
                        "--config",
                        str(node.config),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                )

    def wait_ready(self, timeout: float = 60.0, participant: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        for node in self._processes(participant):
            name = node.log.stem  # the participant, or e.g. "mission.replica1"
            while True:
                if node.process is not None and node.process.poll() is not None:
                    tail = node.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(
                        f"node {name} exited with {node.process.returncode}:\n{tail}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    ready = httpx.get(f"{node.url}/readyz", timeout=2, verify=tls_context())
                    if ready.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"node {name} not ready after {timeout:.0f}s; see {node.log}"
                    )
                time.sleep(0.1)

    def stop(self, participant: str | None = None, *, kill: bool = False) -> None:
        for node in self._processes(participant):
            if node.process is None:
                continue
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    node.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(timeout=10)
            node.process = None

    def stats(self, participant: str) -> dict[str, Any]:
        with self.nodes[participant].client("auditor") as client:
            response = client.get("/v1/local/stats")
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]

    def all_stats(self) -> dict[str, dict[str, Any]]:
        return {p: self.stats(p) for p in self.nodes}

    def settled(self, stats: dict[str, dict[str, Any]] | None = None) -> bool:
        """Nothing owed or queued anywhere, and every view sent was stored as accepted or
        refused."""
        stats = stats or self.all_stats()
        sent = sum(s["sent"] + s["refused_by_peers"] for s in stats.values())
        taken = sum(s["accepted"] + s["rejected"] + s["quarantined"] for s in stats.values())
        idle = all(not s["pending"] and not s.get("analysis_queue") for s in stats.values())
        return idle and sent == taken

    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
