"""Name folding for screening: many spellings of one name -> one list of tokens.

A name reaches the sanctions panel as whoever wrote the record spelled it; the
Consolidated List spells it the way the Security Council committee did, often
with a handful of aliases and the name in its original script. Names of the
ISIL (Da'esh) and Al-Qaida list are mostly Arabic transliterated by different
hands ("Jabhat Fateh al-Sham", "Jabhat Fatah al-Sham", "Jabhat Fath al Sham").
:func:`fold_name` removes the differences that carry no identity:

1. **Script.** Arabic-script words lose their glued article (``ال``, ``وال``,
   ``بال``, ``لل`` ...), then every name is transliterated to ASCII by
   ``anyascii`` (Cyrillic ``Джамаат`` -> ``Dzhamaat``; Arabic, which writes few
   vowels, becomes a consonant skeleton: ``النصرة`` -> ``nsrh``). Apostrophes and
   the ayn/hamza marks are deleted (``Hay\u2019at`` -> ``hayat``); any other
   punctuation separates tokens, except inside an acronym written in capitals with
   hyphens or dots, in a name that is one word or not all in capitals
   (``ISIL-WA`` -> ``isilwa``, one token: the ``WA`` of "West Africa" is not the
   Arabic "wa"; ``AL-QAIDA`` stays two words, since its first part is an article).
2. Case folding; articles and connectors are dropped (:data:`ARTICLES`:
   ``al-``, ``el-``, ``ash-``, ``wa``/``wa'al``, ``bin``/``ibn``, ``the``, ``of`` ...).
3. Each token is folded by :func:`fold_token` to a transliteration form:
   ``y``->``i``; ``ou``/``oo``->``u``, ``ee``->``i``; ``e``->``a``, ``o``->``u``;
   ``q``->``k``, ``ch``->``sh`` (French ``Charia``), ``dh``->``z``, ``ph``->``f``,
   ``dj``/``dzh``->``j``, other ``c``->``k``; doubled letters collapse; a final
   ``-ah`` becomes ``-a`` (``Nusrah``/``Nusra``). So ``Mohammed``, ``Muhammad`` and
   ``Mohamed`` all become ``muhamad``; ``Abdul``/``Abdel``/``Abdur`` (also glued,
   as in ``Abdulrahman``) become the token ``abd``.

A name from Arabic script is compared with others through :func:`skeleton`, the
consonants of a folded token (vowels, ``w`` and a final ``t``/``h``, the ta
marbuta, dropped): ``Jabhat al-Nusrah`` and ``جبهة النصرة`` -> ``jbh nsr``.
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

from clearinghouse.analyzers.sanctions_screening.thresholds import ACRONYM_MAX

__all__ = [
    "ARTICLES",
    "GENERIC_WORDS",
    "acronym_key",
    "fold_name",
    "fold_token",
    "has_arabic",
    "is_acronym",
    "name_key",
    "skeleton",
]

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
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
# A word in capitals with inner hyphens or dots: ISIL-WA, ISIS-K, A.Q.I., AL-QAIDA.
_CAPITAL_WORD = re.compile(r"[A-Z0-9]+(?:[-.][A-Z0-9]+)+\.?")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
# The article glued to an Arabic word, with a glued conjunction or preposition.
_ARABIC_ARTICLE = re.compile("^(?:[\u0648\u0641\u0628\u0643]?\u0627\u0644|\u0644\u0644)(?=..)")
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
_SKELETON_DROP = re.compile("[aiuw]")


def fold_token(token: str) -> str:
    """The transliteration form of one lower-case ASCII token (see the module doc)."""
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


def has_arabic(text: str) -> bool:
    """Whether ``text`` holds Arabic-script letters."""
    return _ARABIC.search(text) is not None


def _split_abd(token: str) -> list[str]:
    """``abd`` ("servant of") written into the next word: Abdul, Abdel, Abdur (``abd`` +
    article assimilated to the sun letter, "Abd ar-Rahman" -> "Abdurrahman"), Abdi."""
    if token in _ABD_FORMS:
        return ["abd"]
    match = _ABD_GLUED.fullmatch(token)
    return ["abd", match.group(1)] if match else [token]


# Arabic-script words that are particles, once transliterated: fi, wa, bin/ibn, bint.
_ARABIC_PARTICLES = frozenset({"fy", "w", "bn", "abn", "bnt"})


def _to_ascii(name: str) -> str:
    if has_arabic(name):
        words = (_ARABIC_ARTICLE.sub("", word) for word in name.split())
        name = " ".join(w for w in words if anyascii(w).lower() not in _ARABIC_PARTICLES)
        name = name.replace("\u0629", "t")  # ta marbuta: "-at", "-ah" or "-a" in Latin
        # Arabic script writes its own articles and particles: keep what is left as is.
        return anyascii(name).replace("'", "").replace("`", "")
    text = unicodedata.normalize("NFKC", name)
    return anyascii(_MARKS.sub("", text))


def is_acronym(written: str) -> bool:
    """One word of capitals (hyphens and dots allowed) with at most ``ACRONYM_MAX``
    letters and digits: "HTS", "ISIL-WA", "IS"."""
    words = written.split()
    if len(words) != 1 or not written.isascii() or not any(c.isupper() for c in written):
        return False
    if any(c.islower() for c in written):
        return False
    key = acronym_key(written)
    return 0 < len(key) <= ACRONYM_MAX and any(c.isalpha() for c in key)


def acronym_key(text: str) -> str:
    """An acronym as written, letters and digits only: ``ISIL-WA`` -> ``isilwa``
    (no transliteration folding: ``ISILL`` is not ``ISIL``)."""
    return re.sub(r"[^a-z0-9]", "", anyascii(text).lower())


def _join_acronym(word: str) -> str:
    """``ISIL-WA`` -> ``ISILWA``: a capitalised word of short parts joined by hyphens or
    dots is one acronym, unless its first part is an article (``AL-QAIDA``)."""
    if not _CAPITAL_WORD.fullmatch(word):
        return word
    parts = [p for p in re.split(r"[-.]", word) if p]
    if parts[0].lower() in ARTICLES or any(len(p) > 5 for p in parts):
        return word
    return "".join(parts)


def fold_name(name: str) -> list[str]:
    """The folded significant tokens of ``name``, in their written order.

    An empty list when nothing screenable is left (only articles or punctuation).
    """
    text = _MARKS.sub("", _to_ascii(name))
    if has_arabic(name):
        # Arabic script: a consonant skeleton already; only q/k and y/i are aligned.
        raw_tokens = _SEPARATORS.split(text.lower())
        return [_DOUBLED.sub(r"\1", t.replace("q", "k").replace("y", "i")) for t in raw_tokens if t]
    words = text.split()
    if len(words) == 1 or any(c.islower() for c in text):
        text = " ".join(_join_acronym(word) for word in words)
    tokens: list[str] = []
    for raw in _SEPARATORS.split(text):
        lower = raw.lower()
        if not raw or lower in ARTICLES:
            continue
        folded = fold_token(lower)
        if folded not in ARTICLES:
            tokens.extend(_split_abd(folded))
    return tokens


def skeleton(token: str) -> str:
    """The consonants of a folded token, to compare a name from Arabic script (which
    writes few vowels) with a Latin one: ``jabhat`` -> ``jbh``, ``nusra`` -> ``nsr``."""
    out = _DOUBLED.sub(r"\1", _SKELETON_DROP.sub("", token))
    if len(out) > 2 and out[-1] in "ht":  # ta marbuta, written -at, -ah, -a
        out = out[:-1]
    return out or token[:1]


def name_key(tokens: list[str]) -> str:
    """An order-free key of folded tokens: equal keys are an exact match after folding."""
    return " ".join(sorted(tokens))
