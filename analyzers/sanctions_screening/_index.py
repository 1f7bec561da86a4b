"""Fast fuzzy screening of one name against every listed name and alias.

**Score.** Both names are folded to tokens (:mod:`._names`). Token pairs are
compared with Jaro-Winkler; a pair counts only at >= ``TOKEN_MIN_SIMILARITY``,
and tokens of up to ``SHORT_TOKEN_MAX`` letters (acronyms such as "HTS", "IS")
only when equal. Pairs are aligned one to one, best first. The score is the
weighted share of both names' tokens that found a partner::

    score = sum(sim(q, c) * (w(q) + w(c)) for aligned pairs) / (W(query) + W(listed))

with weight 1 per token and ``GENERIC_WEIGHT`` for words naming a kind of group
("army", "front", "liwa" ...). Token order does not matter; a token missing on
either side lowers the score, so "Jaysh al-Sunna" is not "Jaish Ansar al-Sunna"
(0.75) and "Levant Front" is not "Front for the Liberation of the Levant".

**Blocking.** Each listed token is indexed under a key: the token itself for short
tokens, else its first letter and next two consonants ("kaida" and "kada" both
under ``kd``), which survives the vowel changes that dominate transliteration.
A listed name is scored only if one of the query's keys finds it and if the
best score its found tokens could reach is at or above the threshold, so a
screen touches a few dozen of the ~3,500 listed spellings, not all of them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from analyzers.sanctions_screening._consolidated_list import ListName
from analyzers.sanctions_screening._jaro import jaro_winkler
from analyzers.sanctions_screening._names import GENERIC_WORDS, fold_name
from analyzers.sanctions_screening.thresholds import (
    GENERIC_WEIGHT,
    MATCH_THRESHOLD,
    MAX_HITS_PER_NAME,
    SHORT_TOKEN_MAX,
    TOKEN_MIN_SIMILARITY,
)

__all__ = ["Hit", "ScreeningIndex", "block_key", "score_tokens"]

_VOWELS = frozenset("aiu")
_QUALITY_RANK = {"name": 0, "Good": 1, "a.k.a.": 1, "alias": 2, "f.k.a.": 3, "Low": 4}


@dataclass(frozen=True)
class Hit:
    """A listed spelling that a screened name matches, and how well."""

    reference: str
    list_name: str
    quality: str
    acronym: bool
    score: float


def block_key(token: str) -> str:
    """The blocking key of a folded token (see the module docstring)."""
    if len(token) <= SHORT_TOKEN_MAX:
        return "=" + token
    consonants = [c for c in token[1:] if c not in _VOWELS]
    return token[0] + "".join(consonants[:2])


def _weight(token: str) -> float:
    return GENERIC_WEIGHT if token in GENERIC_WORDS else 1.0


@functools.lru_cache(maxsize=1 << 16)
def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) <= SHORT_TOKEN_MAX or len(b) <= SHORT_TOKEN_MAX:
        return 0.0
    return jaro_winkler(a, b)


def score_tokens(query: tuple[str, ...], listed: tuple[str, ...]) -> float:
    """The match score in [0, 1] of two folded token sequences (module docstring)."""
    total = sum(map(_weight, query)) + sum(map(_weight, listed))
    if total == 0:
        return 0.0
    pairs = []
    for i, q in enumerate(query):
        for j, c in enumerate(listed):
            similarity = _similarity(q, c)
            if similarity >= TOKEN_MIN_SIMILARITY:
                pairs.append((-similarity, i, j))
    pairs.sort()
    used_q: set[int] = set()
    used_c: set[int] = set()
    matched = 0.0
    for negative, i, j in pairs:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        matched += -negative * (_weight(query[i]) + _weight(listed[j]))
    return min(1.0, matched / total)


class ScreeningIndex:
    """Listed spellings indexed by token blocks; :meth:`screen` returns the hits of a name."""

    def __init__(self, names: Iterable[ListName]) -> None:
        self._names: tuple[ListName, ...] = tuple(names)
        self._weights = [sum(map(_weight, n.tokens)) for n in self._names]
        self._keyed = [tuple((block_key(t), _weight(t)) for t in n.tokens) for n in self._names]
        blocks: dict[str, set[int]] = {}
        for number, name in enumerate(self._names):
            for token in name.tokens:
                blocks.setdefault(block_key(token), set()).add(number)
        self._blocks = {key: tuple(sorted(ids)) for key, ids in blocks.items()}

    def __len__(self) -> int:
        return len(self._names)

    def screen(self, name: str) -> list[Hit]:
        """Hits for ``name``: per reference its best spelling (score, then a spelling
        written as the name is, then the better alias quality), at or above
        ``MATCH_THRESHOLD``, best first (score, then reference), at most
        ``MAX_HITS_PER_NAME``."""
        tokens = tuple(fold_name(name))
        written = " ".join(name.split()).casefold()
        if not tokens:
            return []
        query_weight = sum(map(_weight, tokens))
        keys = [block_key(t) for t in tokens]
        key_set = frozenset(keys)
        # For each listed spelling found: the weight of the query tokens that found it.
        found: dict[int, float] = {}
        for key, token in zip(keys, tokens, strict=True):
            for number in self._blocks.get(key, ()):
                found[number] = found.get(number, 0.0) + _weight(token)
        best: dict[str, Hit] = {}
        for number in sorted(found):
            # The best score reachable if every token sharing a key matched perfectly.
            listed_weight = self._weights[number]
            reachable = min(found[number], query_weight) + sum(
                w for key, w in self._keyed[number] if key in key_set
            )
            if reachable / (query_weight + listed_weight) < MATCH_THRESHOLD:
                continue
            listed = self._names[number]
            score = round(score_tokens(tokens, listed.tokens), 4)
            if score < MATCH_THRESHOLD:
                continue
            hit = Hit(listed.reference, listed.name, listed.quality, listed.acronym, score)
            current = best.get(listed.reference)
            if current is None or _rank(hit, written) < _rank(current, written):
                best[listed.reference] = hit
        ranked = sorted(best.values(), key=lambda h: (-h.score, h.reference))
        return ranked[:MAX_HITS_PER_NAME]


def _rank(hit: Hit, written: str) -> tuple[float, bool, bool, int, str]:
    """Order of two spellings of one entry: lower is better."""
    same = " ".join(hit.list_name.split()).casefold() == written
    return (-hit.score, not same, hit.acronym, _QUALITY_RANK.get(hit.quality, 2), hit.list_name)
