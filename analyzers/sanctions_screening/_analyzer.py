"""The ``sanctions.screening`` analyzer: screen disclosed names, report listed entries found.

Names screened, as the sanctions panel's policy discloses them, with the kind of
name each field holds (the entity-type check, :mod:`._index`):

* ``conflict-event/1``: ``side_a`` and ``side_b``, organisations or groups (UCDP
  actors: governments and armed groups), so screened against listed *entities*
  only. UCDP writes a coalition as its groups joined by ", " ("Ahrar al-Sham, HTS,
  Southern Front"), so each group is screened on its own;
* ``seizure/1``: each element of ``persons`` ("persons and organisations"), and
* ``financial-flow/1``: ``sender_name`` and ``receiver_name`` (a person or an
  entity): screened against both.

**Convergence.** Screening is per name, but what the analyzer reports is a
function of the *set* of inputs: each view's hits are absorbed into order-free
tallies per list reference (counts, sets of months and fields, digests of the
screened names, spellings that fold alike being one name, and the best hit by a
total order), and the finding of every reference the view touched is derived from
those tallies alone and handed to
:func:`analyzers.converge.reconcile`. One finding per listed entry found:
``kind="sanctions-hit"``, ``subject="sanctions:<reference>"``, no period (the
months seen are indicators). A finding changes when a later input changes it (a
stronger hit, another field or name, a later month, hits crossing a power of ten)
and is then re-issued; a match never stops holding, so nothing is withdrawn.

Findings are broadcast to every participant, and most of them are not entitled to
the screened names (the policy pseudonymises or withholds them), so a finding
names the list reference, the list's own spelling that matched (public) and the
fields, never a screened value: an entitled recipient reads that in its own view of
the input packets. The state keeps only digests of the screened names.

Levels: ``critical`` when a party to a transfer of funds hits strongly (an asset
freeze concerns exactly such transfers); ``high`` for a strong hit (score >=
``STRONG_MATCH`` on the listed name, an alias of good quality or an alias of the
alias table, not an acronym);
``medium`` for a weaker score, an acronym, or a strong hit on a low-quality or
former alias; ``low`` for a weaker score on such an alias. A finding takes the
highest level among its hits.

**Links.** A finding on a listed group names the listed individuals and entities
that the list's own comments link to it (:attr:`ConsolidatedList.linked`): a
leader or member whose entry cites the group's reference, or whom the group's entry
cites.

State (JSON): ``meta`` (views, names screened, names with hits) and
``ref/<reference>`` (the tallies of one list reference), plus the reported
findings kept by :func:`~analyzers.converge.reconcile`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

from clearinghouse.analyzers.base import Finding, View
from clearinghouse.analyzers.converge import reconcile
from clearinghouse.analyzers.sanctions_screening._consolidated_list import (
    ALIAS_TABLE,
    ConsolidatedList,
    ListEntry,
    read_list,
)
from clearinghouse.analyzers.sanctions_screening._index import QUALITY_RANK, Hit, ScreeningIndex
from clearinghouse.analyzers.sanctions_screening._names import fold_name, name_key
from clearinghouse.analyzers.sanctions_screening.thresholds import MATCH_THRESHOLD, STRONG_MATCH
from clearinghouse.analyzers.state import State

__all__ = ["DEFAULT_LIST", "SanctionsScreeningAnalyzer", "screened_names"]

#: The list bundled with the analyzer (its bytes are part of the code digest).
DEFAULT_LIST = Path(__file__).parent / "data" / "un_sc_consolidated_list_2025-11-20.xml"

KIND = "sanctions-hit"
_STRONG_QUALITIES = frozenset({"name", "Good", "a.k.a.", "alias", "original script", "alias table"})
_LEVELS = ("low", "medium", "high", "critical")
_LEVEL_REASONS = {
    "critical": "a strong hit on a party to a transfer of funds",
    "high": "a strong hit on the listed name or a good alias",
    "medium": "a possible match (a weaker score, an acronym, or a low-quality or former alias)",
    "low": "a weaker score on a low-quality or former alias",
}
_CACHE_MAX = 4096
_LINKS_SHOWN = 12


class SanctionsScreeningAnalyzer:
    """Screens disclosed names against the UN Security Council Consolidated List."""

    id: ClassVar[str] = "sanctions.screening"
    version: ClassVar[str] = "2.0.0"
    schemas: ClassVar[frozenset[str]] = frozenset(
        {"conflict-event/1", "seizure/1", "financial-flow/1"}
    )

    def __init__(
        self, list_path: str | Path | None = None, aliases: str | Path | None = ALIAS_TABLE
    ) -> None:
        """Read and index the list and the alias table (the analyzer's only I/O).

        Raises :class:`~analyzers.sanctions_screening.ConsolidatedListError`.
        """
        self.consolidated_list: ConsolidatedList = read_list(list_path or DEFAULT_LIST, aliases)
        self.index = ScreeningIndex(self.consolidated_list.names)
        self._cache: dict[tuple[str, str | None], list[Hit]] = {}

    def screen(self, name: str, kind: str | None = None) -> list[Hit]:
        """The hits of one name, of ``kind`` "entity" or "individual" when known
        (memoised: the same name always gives the same hits)."""
        key = (name, kind)
        hits = self._cache.get(key)
        if hits is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            hits = self._cache[key] = self.index.screen(name, kind)
        return hits

    def analyze(self, view: View, state: State) -> list[Finding]:
        meta = state.get("meta") or {"views": 0, "names": 0, "hits": 0}
        meta["views"] += 1
        touched: set[str] = set()
        month = _period(view)
        for field, name, country, kind in screened_names(view):
            meta["names"] += 1
            hits = self.screen(name, kind)
            if not hits:
                continue
            meta["hits"] += 1
            folded = name_key(fold_name(name)) or name.casefold()
            digest = hashlib.sha256(folded.encode()).hexdigest()[:24]
            for hit in hits:
                _absorb(state, hit, view.schema, field, country, month, digest)
                touched.add(hit.reference)
        state["meta"] = meta
        out: list[Finding] = []
        for reference in sorted(touched):
            finding = self.finding(reference, state.get(f"ref/{reference}"))
            out += reconcile(state, f"ref:{reference}", [finding])
        return out

    def finding(self, reference: str, tally: dict[str, Any]) -> Finding:
        """The finding on one list reference, from its tallies alone."""
        entry = self.consolidated_list.entries[reference]
        best = tally["best"]
        level = max(tally["levels"], key=_LEVELS.index)
        how = "acronym" if best["acronym"] else _how(best["quality"])
        fields = sorted(tally["fields"])
        months = sorted(m for m in tally["months"] if m)
        countries = sorted(c for c in tally["countries"] if c)
        linked = self.consolidated_list.linked.get(reference, ())
        people = [r for r in linked if self._kind(r) == "individual"]
        groups = [r for r in linked if self._kind(r) == "entity"]
        span = f" in {months[0]} .. {months[-1]}" if months else ""
        source = f" (alias table: {best['source']})" if best["source"] else ""
        explanation = (
            f"Names disclosed in {', '.join(fields)} match UN Security Council Consolidated "
            f"List entry {reference} ({entry.kind}, {entry.list_type} list, listed on "
            f"{entry.listed_on or 'an unstated date'}): {len(tally['names'])} distinct "
            f"name(s), {_band(tally['hits'])} hit(s){span}. Best: its {how} "
            f"{best['list_name']!r}{source}, score {best['score']:.3f} (a hit at >= "
            f"{MATCH_THRESHOLD}, strong at >= {STRONG_MATCH}); level {level}: "
            f"{_LEVEL_REASONS[level]}.{_links_text(people, groups)} A lead for review, "
            f"not a determination; the screened names are not repeated here."
        )
        indicators: dict[str, float | int | str] = {
            "reference": reference,
            "list_type": entry.list_type,
            "listed_on": entry.listed_on,
            "entry_kind": entry.kind,
            "matched_list_name": best["list_name"],
            "match_quality": best["quality"],
            "acronym_match": int(best["acronym"]),
            "fields": ", ".join(fields),
            "distinct_names": len(tally["names"]),
            "hits_band": _band(tally["hits"]),
            "threshold": MATCH_THRESHOLD,
            "linked_individuals": ", ".join(people),
            "linked_entities": ", ".join(groups),
        }
        if months:
            indicators["first_month"] = months[0]
            indicators["last_month"] = months[-1]
        if best["source"]:
            indicators["alias_source"] = best["source"]
        return Finding(
            kind=KIND,
            subject=f"sanctions:{reference}",
            explanation=explanation,
            level=level,
            score=best["score"],
            country=countries[0] if len(countries) == 1 else None,
            indicators=indicators,
        )

    def _kind(self, reference: str) -> str:
        entry: ListEntry | None = self.consolidated_list.entries.get(reference)
        return entry.kind if entry else ""

    def summary(self, state: State) -> dict[str, Any]:
        meta = state.get("meta") or {"views": 0, "names": 0, "hits": 0}
        references = []
        for key, tally in state.items("ref/"):
            reference = key.removeprefix("ref/")
            entry = self.consolidated_list.entries.get(reference)
            months = sorted(m for m in tally["months"] if m)
            references.append(
                {
                    "reference": reference,
                    "entry_kind": entry.kind if entry else None,
                    "list_type": entry.list_type if entry else None,
                    "listed_on": entry.listed_on if entry else None,
                    "hits": tally["hits"],
                    "distinct_names": len(tally["names"]),
                    "best_score": tally["best"]["score"],
                    "matched": dict(sorted(tally["matched"].items())),
                    "fields": dict(sorted(tally["fields"].items())),
                    "levels": dict(sorted(tally["levels"].items())),
                    "months": [months[0], months[-1]] if months else [],
                    "linked": list(self.consolidated_list.linked.get(reference, ())),
                }
            )
        references.sort(key=lambda r: (-r["hits"], r["reference"]))
        listed = self.consolidated_list
        return {
            "list": {
                "generated": listed.generated,
                "entries": len(listed.entries),
                "spellings_indexed": len(self.index),
                "alias_table": sum(1 for n in listed.names if n.quality == "alias table"),
            },
            "thresholds": {"match": MATCH_THRESHOLD, "strong": STRONG_MATCH},
            "views": meta["views"],
            "names_screened": meta["names"],
            "names_with_hits": meta["hits"],
            "references": references,
        }


def screened_names(view: View) -> list[tuple[str, str, str | None, str | None]]:
    """(field, name, country, kind) for every name the view discloses; absent fields
    skipped. ``kind`` is "entity" where the schema says the field names a group."""
    out: list[tuple[str, str, str | None, str | None]] = []
    if view.schema == "conflict-event/1":
        country = _text(view.get("country"))
        for field in ("side_a", "side_b"):
            value = _text(view.get(field))
            for part in (value or "").split(","):
                if part.strip():
                    out.append((field, part.strip(), country, "entity"))
    elif view.schema == "seizure/1":
        country = _text(view.get("country_code")) or _text(view.get("country"))
        persons = view.get("persons")
        for i, person in enumerate(persons if isinstance(persons, list) else []):
            if _text(person):
                out.append((f"persons[{i}]", person.strip(), country, None))
    elif view.schema == "financial-flow/1":
        parties = (("sender_name", "sender_country"), ("receiver_name", "receiver_country"))
        for field, where in parties:
            value = _text(view.get(field))
            if value:
                out.append((field, value, _text(view.get(where)), None))
    return out


def _absorb(
    state: State,
    hit: Hit,
    schema: str,
    field: str,
    country: str | None,
    month: str | None,
    digest: str,
) -> None:
    """Add one hit to its reference's order-free tallies."""
    key = f"ref/{hit.reference}"
    tally = state.get(key) or {
        "hits": 0,
        "names": [],
        "matched": {},
        "fields": {},
        "levels": {},
        "months": {},
        "countries": {},
        "best": None,
    }
    tally["hits"] += 1
    if digest not in tally["names"]:
        tally["names"] = sorted([*tally["names"], digest])
    _bump(tally["matched"], hit.list_name)
    _bump(tally["fields"], f"{schema} {field.split('[')[0]}")
    _bump(tally["levels"], _level(hit, schema))
    _bump(tally["months"], month or "")
    _bump(tally["countries"], country or "")
    candidate = {
        "score": hit.score,
        "list_name": hit.list_name,
        "quality": hit.quality,
        "acronym": hit.acronym,
        "source": hit.source,
    }
    if tally["best"] is None or _order(candidate) < _order(tally["best"]):
        tally["best"] = candidate
    state[key] = tally


def _order(hit: dict[str, Any]) -> tuple[float, bool, int, str]:
    """A total order of hits on one reference (lower is better): the best is the same
    whatever the order the hits came in."""
    quality = QUALITY_RANK.get(hit["quality"], 2)
    return (-hit["score"], hit["acronym"], quality, hit["list_name"])


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _how(quality: str) -> str:
    return {
        "name": "listed name",
        "original script": "name in original script",
        "alias table": "alias",
        "derived acronym": "derived acronym",
    }.get(quality, f"alias (quality {quality})")


def _band(hits: int) -> str:
    """Hits as an order of magnitude ("1", "2-9", "10-99" ...): the finding changes
    when the count crosses a power of ten, not with every hit (the summary counts)."""
    if hits <= 1:
        return str(hits)
    low = 10 ** (len(str(hits)) - 1)
    return "2-9" if low == 1 else f"{low}-{low * 10 - 1}"


def _links_text(people: list[str], groups: list[str]) -> str:
    parts = []
    for label, refs in (("listed individuals", people), ("listed entities", groups)):
        if refs:
            shown = ", ".join(refs[:_LINKS_SHOWN])
            more = f" and {len(refs) - _LINKS_SHOWN} more" if len(refs) > _LINKS_SHOWN else ""
            parts.append(f"{len(refs)} {label} ({shown}{more})")
    if not parts:
        return ""
    return " The list's comments link it to " + " and ".join(parts) + "."


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
