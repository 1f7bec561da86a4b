"""A participant's processes, in the order feeds are spread over them: first, then replicas."""

from __future__ import annotations

from pathlib import Path

from clearinghouse.node.localfed import LocalFederation


def test_processes_of_lists_the_first_process_then_each_replica(tmp_path: Path) -> None:
    federation = LocalFederation(
        tmp_path,
        ("mission", "unodc"),
        # never connected to: building writes keys, configs and the manifest only
        database_urls={"mission": "postgresql://postgres@127.0.0.1:1/absent"},
        replicas={"mission": 2},
    )
    federation.build()
    mission = federation.processes_of("mission")
    assert [n.log.stem for n in mission] == ["mission", "mission.replica1", "mission.replica2"]
    assert len({n.url for n in mission}) == 3
    assert {n.database_url for n in mission} == {"postgresql://postgres@127.0.0.1:1/absent"}
    assert [n.log.stem for n in federation.processes_of("unodc")] == ["unodc"]
