"""The multilingual lexicon (``data/lexicon.tsv``) and how narratives are matched against it.

Text is *normalised* before matching, the lexicon's terms and the narratives alike:
folded to ASCII with ``anyascii`` (accents dropped, Arabic and other scripts
transliterated), lower-cased, French elisions split off (``d'or`` -> ``d or``), other apostrophes
dropped (``ta'fish`` -> ``tafish``), and
every other run of non-alphanumeric characters turned into one space. A term is a
sequence of words; a final ``*`` matches any word that starts with the stem. Terms in
Arabic script may carry a clitic in front (``al-``, ``wa-``, ``bi-``, ...), which
anyascii folds into the word (النهب -> ``lnhb``).

Where the terms come from and what was left out on purpose: ``data/README.md``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from anyascii import anyascii

__all__ = ["CATEGORIES", "Lexicon", "Term", "lexicon", "narrative_digest", "normalise"]

#: Lexicon categories: the typology dimension each is evidence for.
CATEGORIES: dict[str, str] = {
    "plunder": "looting and plundering (predatory)",
    "rent": "living off the conflict economy: an extraction practice (parasitic)",
    "rent_site": "where rent is taken (checkpoints, mines, herds): evidence beside a rent term",
    "state_backing": "alignment with or protection by the state (symbiotic)",
}
#: Arabic clitics as anyascii folds them, allowed in front of an Arabic-script term.
_CLITICS = ("", "l", "wl", "bl", "fl", "kl", "w", "b", "f", "k")
_APOSTROPHES = re.compile(r"['`]")
#: French elisions (d', l', qu'...) are split off before apostrophes are dropped.
_ELISION = re.compile(r"\b(c|d|j|l|m|n|qu|s|t)['`](?=[a-z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower-case ASCII words separated by single spaces (see the module docstring)."""
    folded = _APOSTROPHES.sub("", _ELISION.sub(r"\1 ", anyascii(text).lower()))
    return _NON_WORD.sub(" ", folded).strip()


def narrative_digest(normalised: str) -> str:
    """A short, stable identity of one account: events sharing a narrative share it."""
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Term:
    category: str
    evidence: str  # what a match is evidence of, e.g. "checkpoints"
    lang: str
    written: str  # as written in the lexicon
    words: tuple[str, ...]  # normalised; the last may end with "*"
    clitics: bool

    def _word_matches(self, pattern: str, word: str) -> bool:
        if pattern.endswith("*"):
            return word.startswith(pattern[:-1])
        return word == pattern

    def matches_at(self, words: list[str], at: int) -> bool:
        if at + len(self.words) > len(words):
            return False
        first = words[at]
        if self.clitics:
            head = self.words[0]
            if not any(first == c + head for c in _CLITICS):
                return False
        elif not self._word_matches(self.words[0], first):
            return False
        return all(
            self._word_matches(p, words[at + i]) for i, p in enumerate(self.words[1:], start=1)
        )


class Lexicon:
    """Terms indexed by their first word (exact words) or its first 3 letters (stems)."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = tuple(terms)
        self._exact: dict[str, list[Term]] = {}
        self._stems: dict[str, list[Term]] = {}
        for term in terms:
            head = term.words[0]
            if term.clitics:
                for clitic in _CLITICS:
                    self._exact.setdefault(clitic + head, []).append(term)
            elif head.endswith("*"):
                self._stems.setdefault(head[:3], []).append(term)
            else:
                self._exact.setdefault(head, []).append(term)

    def match(self, normalised: str) -> dict[str, dict[str, list[str]]]:
        """``{category: {evidence: sorted terms as written}}`` found in a normalised text."""
        words = normalised.split()
        found: dict[str, dict[str, set[str]]] = {}
        for at, word in enumerate(words):
            for term in self._exact.get(word, []) + self._stems.get(word[:3], []):
                if term.matches_at(words, at):
                    found.setdefault(term.category, {}).setdefault(term.evidence, set()).add(
                        term.written
                    )
        return {
            category: {evidence: sorted(terms) for evidence, terms in sorted(by.items())}
            for category, by in sorted(found.items())
        }


def parse(text: str) -> list[Term]:
    """The terms of a lexicon file (tab-separated; ``#`` comments; see ``data/README.md``)."""
    terms = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4 or fields[0] not in CATEGORIES:
            raise ValueError(f"lexicon line {number}: {line!r}")
        category, evidence, lang, written = fields
        words: list[str] = []
        for token in written.split():
            parts = normalise(token.rstrip("*")).split()
            if not parts:
                raise ValueError(f"lexicon line {number}: {written!r} has an empty word")
            if token.endswith("*"):
                if len(parts[-1]) < 3:
                    raise ValueError(f"lexicon line {number}: stem {token!r} is under 3 letters")
                parts[-1] += "*"
            words += parts
        if lang == "ar-script" and any(w.endswith("*") for w in words):
            raise ValueError(f"lexicon line {number}: no stems in Arabic script")
        terms.append(Term(category, evidence, lang, written, tuple(words), lang == "ar-script"))
    return terms


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shipped lexicon (``analyzers/spoiler_risk/data/lexicon.tsv``)."""
    source = resources.files("clearinghouse.analyzers.spoiler_risk").joinpath("data/lexicon.tsv")
    return Lexicon(parse(source.read_text(encoding="utf-8")))
