"""``unodc.trafficking-network``: actors, states and brokers on hand-built and real views."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clearinghouse.analyzers.base import Analyzer, Finding, View
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from clearinghouse.analyzers.registry import code_digest, load
from clearinghouse.analyzers.state import State
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from clearinghouse.analyzers.trafficking_network.thresholds import RECURRING_MIN_EVENTS, TOP_BROKERS

LEVELS = {"low", "medium", "high", "critical"}


def event(a: str | None, b: str | None, admin1: str | None, **more: Any) -> View:
    claims: dict[str, Any] = {"country": "Syria", "date_start": "2017-03-04", "type_of_violence": 2}
    if a is not None:
        claims["side_a_ref"] = a
    if b is not None:
        claims["side_b_ref"] = b
    if admin1 is not None:
        claims["admin1"] = admin1
    issuer = more.pop("issuer", "mission")
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


def held(state: State) -> dict[str, dict[str, Any]]:
    from clearinghouse.analyzers.converge import current_findings

    return {f["kind"] + " " + f["subject"]: f for f in current_findings(state)}


def test_declares_the_interface() -> None:
    analyzer = load("unodc.trafficking-network")
    assert isinstance(analyzer, Analyzer) and isinstance(analyzer, TraffickingNetworkAnalyzer)
    assert analyzer.version == "2.0.0"
    assert analyzer.schemas == frozenset({"conflict-event/1", "seizure/1"})
    assert len(code_digest(analyzer)) == 64


def test_recurring_actor_needs_enough_events_and_spread() -> None:
    out, state = feed([event("ref-x", None, "Idlib")] * RECURRING_MIN_EVENTS)
    assert not any(out)
    out, state = feed([event("ref-x", None, "Aleppo")], state)
    [finding] = [f for f in out[0] if f.kind == "recurring-actor"]
    assert finding.subject == "actor:ref-x"
    assert finding.level in LEVELS and "at least 5 packets" in finding.explanation
    assert finding.country == "SYR"  # one place scheme: "Syria" is SYR
    # One more packet in a known place: the finding (in bands of packets) does not change.
    out, state = feed([event("ref-x", None, "Aleppo")], state)
    assert not any(f.kind == "recurring-actor" for f in out[0])


def test_side_b_of_one_sided_violence_is_no_actor() -> None:
    _, state = feed([event("ref-a", "ref-civilians", "Idlib", type_of_violence=3)])
    assert state.keys("actor/") == ["actor/ref-a"]


def bridge_network(state_actor: str = "ref-gov") -> list[View]:
    """A state in every place; ref-bridge joins Idlib and Aleppo, ref-far joins Aleppo
    and Raqqa (both recurring: 6 packets in 2 places); local groups in each place."""
    views = []
    for place in ("Idlib", "Aleppo", "Raqqa", "Homs"):
        views.append(event(state_actor, f"ref-local-{place}", place, type_of_violence=1))
    for _ in range(3):
        views += [
            event("ref-bridge", "ref-local-Idlib", "Idlib"),
            event("ref-bridge", None, "Aleppo"),
        ]
        views += [event("ref-far", "ref-local-Aleppo", "Aleppo"), event("ref-far", None, "Raqqa")]
    return views


def test_the_state_is_never_a_broker() -> None:
    _, state = feed(bridge_network())
    summary = TraffickingNetworkAnalyzer().summary(state)
    brokers = [b["actor"] for b in summary["brokers"]]
    assert "ref-gov" not in brokers
    assert set(brokers[:2]) == {"ref-bridge", "ref-far"}
    assert summary["network"]["states_excluded"] == 1
    findings = held(state)
    assert "broker actor:ref-gov" not in findings
    assert findings["broker actor:ref-bridge"]["indicators"]["states_excluded"] == 1
    assert len([k for k in findings if k.startswith("broker ")]) <= TOP_BROKERS


def test_state_evidence_names_gwno_and_side_a_of_state_based_violence() -> None:
    named = event(None, None, "Idlib", side_a="Government of Syria", side_b="Some group")
    gwno = event("ref-israel", "ref-y", "Quneitra", side_b_gwno=[666], side_a_gwno=None)
    _, state = feed([named, gwno, event("ref-gov", "ref-z", "Homs", type_of_violence=1)])
    assert state.get("actor/Government of Syria")["state"] == ["named as a government"]
    assert state.get("actor/Some group")["state"] == []
    assert state.get("actor/ref-y")["state"] == ["Gleditsch-Ward number"]
    assert state.get("actor/ref-israel")["state"] == []
    assert state.get("actor/ref-gov")["state"] == ["side A of state-based violence"]
    assert state.get("actor/ref-z")["state"] == []
    summary = TraffickingNetworkAnalyzer().summary(state)
    assert summary["actor_references"] == {"pseudonym": 4, "as-disclosed": 2}


def test_a_broker_is_withdrawn_when_later_input_shows_it_is_a_state() -> None:
    out, state = feed(bridge_network())
    assert "broker actor:ref-bridge" in held(state)
    # ref-bridge turns out to be a government: side A of state-based violence.
    out, state = feed([event("ref-bridge", "ref-w", "Homs", type_of_violence=1)], state)
    withdrawn = [f for f in out[0] if f.status == "withdrawn"]
    assert [(f.kind, f.subject) for f in withdrawn] == [("broker", "actor:ref-bridge")]
    assert "broker actor:ref-bridge" not in held(state)


def test_missing_fields_never_raise() -> None:
    views = [
        event(None, None, None),
        event("ref-a", None, None, country=None),
        View("conflict-event/1", "m", "j", "d", datetime(2026, 1, 1, tzinfo=UTC), "h", {}),
        View("seizure/1", "u", "j", "d", datetime(2026, 1, 1, tzinfo=UTC), "h", {}),
        View("market-price/1", "u", "j", "d", datetime(2026, 1, 1, tzinfo=UTC), "h", {}),
    ]
    out, state = feed(views)
    assert not any(out)
    TraffickingNetworkAnalyzer().summary(state)


SINGLE = {
    "kind": "single-seizure",
    "country": "Jordan",
    "country_code": "JOR",
    "admin1": "Mafraq",
    "date": "2021-03-02",
    "quantity": 40.0,
    "unit": "kg",
    "route_origin": "Syria",
    "route_destination": "SAU",
}
NAMES = [["Abu Example", "Example Person"], ["Example Person", "Third Example"]]


def test_persons_in_seizures_become_pseudonymous_actors(
    config: dict[str, Any],
) -> None:
    """Under the demo policy (unodc: persons pseudonymised), seizures that name
    persons give actors known only by pseudonym, linked across seizures and places."""
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="mission"
    )
    records = [{**SINGLE, "persons": names} for names in NAMES] * 3
    records += [{**SINGLE, "persons": ["Example Person"], "country_code": "SAU", "admin1": None}]
    views = run.views("seizure/1", records)
    assert all("persons" not in v.claims and "persons_refs" in v.claims for v in views)
    picture = final_picture(TraffickingNetworkAnalyzer(), views)
    summary = picture.summary
    assert summary["actor_references"] == {"pseudonym": 3, "as-disclosed": 0}
    assert summary["network"]["actors"] == 1  # only "Example Person" recurs
    recurring = [f for f in picture.findings if f["kind"] == "recurring-actor"]
    assert len(recurring) == 1  # "Example Person": 7 seizures, in Jordan and Saudi Arabia
    assert recurring[0]["indicators"]["countries"] == 3  # JOR, SAU and the origin, SYR
    dumped = json.dumps([picture.findings, summary])
    assert not any(name in dumped for names in NAMES for name in names)
    corridors = {(c["from"], c["to"]) for c in summary["corridors"]}
    assert corridors == {("SYR", "SAU")}  # "Syria" on the route is SYR


def test_names_in_clear_are_used_as_the_view_gives_them(
    clear_names_config: dict[str, Any],
) -> None:
    """A policy that discloses ``persons`` to unodc: the analyzer pseudonymises nothing
    itself, it uses the names as references and says so in the summary."""
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), clear_names_config, participant="unodc", issuer="mission"
    )
    views = run.views("seizure/1", [{**SINGLE, "persons": NAMES[0]}])
    picture = final_picture(TraffickingNetworkAnalyzer(), views)
    assert picture.summary["actor_references"] == {"pseudonym": 0, "as-disclosed": 2}


def test_real_ged_sample_state_excluded_and_no_names(
    ged_records: list[dict[str, Any]], ged_views: list[View]
) -> None:
    picture = final_picture(TraffickingNetworkAnalyzer(), ged_views)
    names: dict[str, str] = {}
    for record, view in zip(ged_records, ged_views, strict=True):
        names[view.claims["side_a_ref"]] = record["side_a"]
        names[view.claims["side_b_ref"]] = record["side_b"]
    brokers = [names[b["actor"]] for b in picture.summary["brokers"]]
    assert brokers and not any(name.startswith("Government of") for name in brokers)
    governments = {ref for ref, name in names.items() if name.startswith("Government of")}
    states = {
        f["indicators"]["actor"]
        for f in picture.findings
        if f["kind"] == "recurring-actor" and f["indicators"]["state"] == "yes"
    }
    assert states and states <= governments
    dumped = json.dumps([picture.findings, picture.summary])
    assert [n for n in sorted(set(names.values())) if len(n) >= 6 and n in dumped] == []
    assert picture.summary["places"] == {
        "scheme": "ISO 3166-1 alpha-3",
        "mapped": 1,
        "unmapped": [],
    }


def test_a_state_seen_after_the_graph_settled_updates_the_broker_findings() -> None:
    _, state = feed(bridge_network())
    assert held(state)["broker actor:ref-bridge"]["indicators"]["states_excluded"] == 1
    _, state = feed([event("ref-other-gov", None, "Homs", type_of_violence=1)], state)
    assert held(state)["broker actor:ref-bridge"]["indicators"]["states_excluded"] == 2
    # The same picture as when that state came first.
    _, first = feed([event("ref-other-gov", None, "Homs", type_of_violence=1), *bridge_network()])
    assert held(first) == held(state)
