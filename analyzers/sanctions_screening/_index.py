"""Screening one name against every listed name, alias and acronym (``rapidfuzz``).

**Variants.** A screened name is split like a listed one
(:func:`~analyzers.sanctions_screening._consolidated_list.name_variants`):
"Hay'at Tahrir al-Sham (HTS)" is screened as "Hay'at Tahrir al-Sham" and as the
acronym "HTS"; each listed entry keeps its best hit over the variants.

**Acronyms.** The list's acronyms (in brackets after a name, or one word in
capitals of at most ``ACRONYM_MAX`` letters) are matched only by a one-word variant
equal to them as written (letters and digits: ``ISIL`` is not ``ISIS``, ``ISIL-WA``
is ``ISILWA``), never fuzzily. A derived acronym
(:func:`~._consolidated_list.derived_acronyms`) matches only a variant written in
capitals.

**Candidates.** Other variants are folded (:mod:`._names`). The listed spellings
sharing a block (:func:`block_key`) with one of their tokens are filtered with
``rapidfuzz.process.extract`` (scorer ``fuzz.token_set_ratio``, which scores 100
when one name's tokens are a subset of the other's, so a missing middle name or an
added word never hides a candidate) at ``PREFILTER_CUTOFF``, and the rest scored. A name in
Arabic script, and the list's Arabic-script spellings, are compared on consonant
skeletons (:func:`~._names.skeleton`).

**Score.** Token pairs are compared with Jaro-Winkler
(``rapidfuzz.distance.JaroWinkler``, prefix weight 0.1); a pair counts only at >=
``TOKEN_MIN_SIMILARITY``, and tokens of at most ``SHORT_TOKEN_MAX`` letters only
when equal. Pairs are aligned one to one, best first. With ``w`` the weight of a
token::

    score = sum(sim(q, c) * (w(q) + w(c)) for aligned pairs) / (W(query) + W(listed))

**Weights: common names carry little evidence.** ``w(t) = ln(1 + N / df(t)) /
ln(1 + N)``, with ``N`` the number of list entries and ``df(t)`` the number of
entries with a spelling holding the token (1 for a token in one entry only or in
none), times ``GENERIC_WEIGHT`` for a word naming a kind of group ("army",
"front", "liwa" ...). On the 2025-11-20 list (1,000 entries) a token of one entry
weighs 1.0, "ali" 0.41, "abd" 0.30 and "muhamad" 0.26. A hit also needs
``MIN_EVIDENCE``: the aligned pairs must weigh, by their similarity and the lesser
weight of the two tokens of each pair, at least ``MIN_EVIDENCE`` (so "Mohammed
Ali" hits no one on the strength of two common names). An entity's name or alias
(not of quality "Low") written exactly, after folding, is a hit whatever its
weight: "al-Qaida" is QDe.004's name, though "qaida" is in many entries. When
either name is one word, its pair must be equal after folding: one word gives no
context to judge a fuzzy match ("Daesh" is not "Dabbashi").

**Missing middle names.** For a listed *individual*, a listed token that found no
partner and lies strictly inside the listed name, whose first and last tokens both
found partners, weighs ``MIDDLE_WEIGHT`` of its weight: "Mohammed al-Fictioni" is
"Mohammed Abdulrahman al-Fictioni" written without the middle name. A token the
screened name adds weighs in full; and not for entities: "Jaysh al-Sunna" is not
"Jaish Ansar al-Sunna".

**Entity type.** :meth:`ScreeningIndex.screen` takes the kind of name the input
says it screens ("entity" for an armed group, "individual" for a person, None when
the input does not say): an individual's spellings are not hits for an entity's
name, and the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from clearinghouse.analyzers.sanctions_screening._consolidated_list import (
    DERIVED_QUALITY,
    ListName,
    name_variants,
)
from clearinghouse.analyzers.sanctions_screening._names import (
    GENERIC_WORDS,
    acronym_key,
    fold_name,
    has_arabic,
    skeleton,
)
from clearinghouse.analyzers.sanctions_screening.thresholds import (
    GENERIC_WEIGHT,
    MATCH_THRESHOLD,
    MAX_HITS_PER_NAME,
    MIDDLE_WEIGHT,
    MIN_EVIDENCE,
    PREFILTER_CUTOFF,
    SHORT_TOKEN_MAX,
    TOKEN_MIN_SIMILARITY,
)

__all__ = ["QUALITY_RANK", "Hit", "ScreeningIndex", "block_key", "token_similarity"]

#: How much a listed name of each quality counts, best first (0).
QUALITY_RANK = {
    "name": 0,
    "Good": 1,
    "a.k.a.": 1,
    "original script": 1,
    "alias": 2,
    "alias table": 2,
    "f.k.a.": 3,
    "derived acronym": 3,
    "Low": 4,
}
_GENERIC_SKELETONS = frozenset(skeleton(word) for word in GENERIC_WORDS)
_Rank = tuple[float, bool, bool, bool, int, str]


@dataclass(frozen=True)
class Hit:
    """A listed spelling that a screened name matches, and how well."""

    reference: str
    list_name: str
    quality: str
    acronym: bool
    score: float
    #: The citation of an alias-table spelling; empty for the list's own spellings.
    source: str = ""


def token_similarity(a: str, b: str) -> float:
    """Similarity of two folded tokens: Jaro-Winkler, 0 below the pairing threshold or
    for unequal tokens of at most ``SHORT_TOKEN_MAX`` letters."""
    if a == b:
        return 1.0
    if len(a) <= SHORT_TOKEN_MAX or len(b) <= SHORT_TOKEN_MAX:
        return 0.0
    similarity = JaroWinkler.similarity(a, b)
    return similarity if similarity >= TOKEN_MIN_SIMILARITY else 0.0


def block_key(token: str) -> str:
    """The block of a folded token or skeleton: the token itself when short, else its
    first letter and next two consonants (``a i u w h`` aside), which survive the vowel
    and semi-vowel changes of transliteration ("jawlani" and "julani": ``jln``)."""
    if len(token) <= SHORT_TOKEN_MAX:
        return "=" + token
    consonants = [c for c in token[1:] if c not in "aiuwh"]
    return token[0] + "".join(consonants[:2])


class _Pool:
    """Spellings compared in one form (folded tokens, or skeletons), by block."""

    def __init__(self, ids: list[int], forms: list[tuple[str, ...]]) -> None:
        self.ids = ids
        self.forms = forms
        self.choices = [" ".join(form) for form in forms]
        self.weights: list[list[float]] = []
        blocks: dict[str, set[int]] = {}
        for position, form in enumerate(forms):
            for token in form:
                blocks.setdefault(block_key(token), set()).add(position)
        self.blocks = {key: sorted(found) for key, found in blocks.items()}

    def candidates(self, query: tuple[str, ...]) -> list[int]:
        """Positions of the spellings sharing a block with a token of ``query``."""
        found: set[int] = set()
        for token in query:
            found.update(self.blocks.get(block_key(token), ()))
        return sorted(found)


class ScreeningIndex:
    """The listed spellings, ready to screen names against (:meth:`screen`)."""

    def __init__(self, names: Iterable[ListName]) -> None:
        self._names: tuple[ListName, ...] = tuple(names)
        self._entries = len({n.reference for n in self._names}) or 1
        token_refs: dict[str, set[str]] = {}
        skeleton_refs: dict[str, set[str]] = {}
        self._acronyms: dict[str, list[int]] = {}
        latin_ids: list[int] = []
        latin_forms: list[tuple[str, ...]] = []
        skeleton_ids: list[int] = []
        skeleton_forms: list[tuple[str, ...]] = []
        arabic_ids: list[int] = []
        arabic_forms: list[tuple[str, ...]] = []
        for number, listed in enumerate(self._names):
            if listed.acronym:
                self._acronyms.setdefault(acronym_key(listed.name), []).append(number)
                continue
            skeletons = tuple(skeleton(t) for t in listed.tokens)
            for token in listed.tokens:
                token_refs.setdefault(token, set()).add(listed.reference)
            for form in skeletons:
                skeleton_refs.setdefault(form, set()).add(listed.reference)
            skeleton_ids.append(number)
            skeleton_forms.append(skeletons)
            if listed.arabic:
                arabic_ids.append(number)
                arabic_forms.append(skeletons)
            else:
                latin_ids.append(number)
                latin_forms.append(listed.tokens)
        self._df = {token: len(refs) for token, refs in token_refs.items()}
        self._skeleton_df = {form: len(refs) for form, refs in skeleton_refs.items()}
        self._weights: dict[tuple[str, bool], float] = {}
        self._latin = _Pool(latin_ids, latin_forms)
        self._arabic = _Pool(arabic_ids, arabic_forms)
        self._skeletons = _Pool(skeleton_ids, skeleton_forms)
        for pool, skeletal in ((self._latin, False), (self._arabic, True), (self._skeletons, True)):
            pool.weights = [[self.weight(t, skeletal=skeletal) for t in f] for f in pool.forms]

    def __len__(self) -> int:
        return len(self._names)

    def weight(self, token: str, *, skeletal: bool = False) -> float:
        """The evidence a token carries (module docstring): rarer on the list, heavier."""
        known = self._weights.get((token, skeletal))
        if known is not None:
            return known
        df = (self._skeleton_df if skeletal else self._df).get(token, 1)
        idf = math.log(1 + self._entries / df) / math.log(1 + self._entries)
        generic = _GENERIC_SKELETONS if skeletal else GENERIC_WORDS
        weight = idf * (GENERIC_WEIGHT if token in generic else 1.0)
        if len(self._weights) < 1 << 16:
            self._weights[(token, skeletal)] = weight
        return weight

    def screen(self, name: str, kind: str | None = None) -> list[Hit]:
        """Hits for ``name`` (of ``kind`` "entity" or "individual" when the input says):
        per reference its best spelling (score, then the list's own spellings before the
        alias table's, then a spelling written as the name is, then the better quality),
        at or above ``MATCH_THRESHOLD``, best first (score, then reference), at most
        ``MAX_HITS_PER_NAME``."""
        best: dict[str, tuple[_Rank, Hit]] = {}
        variants = name_variants(" ".join(name.split()))
        for variant, _ in variants:
            written = variant.casefold()
            for number, score in self._variant_hits(variant):
                listed = self._names[number]
                if kind and listed.kind and listed.kind != kind:
                    continue
                hit = Hit(
                    listed.reference,
                    listed.name,
                    listed.quality,
                    listed.acronym,
                    round(score, 4),
                    listed.source,
                )
                rank = _rank(hit, written)
                current = best.get(listed.reference)
                if current is None or rank < current[0]:
                    best[listed.reference] = (rank, hit)
        hits = [hit for _, hit in best.values()]
        ranked = sorted(hits, key=lambda h: (-h.score, h.reference))
        return ranked[:MAX_HITS_PER_NAME]

    def _variant_hits(self, variant: str) -> list[tuple[int, float]]:
        """(spelling number, score) of the spellings one variant hits: acronyms equal to
        it as written (a one-word variant), and the other spellings by score."""
        capitals = not any(c.islower() for c in variant)
        numbers = self._acronyms.get(acronym_key(variant), []) if len(variant.split()) == 1 else []
        out = [(n, 1.0) for n in numbers if capitals or self._names[n].quality != DERIVED_QUALITY]
        tokens = tuple(fold_name(variant))
        if not tokens:
            return out
        skeletons = tuple(skeleton(t) for t in tokens)
        if has_arabic(variant):
            out += self._scored(skeletons, self._skeletons, skeletal=True)
        else:
            out += self._scored(tokens, self._latin, skeletal=False)
            out += self._scored(skeletons, self._arabic, skeletal=True)
        return out

    def _scored(
        self, query: tuple[str, ...], pool: _Pool, *, skeletal: bool
    ) -> list[tuple[int, float]]:
        positions = pool.candidates(query)
        if not positions:
            return []
        found = process.extract(
            " ".join(query),
            [pool.choices[p] for p in positions],
            scorer=fuzz.token_set_ratio,
            processor=None,
            score_cutoff=PREFILTER_CUTOFF,
            limit=None,
        )
        out = []
        wq = [self.weight(t, skeletal=skeletal) for t in query]
        for _, _, found_at in found:
            position = positions[found_at]
            number = pool.ids[position]
            spelling = self._names[number]
            individual = spelling.kind == "individual"
            listed, wl = pool.forms[position], pool.weights[position]
            if sorted(query) == sorted(listed) and not individual and spelling.quality != "Low":
                score = 1.0  # the list spells this entity so: no evidence rule
            else:
                score = _score(query, listed, wq, wl, individual)
            if score >= MATCH_THRESHOLD:
                out.append((number, score))
        return out

    def score(
        self,
        query: tuple[str, ...],
        listed: tuple[str, ...],
        individual: bool = False,
        *,
        skeletal: bool = False,
    ) -> float:
        """The score of two folded names (module docstring); 0 below ``MIN_EVIDENCE``."""
        wq = [self.weight(t, skeletal=skeletal) for t in query]
        wl = [self.weight(t, skeletal=skeletal) for t in listed]
        return _score(query, listed, wq, wl, individual)


def _score(
    query: tuple[str, ...],
    listed: tuple[str, ...],
    wq: list[float],
    wl: list[float],
    individual: bool,
) -> float:
    """:meth:`ScreeningIndex.score` with the weights given."""
    pairs = []
    for i, q in enumerate(query):
        for j, c in enumerate(listed):
            similarity = token_similarity(q, c)
            if similarity > 0:
                pairs.append((-similarity, i, j))
    pairs.sort()
    used_q: dict[int, float] = {}
    used_l: dict[int, float] = {}
    matched = evidence = 0.0
    for negative, i, j in pairs:
        if i in used_q or j in used_l:
            continue
        used_q[i] = used_l[j] = -negative
        matched += -negative * (wq[i] + wl[j])
        evidence += -negative * min(wq[i], wl[j])
    if evidence < MIN_EVIDENCE:
        return 0.0
    if min(len(query), len(listed)) == 1 and min(used_l.values()) < 1.0:
        return 0.0  # one word gives no context to judge a fuzzy match
    total = sum(wq) + _side_weight(wl, used_l, individual)
    return min(1.0, matched / total) if total else 0.0


def _side_weight(weights: list[float], used: dict[int, float], individual: bool) -> float:
    """The weight of a listed name's tokens, a missing middle name discounted
    (individuals)."""
    last = len(weights) - 1
    ends_found = 0 in used and last in used
    total = 0.0
    for i, weight in enumerate(weights):
        inside = 0 < i < last
        if individual and ends_found and inside and i not in used:
            total += MIDDLE_WEIGHT * weight
        else:
            total += weight
    return total


def _rank(hit: Hit, written: str) -> _Rank:
    """Order of two spellings of one entry, lower is better: the score, then the list's
    own spellings before the alias table's, then one written as the screened name is."""
    same = " ".join(hit.list_name.split()).casefold() == written
    quality = QUALITY_RANK.get(hit.quality, 2)
    return (-hit.score, bool(hit.source), not same, hit.acronym, quality, hit.list_name)
