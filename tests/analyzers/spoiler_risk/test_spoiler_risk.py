"""``dpa.spoiler-risk``: the typology rules on hand-built views.

The seed's typology: predatory = hostile to authority (state-based violence against a
government, by UCDP ids) AND preying (one-sided violence, plunder); parasitic = rent;
symbiotic = aligned with the state and never hostile; no evidence, no call; communal
groups never typed; calls per calendar year; findings that converge and are withdrawn.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clearinghouse.analyzers.base import WITHDRAWN, Analyzer, Finding, View
from clearinghouse.analyzers.registry import load
from clearinghouse.analyzers.spoiler_risk import SpoilerRiskAnalyzer
from clearinghouse.analyzers.spoiler_risk._events import government_labels
from clearinghouse.analyzers.spoiler_risk._lexicon import lexicon, normalise, parse
from clearinghouse.analyzers.spoiler_risk._typology import (
    COMMUNAL,
    FORMAL,
    INSUFFICIENT,
    NOT_TYPED,
    UNDETERMINED_ORGANISATION,
    band,
    organisation_of,
)
from clearinghouse.analyzers.state import State

SCHEMA = "conflict-event/1"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
MALI = (90432, "Government of Mali")
_counter = iter(range(10**9))


def _view(**claims: Any) -> View:
    return View(SCHEMA, "mission", f"jti-{next(_counter)}", "digest", WHEN, "hc", claims)


def _event(
    a: str | tuple[int, str],
    b: str | tuple[int, str],
    tov: int,
    *,
    date: str = "2019-03-04",
    civilians: int = 0,
    narrative: str | None = None,
    country: str = "Mali",
    **extra: Any,
) -> View:
    a_id, a_name = a if isinstance(a, tuple) else (None, a)
    b_id, b_name = b if isinstance(b, tuple) else (None, b)
    claims: dict[str, Any] = {
        "event_id": str(next(_counter)),
        "type_of_violence": tov,
        "side_a": a_name,
        "side_b": b_name,
        "country": country,
        "date_start": date,
        "year": int(date[:4]),
        "conflict_id": 500 + tov,
        "dyad_id": 700 + tov,
        "deaths": {"best": civilians + 1, "civilians": civilians},
        **extra,
    }
    if a_id is not None:
        claims["side_a_id"] = a_id
    if b_id is not None:
        claims["side_b_id"] = b_id
    if narrative is not None:
        claims["narrative"] = narrative
    return _view(**claims)


def _feed(analyzer: SpoilerRiskAnalyzer, state: State, views: list[View]) -> list[Finding]:
    out = []
    for view in views:
        out += analyzer.analyze(view, state)
        state.commit()
    return out


def _run(views: list[View]) -> tuple[SpoilerRiskAnalyzer, State, list[Finding]]:
    analyzer, state = SpoilerRiskAnalyzer(), State()
    return analyzer, state, _feed(analyzer, state, views)


def _periods(analyzer: SpoilerRiskAnalyzer, state: State, name: str) -> dict[str, Any]:
    group = next(g for g in analyzer.summary(state)["groups"] if g["name"] == name)
    return {p["period"]: p for p in group["periods"]}


def _held(state: State) -> dict[tuple[str, str], str]:
    """(group, year) -> call, for the findings that hold."""
    from clearinghouse.analyzers.converge import current_findings

    return {(f["subject"], f["period"]): f["indicators"]["call"] for f in current_findings(state)}


# -- the analyzer -------------------------------------------------------------------------


def test_entry_point_loads_the_analyzer_at_a_new_major_version() -> None:
    analyzer = load("dpa.spoiler-risk")
    assert isinstance(analyzer, SpoilerRiskAnalyzer) and isinstance(analyzer, Analyzer)
    assert analyzer.version == "2.0.1" and analyzer.schemas == frozenset({SCHEMA})


def test_hostility_alone_is_not_predatory() -> None:
    """The old rule called a group predatory for fighting the state; the seed wants
    looting and plundering as well."""
    analyzer, state, findings = _run([_event(MALI, "Rebels", 1) for _ in range(20)])
    assert findings == []
    year = _periods(analyzer, state, "Rebels")["2019"]
    assert year["call"] == INSUFFICIENT and year["evidence"]["hostility_events"] == 20
    assert "hostile to a government but no predation" in year["rule"]


def test_predatory_needs_hostility_to_a_government_and_predation() -> None:
    views = [_event(MALI, (7001, "Raiders"), 1) for _ in range(4)]
    views += [_event((7001, "Raiders"), (1, "Civilians"), 3, civilians=5) for _ in range(2)]
    analyzer, state, findings = _run(views)
    # First call, then the civilian deaths change band (5 -> 10): the finding is updated.
    assert [(f.subject, f.period, f.level) for f in findings] == [("Raiders", "2019", "high")] * 2
    f = findings[-1]
    assert f.indicators["call"] == "predatory" and f.indicators["confidence"] == "low"
    assert f.indicators["hostility_events"] == "3-9" and f.indicators["one_sided_events"] == "1-2"
    assert "Government of Mali (UCDP actor 90432)" in f.explanation
    year = _periods(analyzer, state, "Raiders")["2019"]
    assert (
        year["evidence"]["governments_fought"] == 1 and year["evidence"]["one_sided_deaths"] == 10
    )
    # Plunder in two distinct accounts is predation too.
    views = [_event(MALI, "Bandits", 1) for _ in range(3)]
    views += [_event(MALI, "Bandits", 1, narrative=f"Bandits looted market {i}") for i in range(2)]
    assert _held(_run(views)[1]) == {("Bandits", "2019"): "predatory"}


def test_the_government_is_recognised_by_ucdp_conventions_and_ids_not_only_names() -> None:
    """Side A of a state-based event is a government whatever its name (a pseudonymised or
    differently spelt name still counts), and a Gleditsch-Ward number marks a state."""
    views = [_event((90432, "Mali"), "Rebels", 1) for _ in range(2)]
    views += [_event("Rebels", (1, "Civilians"), 3)]
    views += [_view(type_of_violence=1, side_a_ref="A" * 43, side_b_ref="B" * 43, year=2019)]
    views += [_event("Militia X", "Army of Y", 2, side_b_gwno=[432])]
    analyzer, state, _ = _run(views)
    assert _held(state)[("Rebels", "2019")] == "predatory"
    rebels = _periods(analyzer, state, "Rebels")["2019"]["evidence"]
    assert rebels["hostility_events"] == 2 and rebels["governments_fought"] == 1
    assert _periods(analyzer, state, f"ref:{'B' * 43}")["2019"]["evidence"]["hostility_events"] == 1
    names = {g["name"] for g in analyzer.summary(state)["groups"]}
    assert "Army of Y" not in names and "Mali" not in names and "Civilians" not in names


def test_a_government_alone_and_in_a_coalition_is_one_government() -> None:
    """A coalition side carries the coalition's id, so the same government comes once
    with its own actor id and once without: one government fought, named once."""
    views = [_event(MALI, (7001, "Raiders"), 1) for _ in range(3)]
    views += [_event((4, "Government of Mali, Government of France"), "Raiders", 1)]
    views += [_event((7001, "Raiders"), (1, "Civilians"), 3, civilians=5) for _ in range(2)]
    analyzer, state, findings = _run(views)
    year = _periods(analyzer, state, "Raiders")["2019"]
    assert year["evidence"]["governments_fought"] == 2  # Mali and France
    text = findings[-1].explanation
    assert "(against Government of France, Government of Mali (UCDP actor 90432))" in text
    assert text.count("Government of Mali") == 1


def test_government_labels_list_each_name_once_with_every_id() -> None:
    keys = ["90432|Government of Mali", "|Government of Mali", "|Government of Chad", "7|X"]
    assert government_labels(keys) == [
        "Government of Chad",
        "Government of Mali (UCDP actor 90432)",
        "X (UCDP actor 7)",
    ]
    assert government_labels(["10|A", "9|A"]) == ["A (UCDP actor 9, 10)"]


def test_interstate_fighting_makes_no_group() -> None:
    analyzer, state, findings = _run(
        [_event("Government of Iran", "Government of Israel", 1) for _ in range(5)]
    )
    assert findings == [] and analyzer.summary(state)["groups"] == []


def test_no_evidence_no_call() -> None:
    """Many clashes between groups, narratives without any lexicon term: no call, no
    finding, never a default type."""
    views = [
        _event("Group A", "Group B", 2, narrative=f"Clashes near the village of X{i}")
        for i in range(40)
    ]
    analyzer, state, findings = _run(views)
    assert findings == []
    for name in ("Group A", "Group B"):
        year = _periods(analyzer, state, name)["2019"]
        assert year["call"] == INSUFFICIENT and year["confidence"] is None
        assert year["rule"] == "no evidence for any type"
    assert analyzer.summary(state)["group_periods"][INSUFFICIENT] == 2


def test_one_account_is_not_evidence_and_a_shared_account_counts_once() -> None:
    """A round-up headline attached to many events is one account."""
    roundup = "Gunmen imposed taxes at checkpoints and demanded ransom; 30 killed yesterday"
    views = [_event("Group A", "Group B", 2, narrative=roundup) for _ in range(25)]
    analyzer, state, findings = _run(views)
    assert findings == []
    year = _periods(analyzer, state, "Group A")["2019"]
    assert year["evidence"]["rent_narratives"] == 1 and year["call"] == INSUFFICIENT
    # A second, different account: two accounts, a call.
    _feed(analyzer, state, [_event("Group A", "Group B", 2, narrative="Group A levies a fee")])
    assert _held(state)[("Group A", "2019")] == "parasitic"


def test_french_narratives_give_rent_evidence() -> None:
    views = [
        _event(
            "Katiba X",
            "Groupe Y",
            2,
            narrative="La katiba impose la zakat et prélève des taxes sur les sites d'orpaillage",
        ),
        _event(
            "Katiba X",
            "Groupe Y",
            2,
            narrative="Enlèvement contre rançon d'un commerçant sur l'axe routier",
        ),
        _event("Katiba X", "Groupe Y", 2, narrative="Racket des éleveurs pendant la transhumance"),
    ]
    analyzer, state, findings = _run(views)
    year = _periods(analyzer, state, "Katiba X")["2019"]
    assert year["evidence"]["rent_narratives"] == 3 and year["call"] == "parasitic"
    assert {"zakat", "taxes", "rancon*", "racket*"} <= set(year["terms"])
    assert {"orpaill*", "transhuman*"} <= set(year["terms"])  # where the rent was taken
    assert findings and findings[-1].indicators["rent_narratives"] == "3-9"


def test_transliterated_and_arabic_script_narratives_give_rent_evidence() -> None:
    views = [
        _event("Faction Z", "Faction W", 2, narrative="Faction Z collects itawat at the hajiz"),
        _event("Faction Z", "Faction W", 2, narrative="Tahrib of fuel and fidya for detainees"),
        _event("Faction Z", "Faction W", 2, narrative="فرض الإتاوات على الحواجز"),
    ]
    analyzer, state, _ = _run(views)
    year = _periods(analyzer, state, "Faction Z")["2019"]
    assert year["evidence"]["rent_narratives"] == 3 and year["call"] == "parasitic"
    assert {"itawat", "tahrib", "fidya", "إتاوات"} <= set(year["terms"])


def test_lexicon_matching_folds_case_accents_scripts_and_elisions() -> None:
    assert normalise("Prélevé sur l'axe; TA'FISH — «rançon»") == "preleve sur l axe tafish rancon"
    found = lexicon().match(normalise("Pillage et vol de bétail; mines d\u2019or; النهب"))
    assert found["plunder"] == {
        "cattle raiding": ["vol de betail"],
        "looting": ["pill*", "pillag*", "نهب"],
    }
    assert found["rent_site"]["mining"] == ["mines d'or"]
    # Words left out on purpose: landmines, death tolls, taxis.
    assert lexicon().match(normalise("Death toll rises after mine explosion hits a taxi")) == {}


def test_the_lexicon_file_is_checked() -> None:
    assert len(parse("plunder\tlooting\ten\tloot*\n# comment\n")) == 1
    for bad in ("plunder\tlooting\ten\n", "bribery\tx\ten\tbrib*\n", "rent\tx\ten\tab*\n"):
        try:
            parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_a_communal_group_is_never_typed_as_organised_crime() -> None:
    """Rent and plunder in the accounts of a clan's clashes: not typed; the same evidence
    for a group of undetermined organisation makes a call."""
    rent = [
        "cattle raid and ransom demanded",
        "clan levies on herders",
        "protection money at the well",
    ]
    views = [_event("al-Bakkara clan", "al-Sultan clan", 2, narrative=t) for t in rent]
    views += [_event("Lou Nuer", "Murle", 2, narrative=t) for t in rent]
    analyzer, state, findings = _run(views)
    assert findings == []
    for name in ("al-Bakkara clan", "al-Sultan clan", "Lou Nuer", "Murle"):
        year = _periods(analyzer, state, name)["2019"]
        assert year["call"] == NOT_TYPED, name
        assert year["evidence"]["rent_narratives"] == 3
    groups = {g["name"]: g for g in analyzer.summary(state)["groups"]}
    assert groups["Lou Nuer"]["organisation"] == COMMUNAL
    _feed(analyzer, state, [_event("Group Q", "Group R", 2, narrative=t) for t in rent])
    assert _held(state) == {("Group Q", "2019"): "parasitic", ("Group R", "2019"): "parasitic"}


def test_communal_names_are_weak_evidence() -> None:
    assert organisation_of("al-Nasser clan", 0)[0] == COMMUNAL
    assert organisation_of("Ngok Dinka", 0)[0] == COMMUNAL
    assert organisation_of("Supporters of X", 0)[0] == COMMUNAL
    assert organisation_of("Jaysh al-Asha'er", 0)[0] == UNDETERMINED_ORGANISATION  # "army"
    assert organisation_of("Tribal Brigade", 0)[0] == UNDETERMINED_ORGANISATION
    assert organisation_of("HTS", 0)[0] == UNDETERMINED_ORGANISATION
    # UCDP codes state-based conflict and one-sided violence only for formal organisations.
    assert organisation_of("al-Nasser clan", 1)[0] == FORMAL


def test_a_communal_name_gives_way_to_ucdp_coding_and_every_year_is_derived_again() -> None:
    views = [
        _event("Dinka militia", "Group B", 2, date=f"{y}-05-01", narrative=f"ransom {y} {i}")
        for y in (2018, 2019)
        for i in range(2)
    ]
    analyzer, state, findings = _run(views)
    assert [f for f in findings if f.subject == "Dinka militia"] == []
    # One event of one-sided violence (2020): UCDP says formally organised.
    findings = _feed(
        analyzer,
        state,
        [_event("Dinka militia", (1, "Civilians"), 3, date="2020-01-02")],
    )
    assert sorted((f.subject, f.period) for f in findings) == [
        ("Dinka militia", "2018"),
        ("Dinka militia", "2019"),
    ]
    assert all(f.indicators["organisation"] == FORMAL for f in findings)


def test_symbiotic_alongside_a_government_or_named_as_state_backed() -> None:
    views = [_event("Government of Iraq, Tribal Force", "Militants", 1)]
    views += [
        _event("CJTF", "Boko Haram", 2, narrative=f"Pro-government CJTF vigilantes repel raid {i}")
        for i in range(3)
    ]
    analyzer, state, _ = _run(views)
    held = _held(state)
    assert held[("Tribal Force", "2019")] == "symbiotic"
    assert held[("CJTF", "2019")] == "symbiotic"
    tribal = _periods(analyzer, state, "Tribal Force")["2019"]["evidence"]
    assert tribal["alongside_government_events"] == 1
    # The accounts do not name Boko Haram: no state backing for it.
    boko = _periods(analyzer, state, "Boko Haram")["2019"]["evidence"]
    assert boko["state_backing_narratives"] == 0


def test_state_backing_words_about_the_foe_are_not_credited() -> None:
    """In an event opposite a government, "pro-government" describes the foe."""
    views = [
        _event(MALI, "Rebels", 1, narrative=f"Rebels attack pro-government militia {i}")
        for i in range(5)
    ]
    analyzer, state, _ = _run(views)
    assert _periods(analyzer, state, "Rebels")["2019"]["evidence"]["state_backing_narratives"] == 0


def test_calls_are_per_year() -> None:
    views = [_event("Government of Mali, Militia M", "Rebels", 1, date="2018-06-01")]
    views += [_event(MALI, "Militia M", 1, date="2019-02-01") for _ in range(3)]
    views += [_event("Militia M", (1, "Civilians"), 3, date="2019-03-01")]
    analyzer, state, _ = _run(views)
    assert _held(state) == {("Militia M", "2018"): "symbiotic", ("Militia M", "2019"): "predatory"}
    summary = analyzer.summary(state)
    assert summary["period"].startswith("calendar year")
    assert summary["calls"]["2018"]["symbiotic"] == ["Militia M"]


def test_a_call_that_no_longer_holds_is_withdrawn() -> None:
    """Symbiotic while only seen beside the government; hostility to a government in the
    same year, without predation: no call holds, the finding is withdrawn."""
    analyzer, state, first = _run([_event("Government of Mali, Militia M", "Rebels", 1)])
    assert [(f.subject, f.indicators["call"]) for f in first] == [("Militia M", "symbiotic")]
    later = _feed(analyzer, state, [_event(MALI, "Militia M", 1)])
    assert [(f.subject, f.period, f.status) for f in later] == [("Militia M", "2019", WITHDRAWN)]
    assert "no longer holds" in later[0].explanation
    assert _held(state) == {}
    year = _periods(analyzer, state, "Militia M")["2019"]
    assert year["call"] == INSUFFICIENT and "aligned with a government and hostile" in year["rule"]


def test_confidence_grows_with_the_amount_of_evidence() -> None:
    _, _, findings = _run(
        [
            _event("Gang", "Other", 2, narrative=f"Gang extorts traders at checkpoint {i}")
            for i in range(12)
        ]
    )
    levels = [f.indicators["confidence"] for f in findings if f.subject == "Gang"]
    assert levels == ["low", "medium", "high"]  # from 2, 3 and 10 distinct accounts
    assert [band(n) for n in (0, 1, 2, 3, 9, 10, 29, 30, 100, 5000)] == [
        "0", "1-2", "1-2", "3-9", "3-9", "10-29", "10-29", "30-99", "100+", "100+"
    ]  # fmt: skip


def test_findings_change_with_bands_not_with_every_event() -> None:
    analyzer, state = SpoilerRiskAnalyzer(), State()
    views = [_event(MALI, "Raiders", 1) for _ in range(2)]
    views += [_event("Raiders", (1, "Civilians"), 3, civilians=1) for _ in range(2)]
    assert len(_feed(analyzer, state, views)) == 1
    assert _feed(analyzer, state, [_event(MALI, "Raiders", 1)]) != []  # 2 -> 3: new band
    assert _feed(analyzer, state, [_event(MALI, "Raiders", 1)]) == []  # 3 -> 4: same band


def test_withheld_claims_never_raise() -> None:
    views = [
        _view(),
        _view(type_of_violence=2),
        _view(type_of_violence=2, side_a="IS"),
        _view(type_of_violence=True, side_a="IS", side_b="SDF"),
        _view(type_of_violence=2, side_a="IS", side_b="SDF", deaths="x", narrative=5),
        _view(type_of_violence=3, side_a="IS", side_b="Civilians", deaths={"best": 3}),
        _view(type_of_violence=2, side_a="", side_b="SDF"),
        _view(type_of_violence=2, side_a=", ", side_b="SDF", date_start="x"),
    ]
    analyzer, state, findings = _run(views)
    assert findings == []
    summary = analyzer.summary(state)
    json.dumps(summary)
    assert {g["name"]: g["events"] for g in summary["groups"]} == {"IS": 2, "SDF": 1}
    assert [p["period"] for p in summary["groups"][0]["periods"]] == ["undated"]


def test_each_view_touches_only_its_groups() -> None:
    analyzer, state = SpoilerRiskAnalyzer(), State()
    for i in range(60):
        analyzer.analyze(_event(f"G{i % 9}", f"G{(i + 1) % 9}, G{(i + 2) % 9}", 2), state)
        changed, deleted = state.changes()
        assert len(changed) == 6 and not deleted  # a tally and an org record per group
        json.dumps(changed)
        state.commit()
