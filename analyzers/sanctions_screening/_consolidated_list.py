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
* the annotations "original script" and "- sub-unit name" are dropped.

This module is the analyzer's only I/O and runs once, when the analyzer is built.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from analyzers.sanctions_screening._names import fold_name

__all__ = ["ConsolidatedList", "ConsolidatedListError", "ListEntry", "ListName", "read_list"]

_PRIMARY = "name"
_ANNOTATIONS = frozenset({"original script", "sub-unit name"})
_SUBUNIT = re.compile(r"\s+-\s+sub-unit name\s*$", re.IGNORECASE)
_ACRONYM = re.compile(r"[A-Za-z][A-Za-z./&\-]{1,15}")
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


@dataclass(frozen=True)
class ListName:
    """One screenable spelling of a listed entry: its name, an alias, or a part of either."""

    reference: str
    name: str
    quality: str  # "name" for the listed name, else the alias QUALITY ("Good", "a.k.a." ...)
    acronym: bool
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class ConsolidatedList:
    generated: str
    entries: dict[str, ListEntry]
    names: tuple[ListName, ...]


def read_list(path: str | Path) -> ConsolidatedList:
    """Parse the list at ``path``. Raises :class:`ConsolidatedListError`."""
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
            names.extend(_names(entry.reference, entry.name, _PRIMARY))
            for alias in element.findall(f"{tag}_ALIAS"):
                quality = _text(alias, "QUALITY") or "alias"
                names.extend(_names(entry.reference, _text(alias, "ALIAS_NAME"), quality))
    if not entries:
        raise ConsolidatedListError(f"{path}: no INDIVIDUAL or ENTITY with a REFERENCE_NUMBER")
    return ConsolidatedList(root.get("dateGenerated", ""), entries, _unique(names))


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
    latin_base = bool(fold_name(base))
    out: list[tuple[str, bool]] = []
    if latin_base and base.lower() not in _ANNOTATIONS:
        out.append((base, False))
    for group in groups:
        group = _SUBUNIT.sub("", group).strip()
        if not group or group.lower() in _ANNOTATIONS:
            continue
        if ";" in group or not latin_base:
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
    return ListEntry(
        reference=reference,
        kind=kind,
        list_type=_text(element, "UN_LIST_TYPE"),
        listed_on=_text(element, "LISTED_ON"),
        name=name,
    )


def _names(reference: str, written: str, quality: str) -> list[ListName]:
    out = []
    for name, acronym in name_variants(written):
        tokens = tuple(fold_name(name))
        if tokens:
            out.append(ListName(reference, name, quality, acronym, tokens))
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
