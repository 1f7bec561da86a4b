"""A whole federation on this machine: keys, a quorum-signed manifest, one process per node.

Used by ``clearinghouse demo``, by the integration tests and by the benchmarks.
Each participant gets its own key, config, SQLite database (or a given database
URL), bearer tokens and a free loopback port, and runs as its own
``clearinghouse run`` process. A folder built once is reused on the next run
(same keys, manifest and ports; :mod:`.folder`).

``config`` replaces the federation config (``deploy/examples/federation.yaml``)
the manifest is built from, e.g. to declare no analyzers or more participants;
only the entries of ``participants`` are kept either way.

``pkcs11`` puts a participant's key in a PKCS#11 token (an HSM): the key, made there
beforehand (``clearinghouse hsm keygen``), signs the manifest while it is built, and
that node's config names the token instead of a key file (no PEM file is written).
The environment the token needs (e.g. ``SOFTHSM2_CONF``) goes in ``env``.

``replicas`` runs more processes for a participant: each is the same node (same
key, tokens and database, which must then be PostgreSQL) with a config of its own
on another port. The manifest's ``base_url`` points at the first process, so peers
call only that one; every process runs all the workers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearinghouse.node.localfed.config import (
    DEFAULT_PARTICIPANTS,
    ROOT,
    hash_tokens,
    load_federation_config,
    make_tokens,
    write_node_config,
)
from clearinghouse.node.localfed.folder import (
    PSEUDONYM_KEY,
    State,
    ensure_keys,
    ensure_manifest,
    ensure_pseudonym_key,
)
from clearinghouse.node.localfed.processes import start_process, stop_process, wait_ready
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers import Pkcs11Token
from clearinghouse.node.transport.local_api import LocalApiClient, open_client, tls_context
from clearinghouse.protocol.keys import public_jwk

if TYPE_CHECKING:
    import subprocess

    import httpx

__all__ = ["LocalFederation", "NodeHandle"]

#: The manifest's file in the folder (and relative to each node's config).
MANIFEST = "manifest.json"


@dataclass
class NodeHandle:
    """One process of a participant's node: where it listens, its config, database,
    bearer tokens (in clear, by role) and public key, its log, and the process."""

    participant: str
    url: str
    config: Path
    database_url: str
    tokens: dict[str, str]
    public_jwk: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, role: str = "admin", timeout: float = 60) -> httpx.Client:
        """An ``httpx.Client`` on this node with the token of ``role``."""
        return open_client(self.url, self.tokens[role], timeout=timeout, verify=tls_context())

    def api(self, role: str = "auditor", timeout: float = 60) -> LocalApiClient:
        """This node's API with the token of ``role`` (use it in ``with``)."""
        return LocalApiClient(self.client(role, timeout))

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
        pkcs11: Mapping[str, Pkcs11Settings] | None = None,
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
        #: participant -> its key in a PKCS#11 token, instead of a key file
        self.pkcs11 = dict(pkcs11 or {})
        self.nodes: dict[str, NodeHandle] = {}
        #: participant -> its extra processes (same node, other ports), see ``replicas``
        self.replica_nodes: dict[str, list[NodeHandle]] = {}
        self.manifest_path = root / MANIFEST

    # -- building --------------------------------------------------------------------------

    def build(self) -> None:
        """Create keys, tokens, configs and the signed manifest (or load those already there).

        Raises ``ValueError`` for replicas without a PostgreSQL database, or participants
        the federation config does not have."""
        self.root.mkdir(parents=True, exist_ok=True)
        for p in self.replicas:
            if self.database_urls.get(p, "sqlite:").startswith("sqlite"):
                raise ValueError(f"replicas of {p} need a PostgreSQL database_urls entry")
        state = State.load(self.root, self.participants, self.replicas)
        ensure_pseudonym_key(self.root)
        config = self.config if self.config is not None else load_federation_config()
        urls = {p: _url(state.ports[p]) for p in self.participants}
        with ExitStack() as tokens:  # open while the manifest is signed
            held = {
                p: tokens.enter_context(Pkcs11Token.from_settings(s)).key(s.key_label)
                for p, s in self.pkcs11.items()
            }
            keys = ensure_keys(self.root, self.participants, held)
            ensure_manifest(self.manifest_path, config, self.participants, keys, urls)
        for p in self.participants:
            database_url = self.database_urls.get(p, f"sqlite:///{self.root / (p + '.db')}")
            config_path = self.root / f"{p}.toml"
            if p not in state.tokens or not config_path.exists():
                state.tokens[p], _ = make_tokens()
                self._write_config(config_path, p, state.ports[p], database_url, state.tokens[p])
            self.nodes[p] = NodeHandle(
                participant=p,
                url=urls[p],
                config=config_path,
                database_url=database_url,
                tokens=state.tokens[p],
                public_jwk=public_jwk(keys[p]),
                log=self.root / "logs" / f"{p}.log",
            )
            ports = state.replica_ports.get(p, [])[: self.replicas.get(p, 0)]
            self.replica_nodes[p] = [self._replica(p, i, port) for i, port in enumerate(ports, 1)]
        state.save(self.root)

    def _write_config(
        self, path: Path, p: str, port: int, database_url: str, tokens: dict[str, str]
    ) -> None:
        """The config of one process of participant ``p`` (its tokens' hashes only)."""
        write_node_config(
            path,
            participant=p,
            key_file=None if p in self.pkcs11 else f"keys/{p}.key.pem",
            pkcs11=self.pkcs11.get(p),
            manifest_file=MANIFEST,
            database_url=database_url,
            port=port,
            token_hashes=hash_tokens(tokens),
            pseudonym_key_file=PSEUDONYM_KEY,
            extra=self.config_extra,
        )

    def _replica(self, p: str, i: int, port: int) -> NodeHandle:
        """Process ``i`` besides the first of participant ``p``: its own config and port
        (written each time, so that it always has the first process's tokens)."""
        first = self.nodes[p]
        config_path = self.root / f"{p}.replica{i}.toml"
        self._write_config(config_path, p, port, first.database_url, first.tokens)
        return NodeHandle(
            participant=p,
            url=_url(port),
            config=config_path,
            database_url=first.database_url,
            tokens=first.tokens,
            public_jwk=first.public_jwk,
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

    def processes_of(self, participant: str) -> list[NodeHandle]:
        """The processes of ``participant``: its first, then its replicas."""
        return list(self._processes(participant))

    def processes(self) -> list[NodeHandle]:
        """Every process of every node, replicas included."""
        return list(self._processes(None))

    def start(self, participant: str | None = None) -> None:
        """Start the processes of ``participant`` (default: every node) not running yet."""
        for node in self._processes(participant):
            start_process(node, env=self.env, cwd=ROOT)

    def wait_ready(self, timeout: float = 60.0, participant: str | None = None) -> None:
        """Wait until those processes answer ``/readyz``. Raises ``RuntimeError`` (one
        exited) or ``TimeoutError``."""
        wait_ready(self._processes(participant), timeout=timeout)

    def restart(self, node: NodeHandle, *, timeout: float = 60.0) -> None:
        """Start the process ``node`` again (same config, database and port) if it is not
        running, as :meth:`start` starts its participant's, and wait until it is ready;
        raises what :meth:`wait_ready` raises."""
        self.start(node.participant)
        wait_ready([node], timeout=timeout)

    def stop(self, participant: str | None = None, *, kill: bool = False) -> None:
        """Stop those processes: SIGTERM, or SIGKILL with ``kill``."""
        for node in self._processes(participant):
            stop_process(node, kill=kill)

    # -- what the nodes did ----------------------------------------------------------------

    def stats(self, participant: str) -> dict[str, Any]:
        """``/v1/local/stats`` of ``participant``'s node. Raises what
        :class:`~node.transport.local_api.LocalApiClient` raises."""
        with self.nodes[participant].api("auditor") as api:
            return api.stats()

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


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
