"""The ``sanctions.screening`` analyzer: screen disclosed names, report first hits.

Names screened, as the sanctions panel's policy discloses them:

* ``conflict-event/1``: ``side_a`` and ``side_b``. UCDP writes a coalition as
  its groups joined by ", " ("Ahrar al-Sham, HTS, Southern Front"), so each
  group is screened on its own;
* ``seizure/1``: each element of ``persons``;
* ``financial-flow/1``: ``sender_name`` and ``receiver_name``.

A finding is raised the first time a screened name (as folded: spellings that
fold alike are one name) hits a list reference; repeats only count in the state.
Findings are broadcast to every participant, and most of them are not entitled to
the screened names (the policy pseudonymises or withholds them), so a finding
names the *field* that matched, the list reference and the list's own spelling
(public), never the screened value: an entitled recipient reads that in its own
view of the input packet, which the result references.

Levels: ``critical`` for a strong hit on a financial-flow party (an asset freeze
concerns exactly such transfers); ``high`` for a strong hit (score >=
``STRONG_MATCH`` on the listed name or an alias of good quality); ``medium`` for
a weaker score, an acronym-only match, or a strong hit on a low-quality or
former alias; ``low`` for a weaker score on such an alias.

State (JSON): ``meta`` (views and names screened), ``seen/<digest>`` (the list
references already reported for one screened name, under the SHA-256 of its
folded form) and ``ref/<reference>`` (counts per list reference).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

from analyzers.base import Finding, View
from analyzers.sanctions_screening._consolidated_list import ConsolidatedList, read_list
from analyzers.sanctions_screening._index import Hit, ScreeningIndex
from analyzers.sanctions_screening._names import fold_name, name_key
from analyzers.sanctions_screening.thresholds import MATCH_THRESHOLD, STRONG_MATCH
from analyzers.state import State

__all__ = ["DEFAULT_LIST", "SanctionsScreeningAnalyzer"]

#: The list bundled with the analyzer (its bytes are part of the code digest).
DEFAULT_LIST = Path(__file__).resolve().parent / "data" / "un_sc_consolidated_list_2025-11-20.xml"

_STRONG_QUALITIES = frozenset({"name", "Good", "a.k.a.", "alias"})
_LEVEL_REASONS = {
    "critical": "a strong hit on a party to a transfer of funds",
    "high": "a strong hit on the listed name or a good alias",
    "medium": "a possible match (a weaker score, an acronym, or a low-quality or former alias)",
    "low": "a weaker score on a low-quality or former alias",
}
_CACHE_MAX = 4096


class SanctionsScreeningAnalyzer:
    """Screens disclosed names against the UN Security Council Consolidated List."""

    id: ClassVar[str] = "sanctions.screening"
    version: ClassVar[str] = "1.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset(
        {"conflict-event/1", "seizure/1", "financial-flow/1"}
    )

    def __init__(self, list_path: str | Path | None = None) -> None:
        """Read and index the list (the analyzer's only I/O).

        Raises :class:`~analyzers.sanctions_screening.ConsolidatedListError`.
        """
        self.consolidated_list: ConsolidatedList = read_list(list_path or DEFAULT_LIST)
        self.index = ScreeningIndex(self.consolidated_list.names)
        self._cache: dict[str, list[Hit]] = {}

    def screen(self, name: str) -> list[Hit]:
        """The hits of one name (memoised: the same name always gives the same hits)."""
        hits = self._cache.get(name)
        if hits is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            hits = self._cache[name] = self.index.screen(name)
        return hits

    def analyze(self, view: View, state: State) -> list[Finding]:
        meta = state.get("meta") or {"views": 0, "names": 0, "hits": 0}
        meta["views"] += 1
        findings: list[Finding] = []
        for field, name, country in screened_names(view):
            meta["names"] += 1
            hits = self.screen(name)
            if not hits:
                continue
            meta["hits"] += 1
            digest = hashlib.sha256(name_key(fold_name(name)).encode()).hexdigest()[:32]
            seen_key = f"seen/{digest}"
            seen: list[str] = state.get(seen_key) or []
            for hit in hits:
                _count(state, hit, field, view.schema, first=hit.reference not in seen)
                if hit.reference not in seen:
                    seen.append(hit.reference)
                    findings.append(self._finding(view, field, country, hit))
            state[seen_key] = sorted(seen)
        state["meta"] = meta
        return findings

    def _finding(self, view: View, field: str, country: str | None, hit: Hit) -> Finding:
        entry = self.consolidated_list.entries[hit.reference]
        level = _level(hit, view.schema)
        how = "acronym" if hit.acronym else ("listed name" if hit.quality == "name" else "alias")
        quality = "" if hit.quality in ("name", "alias") else f" of quality {hit.quality}"
        explanation = (
            f"A name disclosed in {field} of this {view.schema} packet matches UN Security "
            f"Council Consolidated List entry {hit.reference} ({entry.kind}, "
            f"{entry.list_type} list, listed on {entry.listed_on or 'an unstated date'}) "
            f"through its {how} {hit.list_name!r}{quality}, with score {hit.score:.3f} "
            f"(a hit at >= {MATCH_THRESHOLD}, strong at >= {STRONG_MATCH}); level {level}: "
            f"{_LEVEL_REASONS[level]}. A lead for review, not a determination; the screened "
            f"name itself is not repeated here."
        )
        return Finding(
            kind="sanctions-hit",
            subject=f"sanctions:{hit.reference}",
            explanation=explanation,
            level=level,
            score=hit.score,
            country=country,
            period=_period(view),
            indicators={
                "reference": hit.reference,
                "list_type": entry.list_type,
                "listed_on": entry.listed_on,
                "entry_kind": entry.kind,
                "matched_list_name": hit.list_name,
                "match_quality": hit.quality,
                "acronym_match": int(hit.acronym),
                "field": field,
                "threshold": MATCH_THRESHOLD,
            },
        )

    def summary(self, state: State) -> dict[str, Any]:
        meta = state.get("meta") or {"views": 0, "names": 0, "hits": 0}
        references = []
        for key, counts in state.items("ref/"):
            reference = key.removeprefix("ref/")
            entry = self.consolidated_list.entries.get(reference)
            references.append(
                {
                    "reference": reference,
                    "entry_kind": entry.kind if entry else None,
                    "list_type": entry.list_type if entry else None,
                    "listed_on": entry.listed_on if entry else None,
                    **counts,
                }
            )
        references.sort(key=lambda r: (-r["hits"], r["reference"]))
        names = self.consolidated_list
        return {
            "list": {
                "generated": names.generated,
                "entries": len(names.entries),
                "spellings_indexed": len(self.index),
            },
            "thresholds": {"match": MATCH_THRESHOLD, "strong": STRONG_MATCH},
            "views": meta["views"],
            "names_screened": meta["names"],
            "names_with_hits": meta["hits"],
            "references": references,
        }


def screened_names(view: View) -> list[tuple[str, str, str | None]]:
    """(field, name, country) for every name the view discloses; absent fields skipped."""
    out: list[tuple[str, str, str | None]] = []
    if view.schema == "conflict-event/1":
        country = _text(view.get("country"))
        for field in ("side_a", "side_b"):
            value = _text(view.get(field))
            for part in (value or "").split(","):
                if part.strip():
                    out.append((field, part.strip(), country))
    elif view.schema == "seizure/1":
        country = _text(view.get("country_code")) or _text(view.get("country"))
        persons = view.get("persons")
        for i, person in enumerate(persons if isinstance(persons, list) else []):
            if _text(person):
                out.append((f"persons[{i}]", person.strip(), country))
    elif view.schema == "financial-flow/1":
        parties = (("sender_name", "sender_country"), ("receiver_name", "receiver_country"))
        for field, where in parties:
            value = _text(view.get(field))
            if value:
                out.append((field, value, _text(view.get(where))))
    return out


def _count(state: State, hit: Hit, field: str, schema: str, *, first: bool) -> None:
    key = f"ref/{hit.reference}"
    counts = state.get(key) or {
        "hits": 0,
        "distinct_names": 0,
        "best_score": 0.0,
        "matched": {},
        "fields": {},
    }
    counts["hits"] += 1
    counts["distinct_names"] += int(first)
    counts["best_score"] = max(counts["best_score"], hit.score)
    counts["matched"][hit.list_name] = counts["matched"].get(hit.list_name, 0) + 1
    where = f"{schema} {field.split('[')[0]}"
    counts["fields"][where] = counts["fields"].get(where, 0) + 1
    state[key] = counts


def _level(hit: Hit, schema: str) -> str:
    strong_alias = hit.quality in _STRONG_QUALITIES and not hit.acronym
    if hit.score >= STRONG_MATCH and strong_alias:
        return "critical" if schema == "financial-flow/1" else "high"
    if hit.score >= STRONG_MATCH or strong_alias:
        return "medium"
    return "low"


def _period(view: View) -> str | None:
    for field in ("month", "date", "date_start"):
        value = view.get(field)
        if value is not None:
            return str(value)[:7]
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
