"""Joining price areas to conflict areas by the data's own names (no country table).

WFP's prices name a market's first-level area as WFP does (``"Aleppo"``,
``"Idleb"``, ``"Rural Damascus"``, ``"Mopti"``) and give the country as an ISO
3166-1 alpha-3 code; UCDP's events name the area as UCDP does (``"Aleppo
governorate"``, ``"Idlib governorate"``, ``"Rif Dimashq governorate"``, ``"Mopti
region"``) and the country by name. The join works on any country:

1. **Country**: a conflict event's country name is resolved to its ISO alpha-3 code
   with ``pycountry`` (the name, then its parts around a parenthesis, as UCDP writes
   former names in brackets: "Yemen (North Yemen)"; then the one country whose name
   holds every word of it, with "DR" read as "Democratic Republic": "DR Congo"). A
   name it cannot resolve keeps its own key (``?<name>``) and is listed in the
   summary, never dropped.
2. **Name key** (:func:`name_key`): transliterated to ASCII (``anyascii``),
   case-folded, punctuation folded to spaces (apostrophes removed), and generic
   words for administrative levels removed in several languages (governorate,
   province, region, state, district, prefecture, department, muhafazah/muhafazat,
   wilayah/wilaya, oblast, ...). Words for "countryside" (rural, rif, reef,
   countryside, campagne) become one qualifier ``rural``.
3. **Skeleton** (:func:`skeleton`): for transliteration variants of one name
   ("Idleb"/"Idlib", "Lattakia"/"Latakia", "As-Sweida"/"As Suwayda", "Tombouctou"/
   "Timbuktu"): Arabic articles (al, el, ar, as, ez ...) dropped, digraphs folded
   (sh, kh, gh, th, dh, ph, ou), q and c read as k, vowels (and w, y) dropped after
   a word's first letter, a final h after a vowel dropped (ta marbuta: Hamah/Hama),
   doubled letters collapsed.

Within one country, areas are paired (:func:`join_areas`) first by equal name key,
then by equal skeleton, then by the most similar skeleton (``rapidfuzz`` ratio at
least :data:`FUZZY_MIN`, better than any other candidate by :data:`FUZZY_MARGIN`,
the same qualifiers, mutually best); each step only among areas not yet paired and
only when the pairing is one to one. What stays unpaired is reported, not dropped.
The join is a function of the *set* of names seen, so it is the same in any order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import pycountry
from anyascii import anyascii
from rapidfuzz import fuzz

__all__ = [
    "ADMIN_WORDS",
    "FATALITY_INDEX",
    "FUZZY_MARGIN",
    "FUZZY_MIN",
    "Join",
    "country_key",
    "country_label",
    "join_areas",
    "name_key",
    "skeleton",
]

#: Generic words for administrative levels, removed from area names before joining
#: (English, French, Spanish, Portuguese, transliterated Arabic, Russian/Ukrainian,
#: Turkish, Persian/Urdu): they name the level, not the area.
ADMIN_WORDS: frozenset[str] = frozenset(
    """governorate governorates gouvernorat province provinces provincia provincie
    region regions region regiao state states estado etat district districts
    prefecture department departement departamento county municipality municipio
    commune cercle circle division zone territory canton emirate voivodeship
    muhafazah muhafazat mohafazat muhafaza mohafaza wilayah wilaya wilayat vilayet
    velayat ostan oblast oblasti krai kray okrug raion rayon il ili mintaqah
    mintaqa qada kaza caza""".split()
)
#: Words for "countryside", as in Rural Damascus / Rif Dimashq: one qualifier.
RURAL_WORDS: frozenset[str] = frozenset({"rural", "rif", "reef", "countryside", "campagne"})
#: Arabic article forms, assimilated or not, dropped in the skeleton.
ARTICLES: frozenset[str] = frozenset(
    "al el ul il ar er as es ad ed an en at et az ez ash esh adh ath ad-".split()
)
#: Directional words kept as qualifiers that must agree.
DIRECTIONS: frozenset[str] = frozenset(
    "north south east west northern southern eastern western nord sud est ouest "
    "upper lower central centre center".split()
)
#: Least ``rapidfuzz.fuzz.ratio`` (0-100) of two skeletons for a similarity pairing.
FUZZY_MIN = 80.0
#: Least lead of the best candidate over the second (ratio points).
FUZZY_MARGIN = 5.0

#: Representative deaths per ``fatality_band`` (the generalised ``deaths.best``
#: undp receives): the geometric midpoint of each band, sqrt(low x high), rounded
#: (1-4: 2; 5-24: 11; 25-99: 50; 100-999: 316), since deaths per event are skewed and
#: the bands are roughly logarithmic; the open top band counts at its lower bound
#: (1000), so that one band cannot dominate. No country's data sets these values.
FATALITY_INDEX: Mapping[str, float] = MappingProxyType(
    {"0": 0.0, "1-4": 2.0, "5-24": 11.0, "25-99": 50.0, "100-999": 316.0, "1000+": 1000.0}
)

_PUNCT = re.compile(r"[^a-z0-9]+")
_DIGRAPHS = (("sh", "s"), ("kh", "k"), ("gh", "g"), ("th", "t"), ("dh", "d"), ("ph", "f"))
_VOWELS = frozenset("aeiouwy")


@lru_cache(maxsize=8192)
def _tokens(name: str) -> tuple[str, ...]:
    text = anyascii(name).casefold().replace("'", "").replace("`", "")
    words = _PUNCT.sub(" ", text).split()
    kept = tuple("rural" if w in RURAL_WORDS else w for w in words if w not in ADMIN_WORDS)
    return kept or tuple(words)


def name_key(name: str) -> str:
    """``"Aleppo governorate"`` -> ``"aleppo"``; ``"Rif Dimashq"`` -> ``"rural dimashq"``."""
    return " ".join(_tokens(name))


def _qualifiers(name: str) -> frozenset[str]:
    return frozenset(w for w in _tokens(name) if w == "rural" or w in DIRECTIONS)


def _word_skeleton(word: str) -> str:
    for digraph, letter in _DIGRAPHS:
        word = word.replace(digraph, letter)
    word = word.replace("q", "k").replace("c", "k").replace("ou", "u")
    if len(word) > 2 and word.endswith("h") and word[-2] in _VOWELS:
        word = word[:-1]
    out = word[:1] + "".join(ch for ch in word[1:] if ch not in _VOWELS)
    collapsed = [ch for i, ch in enumerate(out) if i == 0 or ch != out[i - 1]]
    return "".join(collapsed)


@lru_cache(maxsize=8192)
def skeleton(name: str) -> str:
    """``"Al-Hasakeh"`` and ``"Al Hasakah governorate"`` -> ``"hsk"``."""
    words = [w for w in _tokens(name) if w != "rural" and w not in DIRECTIONS]
    if len(words) > 1:
        words = [w for w in words if w not in ARTICLES] or words
    return " ".join(_word_skeleton(w) for w in words)


@lru_cache(maxsize=1024)
def country_key(name: str) -> str:
    """ISO alpha-3 of a country name (``"Syria"`` -> ``"SYR"``), else ``"?<name>"``."""
    text = " ".join(name.split())
    variants = [text, re.sub(r"\s*\(.*?\)\s*", " ", text).strip()]
    variants += re.findall(r"\((.*?)\)", text)
    variants += [v.replace("-", " ").replace("&", "and") for v in list(variants)]
    for variant in variants:
        if not variant:
            continue
        try:
            return str(pycountry.countries.lookup(variant).alpha_3)
        except LookupError:
            continue
    for variant in variants:
        found = _by_words(variant)
        if found is not None:
            return found
    return f"?{text}"


_STOP = frozenset({"of", "the", "and"})


def _words(name: str) -> frozenset[str]:
    text = _PUNCT.sub(" ", anyascii(name).casefold().replace("'", ""))
    words = text.replace(" dr ", " democratic republic ").split()
    if words[:1] == ["dr"]:
        words = ["democratic", "republic", *words[1:]]
    return frozenset(w for w in words if w not in _STOP)


def _by_words(name: str) -> str | None:
    """The one country whose name, official or common name has every word of ``name``
    ("DR Congo" -> COD, "Bosnia-Herzegovina" -> BIH); None if none or several."""
    wanted = _words(name)
    if not wanted:
        return None
    found = {
        str(c.alpha_3)
        for c in pycountry.countries
        for n in (c.name, getattr(c, "official_name", None), getattr(c, "common_name", None))
        if n and wanted <= _words(n)
    }
    return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=1024)
def country_label(code: str) -> str:
    """A readable name of a country key: pycountry's common or short name."""
    if code.startswith("?"):
        return code[1:]
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


@dataclass(frozen=True)
class Join:
    """Price area -> the conflict area names it is joined to (one area, maybe several
    spellings), the step that paired it, and what stayed unpaired on each side."""

    pairs: Mapping[str, tuple[str, ...]]
    method: Mapping[str, str]
    unjoined_prices: tuple[str, ...]
    unjoined_conflict: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "pairs": {k: list(v) for k, v in sorted(self.pairs.items())},
            "method": dict(sorted(self.method.items())),
            "unjoined_price_areas": list(self.unjoined_prices),
            "unjoined_conflict_areas": list(self.unjoined_conflict),
        }


def _groups(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        out.setdefault(name_key(name), []).append(name)
    return {k: tuple(v) for k, v in out.items()}


def _pair_by(
    left: dict[str, str],
    right: dict[str, str],
    found: dict[str, str],
    how: str,
    method: dict[str, str],
) -> None:
    """Pair keys whose value (a key or skeleton) is equal and unique on both sides."""
    by_left: dict[str, list[str]] = {}
    by_right: dict[str, list[str]] = {}
    for k, v in left.items():
        by_left.setdefault(v, []).append(k)
    for k, v in right.items():
        by_right.setdefault(v, []).append(k)
    for value in sorted(by_left):
        if len(by_left[value]) == 1 and len(by_right.get(value, [])) == 1:
            a, b = by_left[value][0], by_right[value][0]
            found[a] = b
            method[a] = how
            del left[a], right[b]


@lru_cache(maxsize=512)
def join_areas(price_names: tuple[str, ...], conflict_names: tuple[str, ...]) -> Join:
    """Pair the price areas of one country with its conflict areas (see the module)."""
    prices, conflicts = _groups(price_names), _groups(conflict_names)
    left = {k: k for k in prices}
    right = {k: k for k in conflicts}
    found: dict[str, str] = {}
    method: dict[str, str] = {}
    _pair_by(left, right, found, "name key", method)
    _pair_by(
        {k: skeleton(k) for k in left},
        {k: skeleton(k) for k in right},
        found,
        "skeleton",
        method,
    )
    left = {k: k for k in prices if k not in found}
    taken = set(found.values())
    right = {k: k for k in conflicts if k not in taken}
    best: dict[str, tuple[str, float]] = {}
    for side, other in ((left, right), (right, left)):
        for a in side:
            scores = sorted(
                (
                    (fuzz.ratio(skeleton(a).replace(" ", ""), skeleton(b).replace(" ", "")), b)
                    for b in other
                    if _qualifiers(a) == _qualifiers(b)
                ),
                key=lambda s: (-s[0], s[1]),
            )
            if (
                scores
                and scores[0][0] >= FUZZY_MIN
                and (len(scores) == 1 or scores[0][0] - scores[1][0] >= FUZZY_MARGIN)
            ):
                best[("p:" if side is left else "c:") + a] = (scores[0][1], scores[0][0])
    for a in sorted(left):
        b = best.get("p:" + a)
        if b is not None and best.get("c:" + b[0], ("",))[0] == a:
            found[a] = b[0]
            method[a] = f"similar skeleton ({b[1]:.0f})"
    pairs = {
        name: conflicts[found[key]]
        for key, names in prices.items()
        if key in found
        for name in names
    }
    methods = {name: method[key] for key, names in prices.items() if key in found for name in names}
    joined = set(found.values())
    return Join(
        pairs=pairs,
        method=methods,
        unjoined_prices=tuple(n for k, ns in sorted(prices.items()) if k not in found for n in ns),
        unjoined_conflict=tuple(
            n for k, ns in sorted(conflicts.items()) if k not in joined for n in ns
        ),
    )
