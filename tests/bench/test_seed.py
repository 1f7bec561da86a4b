"""The memory benchmark's seeding writes what the node writes when it stores packets.

The same real packets (mission's events and results, dpa's and unodc's results) are
written twice: by :func:`bench._seed.seed` in bulk, and one at a time through the
node's own ``packets.add_issued`` and ``packets.add_received``. Every stored row and
every row of the situation's index must come out the same, but for the fresh jti and
digest each seeded copy gets (and so which of several versions of one finding is the
latest: the one with the greatest jti).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bench._local import DEMO_FOUR, federation_config
from bench._seed import NODE, Templates, analyses, packet_rows, seed, templates
from clearinghouse.node.localfed import LocalFederation
from clearinghouse.node.storage._core import table_of
from clearinghouse.node.storage.db import make_engine, transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import (
    PacketActor,
    PacketPlace,
    SituationFinding,
    StoredPacket,
)
from clearinghouse.node.storage.packets import add_issued, add_received
from clearinghouse.protocol.manifest import parse_manifest

RESULT_EVERY = 3  # many results among few packets, each template used once
FRESH = {"jti", "digest", "result_jti", "result_sha256"}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Templates, datetime]:
    config, ids = federation_config(DEMO_FOUR)
    built = LocalFederation(tmp_path_factory.mktemp("federation"), ids, config=config)
    built.build()
    manifest = parse_manifest(built.manifest_path.read_bytes())
    now = datetime.now(UTC).replace(microsecond=0)
    return templates(built.root, manifest, analyses(150), now), now


def _once_each(t: Templates) -> int:
    """The most packets that use no template twice (a view is stored once by the node)."""
    return max(
        n
        for n in range(len(t.events) + len(t.results) + 1)
        if n // RESULT_EVERY <= len(t.results) and n - n // RESULT_EVERY <= len(t.events)
    )


def _stored_one_by_one(url: str, used: list[dict[str, Any]], now: datetime) -> Engine:
    engine = make_engine(url)
    upgrade(url, engine=engine)
    for template in used:
        with transaction(engine) as session:
            if template["origin"] == "local":
                add_issued(session, [template["packet"]], issuer=NODE, kid=template["kid"],
                           now=now)  # fmt: skip
            else:
                add_received(session, [template["packet"]], origin=template["origin"], now=now)
    return engine


def _rows(engine: Engine, model: Any, key: tuple[str, ...]) -> dict[Any, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(table_of(model))).mappings().all()
    return {tuple(r[k] for k in key): {k: v for k, v in r.items() if k not in FRESH} for r in rows}


def test_seeded_packets_are_stored_and_indexed_as_the_node_stores_them(
    federation: tuple[Templates, datetime], tmp_path: Path
) -> None:
    t, now = federation
    count = _once_each(t)
    _, _, used = packet_rows(t, 0, count, now, random.Random(8), result_every=RESULT_EVERY)
    seeded_url = f"sqlite:///{tmp_path / 'seeded.db'}"

    seed(seeded_url, t, count, now, result_every=RESULT_EVERY)

    seeded, stored = (
        make_engine(seeded_url),
        _stored_one_by_one(f"sqlite:///{tmp_path / 'stored.db'}", used, now),
    )
    try:
        for model, key in (
            (StoredPacket, ("id",)),
            (PacketPlace, ("packet_id",)),
            (PacketActor, ("packet_id", "actor_key")),
        ):
            assert _rows(seeded, model, key) == _rows(stored, model, key), model.__name__
        findings = {
            name: _rows(engine, SituationFinding, ("packet_id", "finding_no"))
            for name, engine in (("seeded", seeded), ("stored", stored))
        }
    finally:
        seeded.dispose()
        stored.dispose()
    for rows in findings.values():
        latest: dict[str, int] = {}
        for row in rows.values():
            latest[row["identity_sha256"]] = latest.get(row["identity_sha256"], 0) + row["latest"]
        assert set(latest.values()) == {1}  # one version of each finding shown
    without_latest = {
        name: {k: {c: v for c, v in row.items() if c not in ("id", "latest")}
               for k, row in rows.items()}
        for name, rows in findings.items()
    }  # fmt: skip
    assert without_latest["seeded"] == without_latest["stored"]
    assert {row["participant"] for row in findings["seeded"].values()} == {
        "mission",
        "dpa",
        "unodc",
    }


def test_seeded_events_are_located_and_name_their_sides(
    federation: tuple[Templates, datetime], tmp_path: Path
) -> None:
    t, now = federation
    url = f"sqlite:///{tmp_path / 'seeded.db'}"

    seed(url, t, 500, now)

    engine = make_engine(url)
    try:
        places = _rows(engine, PacketPlace, ("packet_id",))
        actors = _rows(engine, PacketActor, ("packet_id", "actor_key"))
        findings = _rows(engine, SituationFinding, ("packet_id", "finding_no"))
    finally:
        engine.dispose()
    assert len(places) == 500 - 500 // 50
    assert all(p["precision"] == "coordinates" or p["lat"] is None for p in places.values())
    assert sum(p["lat"] is not None for p in places.values()) > len(places) // 2
    assert {p["country"] for p in places.values()} == {"Syria"}
    assert len({packet for packet, _ in actors}) == len(places)
    assert {row["packet_id"] for row in findings.values()} <= {
        n for n in range(50, 501, 50)
    } and findings
