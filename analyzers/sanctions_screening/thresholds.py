"""The stated thresholds of ``sanctions.screening``.

The seed paper asks that peace operations be "more systematically connected to
sanctions mechanisms", with "standardized modalities for information-sharing
between sanctions panels and peace operations' Joint Mission Analysis Cells",
and warns that the same tools need "strict oversight controls to prevent abuse
of power" and "more effective sanctions delisting procedures". A screen is
therefore a lead for the panel to review, stated with the figures that drove
it, never a designation: thresholds are fixed here, in one place, and every
finding names the score and the threshold it passed.
"""

from __future__ import annotations

__all__ = [
    "GENERIC_WEIGHT",
    "MATCH_THRESHOLD",
    "MAX_HITS_PER_NAME",
    "SHORT_TOKEN_MAX",
    "STRONG_MATCH",
    "TOKEN_MIN_SIMILARITY",
]

#: A screened name is a hit on a listed spelling at a score >= this (0 .. 1).
#: Calibrated on the UCDP Syria actors: "Shohadaa al-Yarmouk" against the alias
#: "Liwa Shuhada al-Yarmouk" of QDe.155 scores 0.889 and is a hit; "Levant Front"
#: (0.75 against "Front for the Liberation of the Levant") and "Tahrir al- Sham
#: Army" (0.8 against "Tahrir al-Sham Hay'at") are not.
MATCH_THRESHOLD = 0.88

#: A hit at a score >= this on the listed name or a good-quality alias is "high"
#: (a spelling variant at most); below it, a possible match to review ("medium").
STRONG_MATCH = 0.97

#: Two folded tokens pair up only at a Jaro-Winkler similarity >= this
#: ("fata"/"fath" 0.883 pair; "army"/"hayat" do not).
TOKEN_MIN_SIMILARITY = 0.88

#: Tokens of at most this many letters (acronyms: "HTS", "IS", "SDF") match only
#: when equal: a fuzzy match of two three-letter strings says nothing.
SHORT_TOKEN_MAX = 3

#: Weight of a generic organisation word ("army", "front", "liwa", "jaysh" ...)
#: against 1 for any other token.
GENERIC_WEIGHT = 0.5

#: At most this many list references are reported for one screened name.
MAX_HITS_PER_NAME = 5
