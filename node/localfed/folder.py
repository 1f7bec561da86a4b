"""A local federation's folder: its state, keys and signed manifest, made once, then reused.

The folder holds ``state.json`` (0600: each node's port and bearer tokens, and the
replicas' ports), ``keys/`` (each participant's private key and JWK, and the shared
pseudonymisation key) and ``manifest.json``, signed by the first quorum of
participants. Each function here makes its part if it is missing and otherwise
reads what an earlier run left, so that a folder built once runs again with the
same keys, manifest and ports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearinghouse.node.declarations import resolve_analyzers
from clearinghouse.node.keyfiles import (
    read_private_key,
    write_jwk,
    write_private_key,
    write_pseudonym_key,
    write_secret,
)
from clearinghouse.node.localfed.config import restrict_federation
from clearinghouse.node.localfed.processes import free_ports
from clearinghouse.protocol.keys import Signer, generate_private_key, public_jwk
from clearinghouse.protocol.manifest import build_manifest, manifest_json, sign_manifest

__all__ = ["PSEUDONYM_KEY", "State", "ensure_keys", "ensure_manifest", "ensure_pseudonym_key"]

#: The shared pseudonymisation key, relative to the folder (and to each node's config).
PSEUDONYM_KEY = "keys/pseudonym.key"


@dataclass
class State:
    """What ``state.json`` keeps between runs."""

    #: participant -> the port of its (first) process
    ports: dict[str, int]
    #: participant -> role -> bearer token, in clear
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    #: participant -> the ports of its other processes (replicas)
    replica_ports: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, participants: tuple[str, ...], replicas: Mapping[str, int]) -> State:
        """The folder's state, with a free port for each process that has none yet."""
        path = root / "state.json"
        if path.exists():
            saved = json.loads(path.read_text())
            state = cls(saved["ports"], saved["tokens"], saved.get("replica_ports", {}))
        else:
            state = cls({})
        # every port drawn at once, so that no two processes are given the same one
        wanted = [p for p in participants if p not in state.ports]
        more = {p: max(n - len(state.replica_ports.get(p, [])), 0) for p, n in replicas.items()}
        fresh = iter(free_ports(len(wanted) + sum(more.values())))
        state.ports.update({p: next(fresh) for p in wanted})
        for p, n in more.items():
            state.replica_ports.setdefault(p, []).extend(next(fresh) for _ in range(n))
        return state

    def save(self, root: Path) -> None:
        """Write ``state.json`` (0600: it holds every token in clear)."""
        write_secret(root / "state.json", json.dumps(asdict(self), indent=2).encode(), replace=True)


def ensure_pseudonym_key(root: Path) -> None:
    """The shared pseudonymisation key, made if missing."""
    path = root / PSEUDONYM_KEY
    if not path.exists():
        write_pseudonym_key(path)


def ensure_keys(
    root: Path, participants: tuple[str, ...], held: Mapping[str, Signer] | None = None
) -> dict[str, Signer]:
    """Each participant's private key (``keys/ID.key.pem``, with ``keys/ID.jwk.json``),
    made if missing; a participant in ``held`` signs with that key (one in a PKCS#11
    token), of which only ``keys/ID.jwk.json`` is written."""
    keys: dict[str, Signer] = {}
    for p in participants:
        if held and p in held:
            keys[p] = held[p]
            write_jwk(root / "keys" / f"{p}.jwk.json", held[p])
            continue
        key_path = root / "keys" / f"{p}.key.pem"
        if key_path.exists():
            keys[p] = read_private_key(key_path)
        else:
            made = generate_private_key()
            write_private_key(key_path, made, None)
            write_jwk(root / "keys" / f"{p}.jwk.json", made)
            keys[p] = made
    return keys


def ensure_manifest(
    path: Path,
    config: Mapping[str, Any],
    participants: tuple[str, ...],
    keys: Mapping[str, Signer],
    base_urls: Mapping[str, str],
) -> None:
    """The manifest of ``config`` restricted to ``participants`` at ``base_urls``, with
    their keys, signed by the first quorum of them; made if ``path`` is missing."""
    if path.exists():
        return
    restricted = restrict_federation(config, {p: base_urls[p] for p in participants})
    manifest = build_manifest(
        resolve_analyzers(restricted),
        {p: [public_jwk(keys[p])] for p in participants},
        issued_at=datetime.now(UTC).replace(microsecond=0),
    )
    for signer in participants[: manifest.quorum]:
        manifest = sign_manifest(manifest, signer, keys[signer])
    path.write_bytes(manifest_json(manifest))
