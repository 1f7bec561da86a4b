"""Name folding, Jaro-Winkler and the token score (no list needed)."""

from __future__ import annotations

import pytest

from analyzers.sanctions_screening._consolidated_list import name_variants
from analyzers.sanctions_screening._index import score_tokens
from analyzers.sanctions_screening._jaro import jaro_winkler
from analyzers.sanctions_screening._names import fold_name, fold_token, name_key


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("MARTHA", "MARHTA", 0.961), ("DWAYNE", "DUANE", 0.840), ("DIXON", "DICKSONX", 0.813)],
)
def test_jaro_winkler_published_values(a: str, b: str, expected: float) -> None:
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=1e-3)
    assert jaro_winkler(b, a) == pytest.approx(expected, abs=1e-3)


def test_jaro_winkler_edges() -> None:
    assert jaro_winkler("", "") == 1.0 and jaro_winkler("abc", "") == 0.0
    assert jaro_winkler("abc", "xyz") == 0.0 and jaro_winkler("same", "same") == 1.0


@pytest.mark.parametrize(
    "spellings",
    [
        ("Mohammed", "Muhammad", "Mohamed", "Mohamad", "MOHAMMAD", "Mohd"),
        ("Yousef", "Yusef", "Youssef"),
        ("Waleed", "Walid"),
        ("Sheikh", "Shaykh", "Shaikh"),
        ("Nusrah", "Nusra"),
        ("Qaida", "Qa'ida", "Qa\u2019ida", "Kaida", "Qa\u02bfida"),
        ("Yarmouk", "Yarmuk"),
        ("Sharia", "Charia"),
        ("Fateh", "Fatah"),
        ("Jaysh", "Jaish", "Jeish"),
        ("Mujahideen", "Mujahidin", "Mujaahidiin"),
        ("Zakaria", "Zakariya", "Zakariyya"),
    ],
)
def test_transliteration_variants_fold_alike(spellings: tuple[str, ...]) -> None:
    assert len({tuple(fold_name(s)) for s in spellings}) == 1, [fold_name(s) for s in spellings]


def test_articles_punctuation_and_abd() -> None:
    assert fold_name("Hay\u2019at Tahrir al-Sham") == ["haiat", "tahrir", "sham"]
    assert fold_name("HAY'AT TAHRIR AL SHAM") == ["haiat", "tahrir", "sham"]
    assert fold_name("Tanzim Hurras ad-Din") == ["tanzim", "huras", "din"]
    assert fold_name("Jaysh Khalid Ibn al Waleed") == ["jaish", "khalid", "walid"]
    assert fold_name("Abdulrahman") == fold_name("Abdul Rahman") == fold_name("Abd al-Rahman")
    assert fold_name("Abdel-Rahman") == ["abd", "rahman"]
    assert fold_name("Groupe Islamique Armé") == ["grupa", "islamikua", "arma"]
    assert fold_name("هيئة تحرير الشام") == [] and fold_name("al- the") == []
    assert fold_token("mohammed") == "muhamad"
    assert name_key(fold_name("Fictioni, Mohamed")) == name_key(fold_name("Mohamed Fictioni"))


def test_score_is_order_free_and_punishes_missing_tokens() -> None:
    def score(a: str, b: str) -> float:
        return score_tokens(tuple(fold_name(a)), tuple(fold_name(b)))

    assert score("Jabhat Fateh al-Sham", "Sham, Jabhat Fatah") == 1.0
    assert score("Jabhat Fath al-Sham", "Jabhat Fatah al-Sham") > 0.9
    # A generic word counts half: "Liwa" missing costs less than a name word.
    assert score("Shohadaa al-Yarmouk", "Liwa Shuhada al-Yarmouk") == pytest.approx(8 / 9, abs=1e-4)
    assert score("Jaysh al-Sunna", "Jaish Ansar al-Sunna") == 0.75
    assert score("Tahrir al- Sham Army", "Tahrir al-Sham Hay\u2019at") == 0.8
    # Short tokens (acronyms) match only when equal.
    assert score("HTS", "HTS") == 1.0 and score("IS", "ISI") == 0.0 and score("SDF", "SDP") == 0.0
    assert score("Government of Syria", "Front for the Conquest of Syria") < 0.5


def test_name_variants_split_packed_names() -> None:
    packed = (
        "\u062c\u0628\u0647\u0629 \u0627\u0644\u0646\u0635\u0631\u0629 (the Victory Front; "
        "Jabhat al-Nusrah; Jabhet al-Nusra; Al-Nusrah Front)"
    )
    assert name_variants(packed) == [
        ("the Victory Front", False),
        ("Jabhat al-Nusrah", False),
        ("Jabhet al-Nusra", False),
        ("Al-Nusrah Front", False),
    ]
    assert name_variants(
        "Hay\u2019at Tahrir al-Sham (HTS) (\u0647\u064a (original script); Hayat Tahrir al-Sham)"
    ) == [
        ("Hay\u2019at Tahrir al-Sham", False),
        ("HTS", True),
        ("Hayat Tahrir al-Sham", False),
    ]
    # A qualifier in parentheses is not a name of its own.
    assert name_variants("EXAMPLE FOUNDATION (PAKISTAN)") == [("EXAMPLE FOUNDATION", False)]
    assert name_variants("Ansar al-Mujahideen Network - sub-unit name") == [
        ("Ansar al-Mujahideen Network", False)
    ]
    assert name_variants("AL-ITIHAAD AL-ISLAMIYA / AIAI") == [
        ("AL-ITIHAAD AL-ISLAMIYA", False),
        ("AIAI", False),
    ]
    assert name_variants("A (B ; C") == [("A", False), ("B", False), ("C", False)]
