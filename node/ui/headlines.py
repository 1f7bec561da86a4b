"""The one-line headline of a finding, its numbers formatted, and what its level means.

Issue 18, "Readable findings": the situation page folds each finding's explanation
(80-120 words) and indicators under a headline that says what was found, where,
when and how sure, built only from the finding's own fields of
``analysis-result/1`` (:class:`clearinghouse.protocol.schemas.analysis_result.Finding`:
``kind``, ``subject``, ``country``/``admin1``/``area``, ``period``, ``level``,
``score`` and ``indicators``), so it reads the same for a peer's result as for
our own.

The level legend (:data:`LEVEL_MEANINGS`) repeats each analyzer's own definition
of its levels, per finding kind, and names where that definition is written
(``docs/analysis.md`` or the analyzer's code), so an analyst can check it.

Everything here returns plain text; the templates escape it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LEVEL_MEANINGS",
    "LevelMeaning",
    "format_number",
    "format_value",
    "headline",
    "kind_label",
]

#: What each kind of finding is called in a headline.
KIND_LABELS = {
    "escalation": "Escalation",
    "civilian-harm": "Civilian harm",
    "one-sided-violence": "One-sided violence",
    "new-hotspot": "New hotspot",
    "imprecise-events": "Events counted apart (imprecise date or place)",
    "spoiler-typology": "Spoiler typology",
    "sanctions-hit": "Sanctions hit",
    "recurring-actor": "Recurring actor",
    "broker": "Broker",
    "corridor": "Trafficking corridor",
    "seizure-trend": "Seizure trend",
    "price-anomaly": "Price anomaly",
    "unit-mismatch": "Unit mix-up",
    "basket-cost-level": "Food basket cost",
}


def kind_label(kind: str) -> str:
    """The words for ``kind``; an unknown kind (a plug-in's) reads as itself."""
    return KIND_LABELS.get(kind, kind.replace("-", " ").capitalize())


def format_number(value: float) -> str:
    """``value`` with thousands separators and decimals that fit its size.

    Whole numbers have none (``12,345``); from 100 on, none either (``1,234``);
    from 1, up to two (``12.5``); below 1, three significant digits (``0.0123``).
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if abs(value) >= 0.001:
        return f"{value:.3g}"
    return f"{value:.2e}"


def format_value(value: Any) -> str:
    """An indicator's value as shown: numbers by :func:`format_number`, the rest as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    return "" if value is None else str(value)


def _indicators(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    indicators = finding.get("indicators")
    return indicators if isinstance(indicators, Mapping) else {}


def _figure(indicators: Mapping[str, Any], name: str, unit: str, one: str = "") -> str | None:
    """The indicator ``name`` with its unit (``one`` when it is exactly 1), if a number."""
    value = indicators.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{format_number(value)} {one if one and value == 1 else unit}"
    return None


def _what(finding: Mapping[str, Any]) -> str:
    """The kind, with the subject when it is not a place and the figure that drove it."""
    kind = str(finding.get("kind") or "finding")
    subject = str(finding.get("subject") or "")
    ind = _indicators(finding)
    label = kind_label(kind)
    figures: list[str | None] = []
    if kind in ("escalation", "civilian-harm", "one-sided-violence", "new-hotspot"):
        figures = [
            _figure(ind, "fatalities_best", "deaths", "death"),
            _figure(ind, "events", "events", "event"),
        ]
        if kind == "one-sided-violence":
            figures.insert(
                0, _figure(ind, "one_sided_events", "one-sided events", "one-sided event")
            )
        if kind == "civilian-harm":
            figures.insert(0, _figure(ind, "civilian_deaths", "civilian deaths", "civilian death"))
    elif kind == "imprecise-events":
        label = "Events counted apart"
        figures = [
            _figure(ind, "events", "events", "event"),
            _figure(ind, "fatalities_best", "deaths", "death"),
        ]
    elif kind == "spoiler-typology":
        call = ind.get("call")
        label = f"{label}: {call}" if call else label
        label = f"{label} — {subject}"
    elif kind == "sanctions-hit":
        label = f"{label} on {subject.removeprefix('sanctions:')}"
        figures = [_figure(ind, "distinct_names", "screened names", "screened name")]
    elif kind == "recurring-actor":
        label = f"{label} {subject.removeprefix('actor:')}"
        figures = [_figure(ind, "places", "places", "place")]
    elif kind == "broker":
        rank = ind.get("rank")
        label = f"{label} no. {format_value(rank)}" if rank is not None else label
        label = f"{label}: {subject.removeprefix('actor:')}"
    elif kind == "corridor":
        label = f"{label} {ind.get('from', '?')} → {ind.get('to', '?')}"
        figures = [
            _figure(ind, "seizures", "seizures", "seizure"),
            _figure(ind, "kilograms", "kg"),
        ]
    elif kind == "seizure-trend":
        label = f"{label}, {ind.get('drug_group') or subject}"
        kg_from, kg_to = _figure(ind, "kg_from", "kg"), _figure(ind, "kg_to", "kg")
        if kg_from and kg_to:
            figures = [f"{kg_from} → {kg_to}"]
    elif kind == "price-anomaly":
        label = f"{label}: {subject}"
        change = ind.get("change_pct")
        if isinstance(change, int | float):
            figures = [f"{'+' if change > 0 else ''}{format_number(change)} %"]
    elif kind == "unit-mismatch":
        label = f"{label}: {subject}"
        figures = [_figure(ind, "factor", "x the reference")]
    elif kind == "basket-cost-level":
        figures = [_figure(ind, "ratio", "x baseline")]
    else:
        label = f"{label}: {subject}" if subject else label
    shown = [f for f in figures if f]
    return f"{label} ({', '.join(shown)})" if shown else label


def _where(finding: Mapping[str, Any]) -> str:
    """The admin1 and country, else the area in words, else that no place is stated."""
    admin1, country, area = finding.get("admin1"), finding.get("country"), finding.get("area")
    if admin1 and country:
        return f"{admin1}, {country}"
    if area and country and area != country:
        return f"{area}, {country}"
    return str(admin1 or area or country or "no place stated")


def _when(finding: Mapping[str, Any]) -> str:
    """The period; for a sanctions hit, the months it was seen; else that none is stated."""
    period = finding.get("period")
    ind = _indicators(finding)
    if finding.get("kind") == "seizure-trend" and ind.get("year_from") and ind.get("year_to"):
        return f"{ind['year_from']} to {ind['year_to']}"
    if period:
        return str(period).replace("/", " to ")
    first, last = ind.get("first_month"), ind.get("last_month")
    if first and last:
        return str(first) if first == last else f"{first} to {last}"
    return "no period stated"


def _how_sure(finding: Mapping[str, Any]) -> str:
    """The level, the analyzer's score, and the confidence where the analyzer states one."""
    level, score = finding.get("level"), finding.get("score")
    parts = [f"level {level}" if level else "no level"]
    confidence = _indicators(finding).get("confidence")
    if confidence:
        parts.append(f"confidence {confidence}")
    if isinstance(score, int | float) and not isinstance(score, bool):
        parts.append(f"score {format_number(score)}")
    return ", ".join(parts)


def headline(finding: Mapping[str, Any]) -> str:
    """One line: what was found, where, when and how sure, from the finding's own fields.

    ``Escalation (1,234 deaths, 56 events) · Aleppo Governorate, Syria · 2016-03 ·
    level critical, score 1.23``. A withdrawn finding says so first.
    """
    line = " · ".join((_what(finding), _where(finding), _when(finding), _how_sure(finding)))
    return f"Withdrawn: {line}" if finding.get("status") == "withdrawn" else line


@dataclass(frozen=True)
class LevelMeaning:
    """What a level of one kind of finding means, and where the analyzer defines it."""

    meaning: str
    source: str


_SECURITY_DOC = (
    "docs/analysis.md, “mission.security-risk”, Flags "
    "(code: analyzers/security_risk/_flags.py, LEVEL_BANDS and ONE_SIDED_LEVELS)"
)


def _deaths_levels(what: str) -> dict[str, LevelMeaning]:
    """The death bands of the security-risk flags, counted in ``what``."""
    return {
        level: LevelMeaning(meaning, _SECURITY_DOC)
        for level, meaning in {
            "medium": f"from 25 {what} in the area-month (UCDP's minimum for a conflict-year)",
            "high": f"from 100 {what} in the area-month",
            "critical": f"from 1,000 {what} in the area-month (UCDP's war threshold)",
        }.items()
    }


_TRAFFICKING_DOC = "docs/analysis.md, “unodc.trafficking-network”, Findings and thresholds"
_ILLICIT_DOC = "docs/analysis.md, “undp.illicit-economy”, Method"
_Z_LEVELS = {
    level: f"the smaller of the price change's two robust |z| (own series, country) is {z} or more"
    for level, z in (("medium", "3.5"), ("high", "7"), ("critical", "14"))
}

#: Per finding kind, per level: what it means, in the analyzer's own terms.
LEVEL_MEANINGS: dict[str, dict[str, LevelMeaning]] = {
    "escalation": _deaths_levels("deaths (best estimate)"),
    "new-hotspot": _deaths_levels("deaths (best estimate)"),
    "civilian-harm": _deaths_levels("civilian deaths"),
    "one-sided-violence": {
        "medium": LevelMeaning("one-sided events are 25 % of the events or more", _SECURITY_DOC),
        "high": LevelMeaning("one-sided events are half of the events or more", _SECURITY_DOC),
    },
    "spoiler-typology": {
        "high": LevelMeaning(
            "the group is called predatory", "analyzers/spoiler_risk/_analyzer.py, SPOILER_LEVELS"
        ),
        "medium": LevelMeaning(
            "the group is called parasitic or symbiotic",
            "analyzers/spoiler_risk/_analyzer.py, SPOILER_LEVELS",
        ),
    },
    "sanctions-hit": {
        lvl: LevelMeaning(m, "docs/analysis.md, “sanctions.screening”, Findings and convergence")
        for lvl, m in {
            "critical": "a strong hit on a financial-flow party",
            "high": "a strong hit (score ≥ 0.97) on a name, a good alias or an alias-table alias",
            "medium": "a weaker score, an acronym, or a strong hit on a low-quality or "
            "former alias",
            "low": "a weaker score on a low-quality or former alias",
        }.items()
    },
    "recurring-actor": {
        "medium": LevelMeaning("seen in ≥ 5 packets across ≥ 2 places", _TRAFFICKING_DOC),
        "low": LevelMeaning("seen in ≥ 5 packets from ≥ 2 sources, in one place", _TRAFFICKING_DOC),
    },
    "broker": {
        "medium": LevelMeaning(
            "one of the 5 recurring non-state actors with the highest betweenness",
            _TRAFFICKING_DOC,
        ),
    },
    "corridor": {
        "high": LevelMeaning("from 10,000 kg seized on the leg", _TRAFFICKING_DOC),
        "medium": LevelMeaning("from 1,000 kg seized on the leg", _TRAFFICKING_DOC),
        "low": LevelMeaning("≥ 3 seizures on the leg, under 1,000 kg", _TRAFFICKING_DOC),
    },
    "seizure-trend": {
        "high": LevelMeaning("a change of at least 10,000 kg between the years", _TRAFFICKING_DOC),
        "medium": LevelMeaning(
            "a change of at least 100 kg that stands out of the series' own volatility",
            _TRAFFICKING_DOC,
        ),
    },
    "price-anomaly": {lvl: LevelMeaning(m, _ILLICIT_DOC) for lvl, m in _Z_LEVELS.items()},
    "unit-mismatch": {
        "low": LevelMeaning(
            "always low: a unit mix-up (a factor near 1,000), reported, never a price change",
            "analyzers/illicit_economy/_derive.py, _mismatch_finding",
        ),
    },
    "basket-cost-level": {
        lvl: LevelMeaning(m, "analyzers/illicit_economy/_derive.py, _basket_level")
        for lvl, m in {
            "medium": "the basket first costs 2 times its baseline or more",
            "high": "the basket costs 5 times its baseline or more",
            "critical": "the basket costs 20 times its baseline or more",
        }.items()
    },
}
