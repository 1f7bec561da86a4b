"""Shared pieces of the analyst's pages, and the provenance page.

The situation page (:mod:`node.ui.situation_page`) and the area and actor pages
(:mod:`node.ui.drilldown`) show findings as :func:`finding_row` shapes them and mark
handling with :func:`handling`; the provenance page is a view over
:mod:`node.services.provenance` (a result, its signature, its input and the input's
signature, re-verified at display time).

Handling: every item drawn from a restricted result (H1, H2 or H3; a result
inherits its input's code and H3 restriction text) is marked where it is shown —
table rows, chart bars, map marks, agreement rows — with a badge and the
restriction as a tooltip and as text (:func:`handling`). A packet's pseudonym epoch
is shown with its provenance.

Readable findings (issue 18): each finding row carries a one-line ``headline`` (what,
where, when, how sure; :mod:`node.ui.headlines`) with the explanation and the
indicators folded under it, numbers shown formatted (``shown``: the same figures as
text with thousands separators), and the page a ``legend`` of the levels it shows.
"""

from __future__ import annotations

from typing import Any

from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.provenance import CheckedPacket, result_provenance
from clearinghouse.node.services.situation import LEVELS, FusedFinding
from clearinghouse.node.ui.headlines import (
    LEVEL_MEANINGS,
    format_value,
    headline,
    kind_label,
)
from clearinghouse.protocol.packet import HANDLING_MEANINGS

__all__ = [
    "IMPRECISE_KIND",
    "MAX_ROWS",
    "SECTIONS",
    "finding_row",
    "handling",
    "imprecise_rows",
    "level_legend",
    "mark_of",
    "provenance_page",
]

SECTIONS = (
    ("unodc.trafficking-network", "Trafficking network: brokers, recurring actors, corridors"),
    ("dpa.spoiler-risk", "Spoiler groups: predatory, parasitic or symbiotic"),
    ("undp.illicit-economy", "Illicit economy: price anomalies and livelihoods"),
    ("sanctions.screening", "Sanctions screening hits"),
    ("mission.security-risk", "Security risk: escalations and flags"),
)
MAX_ROWS = 60


def handling(hc: str, hcr: str | None) -> dict[str, Any]:
    """How the pages mark an item of handling code ``hc`` (restriction ``hcr`` for H3).

    ``text`` is the restriction (H3's own words, else what the code means) and
    ``note`` the badge's tooltip; both are empty for an unrestricted (H0) item.
    """
    restricted = hc != "H0"
    text = (hcr or HANDLING_MEANINGS.get(hc, "")) if restricted else ""
    return {
        "hc": hc,
        "restricted": restricted,
        "restriction": hcr,
        "text": text,
        "note": f"{hc}: {text}" if restricted else "",
    }


def mark_of(f: FusedFinding) -> tuple[str, str] | None:
    """The chart mark (badge, tooltip) of a finding from a restricted result."""
    h = handling(f.hc, f.hcr)
    return (h["hc"], h["note"]) if h["restricted"] else None


#: Findings that report events counted apart (month or place too imprecise to rank).
IMPRECISE_KIND = "imprecise-events"


def imprecise_rows(findings: list[FusedFinding]) -> list[dict[str, Any]]:
    """Events counted apart, per country (admin1 when located) and period, deadliest first."""
    rows = [
        {
            "country": f.area[0],
            "admin1": f.area[1],
            "period": f.period,
            **{k: (f.finding.get("indicators") or {}).get(k, 0) for k in _APART_COLUMNS},
            "participant": f.participant,
            "result_jti": f.result_jti,
            "handling": handling(f.hc, f.hcr),
        }
        for f in findings
        if f.finding.get("kind") == IMPRECISE_KIND
    ]
    rows.sort(key=lambda r: (-(r["fatalities_best"] or 0), r["country"] or "", r["period"] or ""))
    return [_with_shown(r, _APART_COLUMNS) for r in rows[:MAX_ROWS]]


def _with_shown(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """``row`` with ``shown``: its figures in ``columns`` as the page prints them."""
    return {**row, "shown": {c: format_value(row.get(c)) for c in columns}}


_APART_COLUMNS = (
    "events",
    "fatalities_best",
    "month_unknown_events",
    "regional_events",
    "unlocated_events",
)


def finding_row(f: FusedFinding) -> dict[str, Any]:
    """A finding as its section shows it: the headline over the explanation and the
    indicators (name, value as text), its handling marked."""
    indicators = f.finding.get("indicators") or {}
    return {
        **f.as_json(),
        "handling": handling(f.hc, f.hcr),
        "headline": headline(f.finding),
        "shown_indicators": [(name, format_value(v)) for name, v in indicators.items()],
    }


def level_legend(fused: list[FusedFinding]) -> list[dict[str, str]]:
    """What each level shown means, per kind of finding that carries it, in the analyzer's
    own terms and naming where that is defined; ordered by level, highest first."""
    shown = {
        (str(f.finding.get("level")), str(f.finding.get("kind")), f.analyzer)
        for f in fused
        if f.finding.get("level") in LEVELS
    }
    rows = []
    for level, kind, analyzer in sorted(
        shown, key=lambda s: (-LEVELS.index(s[0]), s[2], kind_label(s[1]))
    ):
        meaning = LEVEL_MEANINGS.get(kind, {}).get(level)
        rows.append(
            {
                "level": level,
                "kind": kind_label(kind),
                "analyzer": analyzer,
                "meaning": meaning.meaning
                if meaning
                else "as this analyzer defines it (its definition is not known to this page)",
                "source": meaning.source if meaning else "",
            }
        )
    return rows


def provenance_page(ctx: NodeContext, jti: str) -> dict[str, Any] | None:
    """The ``/ui/results/{jti}`` page: the result, its analyzer against the manifest, its
    input and the runs of it, both packets verified now; None if no such result is held."""
    found = result_provenance(ctx, jti)
    if found is None:
        return None
    row = found.result.packet
    return {
        "result": {
            "jti": row.jti,
            "issuer": row.issuer,
            "kid": row.kid,
            "digest": row.digest,
            "issued_at": row.issued_at.isoformat(),
            "stored_at": row.stored_at.isoformat(),
            "origin": row.origin,
            "hc": row.hc,
            "hcr": row.hcr,
            "handling": handling(row.hc, row.hcr),
            "pse": found.result.epoch,
            "verified": found.result.verified,
            "verification": found.result.verification,
        },
        "claims": row.claims,
        "declared": found.declared,
        "input": _input(found.input) if found.input is not None else None,
        "runs": [r.model_dump() for r in found.runs],
    }


def _input(checked: CheckedPacket) -> dict[str, Any]:
    """The result's input as the provenance page shows it."""
    source = checked.packet
    return {
        "origin": source.origin,
        "stored_at": source.stored_at.isoformat(),
        "hc": source.hc,
        "hcr": source.hcr,
        "handling": handling(source.hc, source.hcr),
        "pse": checked.epoch,
        "claims": source.claims,
        "verified": checked.verified,
        "verification": checked.verification,
    }
