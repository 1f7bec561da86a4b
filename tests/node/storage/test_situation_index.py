"""The situation's index: rows derived from stored packets, the latest version of each
finding chosen from the set held (never the arrival order), the situation as held at a
past instant, places and actors; and migration 0010 builds it for packets held before."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlmodel import Session, col

from clearinghouse.node.storage import situation_queries
from clearinghouse.node.storage.db import transaction
from clearinghouse.node.storage.migrate import upgrade
from clearinghouse.node.storage.models import SituationFinding, StoredPacket
from clearinghouse.node.storage.situation_index import (
    actor_of,
    index_packets,
    month_range,
    place_of,
)
from clearinghouse.node.storage.situation_queries import FindingFilter
from tests.node.storage._support import NOW, TestDatabase
from tests.node.storage.test_migration_history import empty, migrate_to

__all__ = ["empty"]  # the fixture, shared with the migration history tests

ANALYZER = {"id": "mission.security-risk", "version": "2.0.0"}


def result(
    findings: list[dict[str, Any]], *, at: int, issuer: str = "mission", hc: str = "H0"
) -> dict[str, Any]:
    """A stored result row (as ``packets.add_received`` stores it), issued ``at`` seconds
    after NOW and held from then on."""
    jti = str(uuid.uuid4())
    return {
        "jti": jti,
        "digest": uuid.uuid4().hex + uuid.uuid4().hex,
        "issuer": issuer,
        "kid": "k",
        "schema_id": "analysis-result/1",
        "hc": hc,
        "hcr": None,
        "issued_at": NOW + timedelta(seconds=at),
        "origin": "dpa",
        "raw": "x",
        "claims": {"analyzer": ANALYZER, "input": {"jti": "i"}, "findings": findings},
        "stored_at": NOW + timedelta(seconds=at),
    }


def finding(level: str, *, supersedes: str | None = None, **more: Any) -> dict[str, Any]:
    out = {
        "kind": "escalation",
        "subject": "Syria / Aleppo / 2016-08",
        "country": "Syria",
        "admin1": "Aleppo Governorate",
        "period": "2016-08",
        "level": level,
        "explanation": "x",
        "indicators": {"events": 10, "fatalities_best": 120},
        **more,
    }
    if supersedes:
        out["supersedes"] = {"jti": supersedes, "digest": "d"}
    return out


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with transaction(engine) as session:
        ids = session.scalars(
            insert(StoredPacket).returning(col(StoredPacket.id), sort_by_parameter_order=True),
            rows,
        ).all()
        index_packets(session, list(zip(ids, rows, strict=True)))


def latest(engine: Engine, where: FindingFilter | None = None) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        return [
            (f.result_jti, f.level)
            for f in situation_queries.findings(session, where or FindingFilter())
        ]


def chain() -> list[dict[str, Any]]:
    """Three versions of one finding: medium, then high naming it, then critical."""
    first = result([finding("medium")], at=0)
    second = result([finding("high", supersedes=first["jti"])], at=10)
    third = result([finding("critical", supersedes=second["jti"])], at=20)
    return [first, second, third]


def test_periods_cover_months() -> None:
    assert month_range("2016") == ("2016-01", "2016-12")
    assert month_range("2016-03") == ("2016-03", "2016-03")
    assert month_range("2016-03-15") == ("2016-03", "2016-03")
    assert month_range("2016-11/2017-02") == ("2016-11", "2017-02")
    assert month_range("2016-04..2016-06") == ("2016-04", "2016-06")
    assert month_range(None) == (None, None) and month_range("recent") == (None, None)


def test_the_actor_of_each_kind_of_finding() -> None:
    assert actor_of("dpa.spoiler-risk", {"kind": "spoiler-typology", "subject": "IS"}) == "IS"
    hit = {"kind": "sanctions-hit", "subject": "sanctions:QDe.115"}
    assert actor_of("sanctions.screening", {**hit, "indicators": {"matched_list_name": "IS"}})
    broker = {"kind": "broker", "subject": "actor:abc", "indicators": {"actor": "abc"}}
    assert actor_of("unodc.trafficking-network", broker) == "abc"
    assert actor_of("mission.security-risk", finding("high")) is None


def test_places_follow_what_the_view_discloses() -> None:
    exact = {"country": "Syria", "admin1": "Idlib", "latitude": 35.9, "longitude": 36.6}
    assert place_of(1, exact) == {
        "packet_id": 1,
        "country": "Syria",
        "admin1": "Idlib",
        "lat": 35.9,
        "lon": 36.6,
        "precision": "coordinates",
        "month": None,
        "fatalities": None,
    }
    cell = {"country": "Syria", "latitude_cell": 35.75, "longitude_cell": 36.25}
    assert place_of(2, {**cell, "date_start": "2016-08-07"})["precision"] == "cell"  # type: ignore[index]
    national = {**exact, "where_precision": 6, "deaths": {"best": 9}, "date_start": "2016-08-07"}
    coarse = place_of(3, national)
    assert coarse is not None and coarse["lat"] is None and coarse["month"] == "2016-08"
    assert coarse["fatalities"] == 9  # counted for the area, not placed inside it
    assert place_of(4, {"latitude": 1.0, "longitude": 2.0}) is None  # no area at all
    year_long = {**national, "date_start": "2016-01-01", "date_end": "2016-12-31"}
    assert place_of(5, year_long)["month"] is None  # type: ignore[index]  # no January spike
    within = {**national, "date_start": "2016-08-01", "date_end": "2016-08-31"}
    assert place_of(6, within)["month"] == "2016-08"  # type: ignore[index]


def test_the_latest_version_does_not_depend_on_arrival_order(database: Any, engine: Engine) -> None:
    versions = chain()
    outcomes = set()
    for order in itertools.permutations(versions):
        with transaction(engine) as session:
            session.execute(text("DELETE FROM situation_finding"))
            session.execute(text("DELETE FROM packet"))
        for row in order:  # one at a time, as they would arrive
            store(engine, [{**row}])
        outcomes.add(tuple(latest(engine)))
    assert outcomes == {((versions[2]["jti"], "critical"),)}


def test_a_gap_in_the_chain_leaves_the_last_issued_head(database: Any, engine: Engine) -> None:
    first, _, third = chain()  # the middle version never arrived
    store(engine, [third])
    store(engine, [first])
    assert latest(engine) == [(third["jti"], "critical")]


def test_a_withdrawn_finding_leaves_the_situation(database: Any, engine: Engine) -> None:
    first = result([finding("high")], at=0)
    gone = result([{**finding("high", supersedes=first["jti"]), "status": "withdrawn"}], at=5)
    store(engine, [gone, first])
    assert latest(engine) == []
    assert latest(engine, FindingFilter(withdrawn=True)) == [(gone["jti"], "high")]


def test_the_situation_as_held_at_a_past_instant(database: Any, engine: Engine) -> None:
    versions = chain()
    store(engine, versions)
    at = NOW + timedelta(seconds=15)  # the second version held, the third not yet
    assert latest(engine, FindingFilter(as_of=at)) == [(versions[1]["jti"], "high")]
    assert latest(engine, FindingFilter(as_of=NOW - timedelta(seconds=1))) == []
    assert latest(engine, FindingFilter(as_of=NOW + timedelta(days=1))) == latest(engine)


def test_filters_combine(database: Any, engine: Engine) -> None:
    store(
        engine,
        [
            result([finding("critical")], at=0, hc="H3"),
            result([finding("low", admin1="Idlib", subject="Idlib", period="2017-02")], at=1),
        ],
    )
    assert [lv for _, lv in latest(engine, FindingFilter(levels=("high", "critical")))] == [
        "critical"
    ]
    assert [lv for _, lv in latest(engine, FindingFilter(handling=("H0",)))] == ["low"]
    assert [lv for _, lv in latest(engine, FindingFilter(start="2017-01"))] == ["low"]
    assert [lv for _, lv in latest(engine, FindingFilter(end="2016-12"))] == ["critical"]
    assert latest(engine, FindingFilter(admin1="Idlib", levels=("critical",))) == []


def test_migration_0010_indexes_the_packets_already_held(empty: TestDatabase) -> None:
    engine = empty.engine()
    try:
        migrate_to(engine, "0009")
        rows = chain()
        event = {
            **result([], at=30),
            "schema_id": "conflict-event/1",
            "claims": {
                "country": "Syria",
                "admin1": "Aleppo Governorate",
                "latitude": 36.2,
                "longitude": 37.1,
                "side_a": "Government of Syria",
                "side_b": "IS",
                "date_start": "2016-08-01",
                "deaths": {"best": 4},
            },
        }
        with transaction(engine) as session:  # stored by a node before the index existed
            session.execute(insert(StoredPacket), [*rows, event])
        upgrade(empty.url, engine=engine)
        assert latest(engine) == [(rows[2]["jti"], "critical")]
        with Session(engine) as session:
            assert session.scalar(select(col(SituationFinding.id)).limit(1)) is not None
            assert situation_queries.area_months(session, "Syria", "Aleppo Governorate") == [
                ("2016-08", 1, 4)
            ]
            assert situation_queries.actor_months(session, "is") == [("2016-08", 1, 4)]
            places = situation_queries.centroids(session, ["Syria"])
        assert places[("Syria", "Aleppo Governorate")] == pytest.approx(
            (36.2, 37.1, "coordinates", 1)
        )
    finally:
        engine.dispose()
