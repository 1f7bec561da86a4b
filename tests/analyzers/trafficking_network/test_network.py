"""``unodc.trafficking-network``: actors and brokers on hand-built views."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from analyzers.base import Analyzer, Finding, View
from analyzers.registry import code_digest, load
from analyzers.state import State
from analyzers.trafficking_network import TraffickingNetworkAnalyzer
from analyzers.trafficking_network.thresholds import (
    NETWORK_EVERY_VIEWS,
    RECURRING_MIN_EVENTS,
    TOP_BROKERS,
)

LEVELS = {"low", "medium", "high", "critical"}


def event(
    a: str | None, b: str | None, admin1: str | None, *, issuer: str = "mission", **more: Any
) -> View:
    claims: dict[str, Any] = {"country": "Syria", "date_start": "2017-03-04", "type_of_violence": 1}
    if a is not None:
        claims["side_a_ref"] = a
    if b is not None:
        claims["side_b_ref"] = b
    if admin1 is not None:
        claims["admin1"] = admin1
    claims.update(more)
    return View(
        "conflict-event/1", issuer, "jti", "digest", datetime(2026, 1, 1, tzinfo=UTC), "hc", claims
    )


def feed(views: list[View], state: State | None = None) -> tuple[list[list[Finding]], State]:
    analyzer = TraffickingNetworkAnalyzer()
    state = state if state is not None else State()
    out = []
    for view in views:
        out.append(analyzer.analyze(view, state))
        state.commit()
    return out, state


def test_declares_the_interface() -> None:
    analyzer = load("unodc.trafficking-network")
    assert isinstance(analyzer, Analyzer) and isinstance(analyzer, TraffickingNetworkAnalyzer)
    assert analyzer.version == "1.0.0"
    assert analyzer.schemas == frozenset({"conflict-event/1", "seizure/1"})
    assert len(code_digest(analyzer)) == 64


def test_recurring_actor_needs_enough_events_and_spread() -> None:
    # Five events in one place by one source: not recurring.
    out, state = feed([event("ref-x", None, "Idlib Governorate")] * RECURRING_MIN_EVENTS)
    assert not any(out)
    # A sixth in another place: now it is, once.
    out, state = feed([event("ref-x", None, "Hamah Governorate")] * 3, state)
    assert [len(f) for f in out] == [1, 0, 0]
    finding = out[0][0]
    assert finding.kind == "recurring-actor" and finding.subject == "actor:ref-x"
    assert finding.level in LEVELS and finding.admin1 == "Hamah Governorate"
    assert finding.country == "Syria" and finding.period == "2017-03"
    assert finding.indicators["events"] == RECURRING_MIN_EVENTS + 1
    assert finding.indicators["places"] == 2
    assert f">= {RECURRING_MIN_EVENTS} packets" in finding.explanation
    assert "Syria / Hamah Governorate" in finding.explanation


def test_two_sources_make_an_actor_recurring_in_one_place() -> None:
    views = [event("ref-y", None, "Homs Governorate")] * 4
    views.append(event("ref-y", None, "Homs Governorate", issuer="dpa"))
    out, _ = feed(views)
    assert [len(f) for f in out] == [0, 0, 0, 0, 1]
    assert out[-1][0].indicators["sources"] == 2 and out[-1][0].level == "low"


def test_side_b_of_one_sided_violence_is_no_actor() -> None:
    _, state = feed([event("ref-a", "ref-civilians", "Aleppo Governorate", type_of_violence=3)])
    assert state.keys("actor/") == ["actor/ref-a"]


def test_brokers_on_a_small_network() -> None:
    # Two clusters of places, joined only by "bridge": it must be the top broker.
    views = []
    for ref, places in (
        ("west-1", ["W1", "W2"]),
        ("west-2", ["W2", "W3"]),
        ("east-1", ["E1", "E2"]),
        ("east-2", ["E2", "E3"]),
        ("bridge", ["W3", "E1"]),
    ):
        views.extend(event(ref, None, place) for place in places)
    filler = event(None, None, None)
    views.extend([filler] * (NETWORK_EVERY_VIEWS - len(views)))
    out, state = feed(views)
    found = [f for batch in out for f in batch if f.kind == "broker-change"]
    assert len(found) == 1 and out[NETWORK_EVERY_VIEWS - 1] == found
    broker = found[0]
    assert broker.indicators["broker_1"] == "bridge"
    assert broker.indicators["actors"] == 5 and broker.indicators["places"] == 6
    assert broker.indicators["links"] == 10
    assert "Brandes" in broker.explanation and f"top {TOP_BROKERS}" in broker.explanation
    assert broker.indicators["betweenness_1"] > broker.indicators["betweenness_2"] > 0
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["brokers"][0]["actor"] == "bridge"
    # The same network after another K views: the top set is unchanged, no finding.
    out, _ = feed([filler] * NETWORK_EVERY_VIEWS, state)
    assert not any(out)


def test_missing_fields_never_raise() -> None:
    full = event("ref-a", "ref-b", "Daraa Governorate", month="2017-03", year=2017)
    analyzer = TraffickingNetworkAnalyzer()
    state = State()
    for name in sorted(full.claims):
        claims = {k: v for k, v in full.claims.items() if k != name}
        for schema in ("conflict-event/1", "seizure/1"):
            view = View(schema, "mission", "j", "d", full.issued_at, "hc", claims)
            analyzer.analyze(view, state)
    odd = {
        "side_a_ref": 7,
        "admin1": ["x"],
        "persons_refs": "nope",
        "route_transit": 3,
        "quantity": "many",
        "unit": 5,
        "year": True,
        "kilograms": -1,
        "date_start": 20170304,
    }
    for schema in ("conflict-event/1", "seizure/1", "market-price/1"):
        analyzer.analyze(View(schema, "x", "j", "d", full.issued_at, "hc", odd), state)
        analyzer.analyze(View(schema, "x", "j", "d", full.issued_at, "hc", {}), state)
    json.dumps(analyzer.summary(state), sort_keys=True)


@pytest.mark.parametrize("withheld", ["side_a_ref", "admin1", "country", "date_start"])
def test_absent_claims_are_skipped_not_invented(withheld: str) -> None:
    view = event("ref-a", "ref-b", "Daraa Governorate")
    claims = {k: v for k, v in view.claims.items() if k != withheld}
    _, state = feed([View(view.schema, view.issuer, "j", "d", view.issued_at, "hc", claims)])
    actors = dict(state.items("actor/"))
    assert ("actor/ref-a" in actors) == (withheld != "side_a_ref")
    for entry in actors.values():
        assert entry["events"] == 1
        assert entry["first"] == (None if withheld == "date_start" else "2017-03")
