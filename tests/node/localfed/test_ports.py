"""Every process of a local federation gets a port of its own (node.localfed)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from clearinghouse.node.localfed.folder import State
from clearinghouse.node.localfed.processes import free_ports


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(64)
    assert len(set(ports)) == 64
    for port in ports[:8]:  # given back: each can be taken now
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_a_new_folder_gives_every_process_its_own_port(tmp_path: Path) -> None:
    """A port drawn and given back may be drawn again; two nodes given one port were one
    node answering for both (seen once in `bench scale` at 16 participants)."""
    participants = tuple(f"body{i}" for i in range(16))
    state = State.load(tmp_path, participants, {"body0": 2, "body3": 1})
    ports = [*state.ports.values(), *(p for ps in state.replica_ports.values() for p in ps)]
    assert sorted(state.ports) == sorted(participants) and len(ports) == 19
    assert len(set(ports)) == 19


def test_a_saved_folder_keeps_its_ports_and_adds_only_what_is_missing(tmp_path: Path) -> None:
    saved = {"ports": {"a": 1111, "b": 2222}, "tokens": {}, "replica_ports": {"a": [3333]}}
    (tmp_path / "state.json").write_text(json.dumps(saved))
    state = State.load(tmp_path, ("a", "b", "c"), {"a": 2, "b": 0})
    assert (state.ports["a"], state.ports["b"]) == (1111, 2222)
    assert state.replica_ports["a"][0] == 3333 and len(state.replica_ports["a"]) == 2
    assert state.replica_ports["b"] == []
    fresh = [state.ports["c"], state.replica_ports["a"][1]]
    assert len(set(fresh)) == 2 and not set(fresh) & {1111, 2222, 3333}
