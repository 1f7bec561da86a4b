"""Reading the UN Security Council Consolidated List from its official XML.

The ``CONSOLIDATED_LIST`` document (https://www.un.org/sc/resources/sc-sanctions.xsd)
holds ``INDIVIDUALS/INDIVIDUAL`` and ``ENTITIES/ENTITY``, each with a
``REFERENCE_NUMBER`` (``QDi.001`` for an individual of the ISIL (Da'esh) and
Al-Qaida list, ``QDe.137`` for an entity), the regime in ``UN_LIST_TYPE``, the
date in ``LISTED_ON``, the name in ``FIRST_NAME`` ... ``FOURTH_NAME`` (an entity
has only ``FIRST_NAME``) and aliases in ``INDIVIDUAL_ALIAS``/``ENTITY_ALIAS``
(``ALIAS_NAME`` and its ``QUALITY``: ``Good``, ``Low``, ``a.k.a.``, ``f.k.a.``).

One written name often packs several names, and :func:`name_variants` splits
them so that each can match on its own:

* ``;`` and spaced `` / `` separate alternatives ("AL-ITIHAAD AL-ISLAMIYA / AIAI");
* a parenthesised group holding ``;`` is a list of alternatives
  ("جبهة فتح الشام (Jabhat Fath al Sham; Jabhat Fatah al-Sham; ...)");
* a parenthesised group after a name in non-Latin script is its transliteration
  ("أنصار الشريعة (Ansar al Charia)");
* a parenthesised acronym of the name before it is an alias of its own
  ("Hay'at Tahrir al-Sham (HTS)", "EASTERN TURKISTAN ISLAMIC MOVEMENT (ETIM)"):
  one word, at least two capitals, no digits, whose letters follow the name's
  letters in order from its first. Any other group is a qualifier and is dropped:
  "AL-HARAMAIN FOUNDATION (PAKISTAN)" must not make "Pakistan" a listed name;
* the annotations "original script" and "- sub-unit name" are dropped; a name in
  Arabic or Cyrillic script (``NAME_ORIGINAL_SCRIPT``, or inside an alias) is kept
  as a spelling of its own, transliterated when folded (:mod:`._names`).

Besides the written names, an entity gets **derived acronyms**: the initials of its
name or alias of at least three words, skipping English and French function
words ("in", "and", "the", "of" ...), once with the Arabic articles ("Al-") and
once without them: "Islamic State in Iraq and the Levant" -> ``ISIL``,
"Al-Qaida in Iraq" -> ``AQI``, "Jama'at Al-Tawhid Wa'al-Jihad" -> ``JTJ``. Only
acronyms of at least ``DERIVED_ACRONYM_MIN`` letters are kept, and one derived for
two entries is dropped (it identifies neither).

**Links.** ``COMMENTS1`` (the list's narrative) of an entry cites other entries by
reference number ("Associated with Al-Qaida (QDe.004)", "... and its leader ...
(QDi.299)"); :attr:`ListEntry.links` holds the references an entry's comments cite,
and :attr:`ConsolidatedList.linked` the links in both directions.

**Alias table.** ``data/aliases.csv`` adds names that conflict data uses for listed
groups and that the list does not spell ("IS", "Islamic State", "Daesh" ->
``QDe.115``), each with its source (:func:`read_aliases`).

This module is the analyzer's only I/O and runs once, when the analyzer is built.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from clearinghouse.analyzers.sanctions_screening._names import (
    ARTICLES,
    fold_name,
    has_arabic,
    is_acronym,
)

__all__ = [
    "ALIAS_TABLE",
    "DERIVED_ACRONYM_MIN",
    "ConsolidatedList",
    "ConsolidatedListError",
    "ListEntry",
    "ListName",
    "derived_acronyms",
    "read_aliases",
    "read_list",
]

#: The alias table bundled with the analyzer (alias, reference, source).
ALIAS_TABLE = Path(__file__).parent / "data" / "aliases.csv"
#: Derived acronyms shorter than this are not kept: three-letter strings collide too
#: often with other groups' acronyms ("SDF", "FSA", "SNA" are not listed entities).
DERIVED_ACRONYM_MIN = 4
ALIAS_QUALITY = "alias table"
DERIVED_QUALITY = "derived acronym"
ORIGINAL_SCRIPT = "original script"
_FUNCTION_WORDS = frozenset(
    {"in", "and", "the", "of", "for", "on", "to", "de", "du", "des", "la", "le", "les", "et"}
)
_REFERENCE = re.compile(r"\b[A-Z]{2}[ie]\.\d{3}\b")

_PRIMARY = "name"
_ANNOTATIONS = frozenset({"original script", "sub-unit name"})
_SUBUNIT = re.compile(r"\s+-\s+sub-unit name\s*$", re.IGNORECASE)
_ACRONYM = re.compile(r"[A-Za-z][A-Za-z./&\-]{1,15}")
_ORIGINAL_PREFIX = re.compile(r"^original script\s*:\s*", re.IGNORECASE)
_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


class ConsolidatedListError(Exception):
    """The list file is missing, unreadable or not a ``CONSOLIDATED_LIST`` document."""


@dataclass(frozen=True)
class ListEntry:
    """One listed individual or entity (only what screening reports)."""

    reference: str
    kind: str  # "individual" | "entity"
    list_type: str
    listed_on: str
    name: str
    #: References of other entries that this entry's COMMENTS1 cites, sorted.
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListName:
    """One screenable spelling of a listed entry: its name, an alias, or a part of either."""

    reference: str
    name: str
    quality: str  # "name", "original script", "alias table", "derived acronym", or the
    # alias QUALITY ("Good", "Low", "a.k.a.", "f.k.a.")
    acronym: bool
    tokens: tuple[str, ...]
    #: The entry's kind ("individual" | "entity"), for the entity-type check.
    kind: str = ""
    #: Whether the spelling is in Arabic script (compared through consonant skeletons).
    arabic: bool = False
    #: Where an alias-table spelling comes from (its citation); empty otherwise.
    source: str = ""


@dataclass(frozen=True)
class ConsolidatedList:
    generated: str
    entries: dict[str, ListEntry]
    names: tuple[ListName, ...]
    #: reference -> the references linked to it by either entry's comments, sorted.
    linked: dict[str, tuple[str, ...]] = field(default_factory=dict)


def read_aliases(path: str | Path) -> list[tuple[str, str, str]]:
    """(alias, reference, source) rows of an alias table (CSV with those columns).

    Raises :class:`ConsolidatedListError` for a missing file or a row without a source.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConsolidatedListError(f"cannot read the alias table {path}: {exc}") from exc
    out = []
    for number, row in enumerate(rows, start=2):
        alias, reference, source = (
            (row.get(k) or "").strip() for k in ("alias", "reference", "source")
        )
        if not (alias and reference and source):
            raise ConsolidatedListError(
                f"{path} line {number}: alias, reference and source are all required"
            )
        out.append((alias, reference, source))
    return out


def derived_acronyms(written: str) -> set[str]:
    """The acronyms of a Latin-script name of at least three words (module docstring)."""
    words = [w for w in re.split(r"[^A-Za-z0-9\u2019']+", written) if w]
    words = [w for w in words if w.lower() not in _FUNCTION_WORDS]
    if len(words) < 3 or any(not w.isascii() for w in words):
        return set()
    with_articles = "".join(w[0] for w in words)
    without = "".join(w[0] for w in words if w.lower().replace("'", "") not in ARTICLES)
    return {a.upper() for a in (with_articles, without) if len(a) >= DERIVED_ACRONYM_MIN}


def read_list(path: str | Path, aliases: str | Path | None = ALIAS_TABLE) -> ConsolidatedList:
    """Parse the list at ``path``, with the alias table ``aliases`` (rows whose reference
    is not on this list are left out). Raises :class:`ConsolidatedListError`."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ConsolidatedListError(f"cannot read the Consolidated List {path}: {exc}") from exc
    if root.tag != "CONSOLIDATED_LIST":
        raise ConsolidatedListError(f"{path}: root element is {root.tag!r}, not CONSOLIDATED_LIST")
    entries: dict[str, ListEntry] = {}
    names: list[ListName] = []
    for group, tag, kind in (
        ("INDIVIDUALS", "INDIVIDUAL", "individual"),
        ("ENTITIES", "ENTITY", "entity"),
    ):
        for element in root.findall(f"{group}/{tag}"):
            entry = _entry(element, kind)
            if entry is None:
                continue
            entries[entry.reference] = entry
            ref = entry.reference
            names.extend(_names(ref, kind, entry.name, _PRIMARY))
            original = _text(element, "NAME_ORIGINAL_SCRIPT")
            if original:
                names.extend(_names(ref, kind, original, ORIGINAL_SCRIPT))
            for alias in element.findall(f"{tag}_ALIAS"):
                quality = _text(alias, "QUALITY") or "alias"
                names.extend(_names(ref, kind, _text(alias, "ALIAS_NAME"), quality))
    if not entries:
        raise ConsolidatedListError(f"{path}: no INDIVIDUAL or ENTITY with a REFERENCE_NUMBER")
    if aliases is not None:
        for written, reference, source in read_aliases(aliases):
            listed = entries.get(reference)
            if listed is not None:
                names.extend(_names(reference, listed.kind, written, ALIAS_QUALITY, source))
    names.extend(_derived(names, entries))
    linked: dict[str, set[str]] = {}
    for entry in entries.values():
        for other in entry.links:
            if other in entries:
                linked.setdefault(entry.reference, set()).add(other)
                linked.setdefault(other, set()).add(entry.reference)
    return ConsolidatedList(
        root.get("dateGenerated", ""),
        entries,
        _unique(names),
        {ref: tuple(sorted(refs)) for ref, refs in sorted(linked.items())},
    )


def _derived(names: list[ListName], entries: dict[str, ListEntry]) -> list[ListName]:
    """Derived acronyms of entities, each kept only if it belongs to one entry and no
    other entry writes it (module docstring)."""
    owners: dict[str, set[str]] = {}
    for name in names:
        if name.kind == "entity" and not name.acronym and not name.arabic:
            for acronym in derived_acronyms(name.name):
                owners.setdefault(acronym, set()).add(name.reference)
    out = []
    for acronym, refs in sorted(owners.items()):
        tokens = tuple(fold_name(acronym))
        writers = {n.reference for n in names if n.acronym and n.tokens == tokens}
        if len(refs) == 1 and writers <= refs and tokens:
            [ref] = refs
            kind = entries[ref].kind
            out.append(ListName(ref, acronym, DERIVED_QUALITY, True, tokens, kind))
    return out


def name_variants(written: str) -> list[tuple[str, bool]]:
    """The separate names packed in one written name, each with "is an acronym"."""
    out: list[tuple[str, bool]] = []
    for alternative in _split_top(written, ";"):
        for part in re.split(r"\s+/\s+", alternative):
            out.extend(_variants_of(part))
    return out


def _variants_of(text: str) -> list[tuple[str, bool]]:
    base, groups = _outside_and_groups(text)
    base = _SUBUNIT.sub("", base).strip()
    latin_base = any("a" <= c <= "z" for c in base.lower())
    out: list[tuple[str, bool]] = []
    if fold_name(base) and base.lower() not in _ANNOTATIONS:
        out.append((base, False))
    for group in groups:
        group = _SUBUNIT.sub("", group).strip()
        group = _ORIGINAL_PREFIX.sub("", group).strip()
        if not group or group.lower() in _ANNOTATIONS:
            continue
        if ";" in group or not latin_base or not any("a" <= c <= "z" for c in group.lower()):
            out.extend(name_variants(group))
        elif _is_acronym_of(group, base):
            out.append((group, True))
    return out


def _is_acronym_of(group: str, base: str) -> bool:
    if not _ACRONYM.fullmatch(group) or sum(c.isupper() for c in group) < 2:
        return False
    letters = [c for c in group.lower() if c.isalpha()]
    source = iter(c for c in base.lower() if c.isalpha())
    first = next(source, "")
    if letters[0] != first:
        return False
    return all(any(c == s for s in source) for c in letters[1:])


def _outside_and_groups(text: str) -> tuple[str, list[str]]:
    """Text outside parentheses, and the content of each top-level group (nesting kept)."""
    outside: list[str] = []
    groups: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            if depth > 0:
                current.append(char)
            depth += 1
        elif char == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append("".join(current))
                current = []
            else:
                current.append(char)
        elif depth > 0:
            current.append(char)
        else:
            outside.append(char)
    if current:  # an unclosed group: keep its text as a group
        groups.append("".join(current))
    return " ".join("".join(outside).split()), groups


def _split_top(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` outside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth > 0:
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _entry(element: ET.Element, kind: str) -> ListEntry | None:
    reference = _text(element, "REFERENCE_NUMBER")
    if not reference:
        return None
    parts = (_text(element, tag) for tag in _NAME_PARTS)
    name = " ".join(p for p in parts if p)
    cited = set(_REFERENCE.findall(element.findtext("COMMENTS1") or "")) - {reference}
    return ListEntry(
        reference=reference,
        kind=kind,
        list_type=_text(element, "UN_LIST_TYPE"),
        listed_on=_text(element, "LISTED_ON"),
        name=name,
        links=tuple(sorted(cited)),
    )


def _names(
    reference: str, kind: str, written: str, quality: str, source: str = ""
) -> list[ListName]:
    out = []
    for name, acronym in name_variants(written):
        tokens = tuple(fold_name(name))
        if tokens:
            arabic = has_arabic(name)
            acronym = acronym or is_acronym(name)
            out.append(ListName(reference, name, quality, acronym, tokens, kind, arabic, source))
    return out


def _unique(names: list[ListName]) -> tuple[ListName, ...]:
    """Names without repeats of one spelling (case and spacing aside) of one entry."""
    seen: set[tuple[str, str]] = set()
    out = []
    for name in names:
        key = (name.reference, name.name.casefold())
        if key not in seen:
            seen.add(key)
            out.append(name)
    return tuple(out)


def _text(element: ET.Element, tag: str) -> str:
    return " ".join((element.findtext(tag) or "").split())
