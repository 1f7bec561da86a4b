"""The stated thresholds of ``sanctions.screening``, each with its rationale.

The seed paper asks that peace operations be "more systematically connected to
sanctions mechanisms", with "standardized modalities for information-sharing
between sanctions panels and peace operations' Joint Mission Analysis Cells",
and warns that the same tools need "strict oversight controls to prevent abuse
of power" and "more effective sanctions delisting procedures". A screen is
therefore a lead for the panel to review, stated with the figures that drove
it, never a designation: thresholds are fixed here, in one place, and every
finding names the score and the threshold it passed.

None is tuned to one country's data: they are set on the structure of names (how
many tokens a variant may lose) and checked against the list itself (every listed
spelling finds its own entry; the tests) and the labelled reference set.
"""

from __future__ import annotations

__all__ = [
    "ACRONYM_MAX",
    "GENERIC_WEIGHT",
    "MATCH_THRESHOLD",
    "MAX_HITS_PER_NAME",
    "MIDDLE_WEIGHT",
    "MIN_EVIDENCE",
    "PREFILTER_CUTOFF",
    "SHORT_TOKEN_MAX",
    "STRONG_MATCH",
    "TOKEN_MIN_SIMILARITY",
]

#: A screened name is a hit on a listed spelling at a score >= this (0 .. 1).
#: With the score's weighting (``_index``), a name that lacks one generic word
#: ("Liwa"), or whose every token is a close spelling variant (Jaro-Winkler about
#: 0.9), scores above it; a name that lacks one distinctive token of three, or
#: differs in one generic word of three ("Tahrir al-Sham Army" against "Tahrir
#: al-Sham Hay'at"), scores below (about 0.67 and 0.8).
MATCH_THRESHOLD = 0.88

#: A hit at a score >= this on the listed name or a good-quality alias is "high"
#: (a spelling variant at most); below it, a possible match to review ("medium").
STRONG_MATCH = 0.97

#: Two folded tokens pair up only at a Jaro-Winkler similarity >= this
#: ("fata"/"fath" 0.883 pair; "army"/"hayat" do not).
TOKEN_MIN_SIMILARITY = 0.88

#: Tokens of at most this many letters ("HTS", "IS", "SDF", and skeletons such as
#: "shm") match only when equal: a fuzzy match of two short strings says nothing.
SHORT_TOKEN_MAX = 3

#: A listed name of one word in capitals of at most this many letters is an acronym
#: ("HTS", "ISIS-K"), matched only exactly ("ISIL" is not "ISIS"); a longer one is a
#: name ("AL-QAIDA", "SHABAAB").
ACRONYM_MAX = 5

#: Weight of a generic organisation word ("army", "front", "liwa", "jaysh" ...)
#: relative to another token of the same frequency on the list.
GENERIC_WEIGHT = 0.5

#: The aligned token pairs must carry at least this much evidence (the sum, over
#: pairs, of their similarity times the lesser weight of the two; on a list of 1,000
#: entries a token of one entry weighs 1.0, of two 0.90, of ten 0.67, of fifty 0.44):
#: one token found in one entry only, or two or more less rare ones; never only
#: common names ("Mohammed" 0.26, "Ali" 0.41, "Ahmed Hassan" 0.86 together on the
#: 2025-11-20 list). An entity's own name or alias written exactly is exempt (``_index``).
MIN_EVIDENCE = 1.0

#: Weight of an unmatched middle name of an individual, relative to its weight, when
#: the first and last names matched (a listed name written without the middle name).
MIDDLE_WEIGHT = 0.2

#: ``rapidfuzz`` token-set ratio (0-100) a listed spelling needs to be scored at
#: all. Token-set ratio is 100 when one name's tokens are a subset of the other's,
#: and a hit at MATCH_THRESHOLD always clears 60 (tested on the listed spellings).
PREFILTER_CUTOFF = 70

#: At most this many list references are reported for one screened name.
MAX_HITS_PER_NAME = 5
