"""Name folding for screening: many spellings of one name -> one list of tokens.

A name reaches the sanctions panel as whoever wrote the record spelled it; the
Consolidated List spells it the way the Security Council committee did, often
with a handful of aliases. Names of the Al-Qaida/ISIL list are mostly Arabic
transliterated by different hands ("Jabhat Fateh al-Sham", "Jabhat Fatah
al-Sham", "Jabhat Fath al Sham"). :func:`fold_name` removes the differences that
carry no identity:

1. Unicode NFKD, then drop everything outside ASCII (accents, Arabic script);
   apostrophes and the ayn/hamza marks (ASCII and typographic apostrophes,
   U+02BF, U+02BE ...) are deleted (``Hay\u2019at`` -> ``hayat``); any other
   punctuation separates tokens.
2. Case folding; articles and connectors are dropped (:data:`ARTICLES`:
   ``al-``, ``el-``, ``ad-``, ``ash-``, ``ul``, ``bin``/``ibn``, ``the``, ``of`` ...).
3. Each token is folded by :func:`fold_token` to a transliteration skeleton:
   ``y``->``i``; ``ou``/``oo``->``u``, ``ee``->``i``; ``e``->``a``, ``o``->``u``;
   ``q``->``k``, ``ch``->``sh`` (French ``Charia``), ``dh``->``z``, ``ph``->``f``,
   ``dj``/``dzh``->``j``, other ``c``->``k``; doubled letters collapse; a final
   ``-ah`` becomes ``-a`` (``Nusrah``/``Nusra``). So ``Mohammed``, ``Muhammad`` and
   ``Mohamed`` all become ``muhamad``; ``Abdul``/``Abdel``/``Abdur`` (also glued,
   as in ``Abdulrahman``, ``Abdurrahman``) become the token ``abd``.

Token order is not kept: matching (:mod:`._index`) compares token multisets.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ARTICLES", "GENERIC_WORDS", "fold_name", "fold_token", "name_key"]

#: Tokens dropped before matching: Arabic articles (as transliterated after a
#: hyphen is split off), connectors, and English/French articles and prepositions.
ARTICLES = frozenset(
    {
        "al",
        "el",
        "ad",
        "ash",
        "as",
        "at",
        "az",
        "ar",
        "an",
        "ud",
        "ul",
        "wa",
        "wal",
        "fi",
        "li",
        "lil",
        "bin",
        "ibn",
        "bint",
        "the",
        "of",
        "and",
        "in",
        "for",
        "on",
        "to",
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "et",
    }
)

# Words naming a kind of organisation (see GENERIC_WORDS), as written.
_GENERIC_WORDS = (
    "army",
    "front",
    "brigade",
    "brigades",
    "battalion",
    "battalions",
    "movement",
    "group",
    "organization",
    "organisation",
    "network",
    "corps",
    "division",
    "regiment",
    "legion",
    "council",
    "committee",
    "foundation",
    "party",
    "union",
    "jaysh",
    "jaish",
    "liwa",
    "katiba",
    "katibat",
    "jabha",
    "jabhat",
    "haraka",
    "harakat",
    "tanzim",
    "hayat",
    "jamaat",
    "jamaa",
    "faylaq",
    "jund",
    "ajnad",
    "saraya",
    "kataib",
)

_MARKS = re.compile("['`\u2018\u2019\u00b4\u02bb\u02bc\u02be\u02bf]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Ordered rewrite rules of fold_token (first the digraphs, then single letters).
_RULES: tuple[tuple[str, str], ...] = (
    ("dzh", "j"),
    ("dj", "j"),
    ("ch", "sh"),
    ("ck", "k"),
    ("ph", "f"),
    ("dh", "z"),
    ("q", "k"),
    ("c", "k"),
    ("y", "i"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
    ("e", "a"),
    ("o", "u"),
)
_DOUBLED = re.compile(r"(.)\1+")
_ABD_FORMS = frozenset({"abdul", "abdal", "abdur", "abdar", "abdu", "abdi"})
_ABD_GLUED = re.compile(r"abd(?:ul|al|u|a|i)?([a-z]{4,})")
_SHORTHAND = {"mohd": "muhamad", "muhd": "muhamad", "mhd": "muhamad", "md": "muhamad"}


def fold_token(token: str) -> str:
    """The transliteration skeleton of one lower-case ASCII token (see the module doc)."""
    if token in _SHORTHAND:
        return _SHORTHAND[token]
    for old, new in _RULES:
        token = token.replace(old, new)
    token = _DOUBLED.sub(r"\1", token)
    if len(token) > 3 and token.endswith("ah"):
        token = token[:-1]
    return token


#: Words naming a kind of organisation rather than this one (army, front,
#: brigade, liwa, jaysh ...), in folded form. They weigh less in a match
#: (``GENERIC_WEIGHT``): two groups that share only "Front" are not alike, and
#: "Liwa Shuhada al-Yarmouk" and "Shuhada al-Yarmouk" are.
GENERIC_WORDS = frozenset(fold_token(word) for word in _GENERIC_WORDS)


def _split_abd(token: str) -> list[str]:
    """``abd`` ("servant of") written into the next word: Abdul, Abdel, Abdur (``abd`` +
    article assimilated to the sun letter, "Abd ar-Rahman" -> "Abdurrahman"), Abdi."""
    if token in _ABD_FORMS:
        return ["abd"]
    match = _ABD_GLUED.fullmatch(token)
    return ["abd", match.group(1)] if match else [token]


def fold_name(name: str) -> list[str]:
    """The folded significant tokens of ``name``, in their written order.

    An empty list when nothing screenable is left (a name in Arabic script only,
    or only articles).
    """
    text = unicodedata.normalize("NFKD", name)
    text = _MARKS.sub("", text).encode("ascii", "ignore").decode("ascii").lower()
    tokens: list[str] = []
    for raw in _SEPARATORS.split(text):
        if not raw or raw in ARTICLES:
            continue
        tokens.extend(_split_abd(fold_token(raw)))
    return tokens


def name_key(tokens: list[str]) -> str:
    """An order-free key of folded tokens: equal keys are an exact match after folding."""
    return " ".join(sorted(tokens))
