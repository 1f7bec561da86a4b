"""The bundled UN Security Council Consolidated List (2025-11-20) and the real UCDP actor names.

The list names real people. These tests look up entities (armed groups) by name
and check individuals only by reference number: no personal data is printed or
kept beyond what an assertion needs.
"""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path

import pytest

import analyzers.sanctions_screening as package
from analyzers.registry import code_digest, load
from analyzers.sanctions_screening import DEFAULT_LIST, SanctionsScreeningAnalyzer
from analyzers.sanctions_screening._index import _similarity
from analyzers.sanctions_screening.thresholds import MAX_HITS_PER_NAME
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
PUBLISHED_SHA256 = "9743e2bb10eaa4b777d118c5b5755a21e32898aacc7ca235df6cf42337b937c6"

#: What the real UCDP Syria actor names hit (each coalition split into its groups).
UCDP_HITS = {
    "Jabhat Fateh al-Sham": ["QDe.137"],  # Al-Nusrah Front for the People of the Levant
    "HTS": ["QDe.137"],  # Hay'at Tahrir al-Sham, an a.k.a. of QDe.137
    "al-Qaida": ["QDe.004"],
    "ETIM": ["QDe.088"],  # Eastern Turkistan Islamic Movement
    "Shohadaa al-Yarmouk": ["QDe.155"],  # a.k.a. Liwa Shuhada al-Yarmouk
}


@pytest.fixture(scope="module")
def analyzer() -> SanctionsScreeningAnalyzer:
    started = time.perf_counter()
    built = SanctionsScreeningAnalyzer()
    seconds = time.perf_counter() - started
    print(f"sanctions-screening: list read and indexed in {seconds * 1000:.0f} ms")
    return built


@pytest.fixture(scope="module")
def ucdp_names() -> list[str]:
    names: set[str] = set()
    with GED.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for side in (row["side_a"], row["side_b"]):
                names.update(part.strip() for part in side.split(",") if part.strip())
    return sorted(names)


def test_bundled_list_is_the_published_file(analyzer: SanctionsScreeningAnalyzer) -> None:
    assert hashlib.sha256(DEFAULT_LIST.read_bytes()).hexdigest() == PUBLISHED_SHA256
    # Bundled inside the package: its bytes are part of the analyzer's code digest.
    assert DEFAULT_LIST.is_relative_to(Path(package.__file__).parent)
    assert load("sanctions.screening").id == "sanctions.screening"
    assert code_digest(SanctionsScreeningAnalyzer) == code_digest(analyzer)
    listed = analyzer.consolidated_list
    kinds = [entry.kind for entry in listed.entries.values()]
    assert (len(kinds), kinds.count("individual"), kinds.count("entity")) == (1000, 727, 273)
    assert listed.generated == "2025-11-20T23:00:09.067Z"
    assert listed.entries["QDe.137"].list_type == "Al-Qaida"
    assert listed.entries["QDe.137"].listed_on == "2014-05-14"
    assert len(analyzer.index) > 3000


def test_what_the_real_actor_names_hit(
    analyzer: SanctionsScreeningAnalyzer, ucdp_names: list[str]
) -> None:
    hits = {name: [h.reference for h in analyzer.screen(name)] for name in ucdp_names}
    assert {name: refs for name, refs in hits.items() if refs} == UCDP_HITS
    assert len(ucdp_names) == 79


@pytest.mark.parametrize(
    "name",
    [
        "Government of Syria",
        "Civilians",
        "Syrian insurgents",
        "IS",  # UCDP's "IS": the list has no such name or acronym
        "SDF",
        "Ahrar al-Sham",
        "Levant Front",
        "Tahrir al- Sham Army",  # Jaysh Tahrir al-Sham, not Hay'at Tahrir al-Sham
        "Liwa al-Aqsa",
        "Jaysh al-Sunna",
        "Jaysh al-Islam",
        "Hezbollah",
        "Government of Turkey",
        "Pakistan",
        "Kenya",
    ],
)
def test_names_that_must_not_hit(analyzer: SanctionsScreeningAnalyzer, name: str) -> None:
    assert analyzer.screen(name) == []


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("Jabhat al-Nusra", "QDe.137"),
        ("Al Nusrah Front", "QDe.137"),
        ("Hayat Tahrir al-Sham", "QDe.137"),
        ("Hay'et Tahrir al Sham", "QDe.137"),
        ("Jabhat Fath al-Sham", "QDe.137"),
        ("Al Qaeda", "QDe.004"),
        ("Al-Qa'ida", "QDe.004"),
        ("Islamic State in Iraq and the Levant", "QDe.115"),
        ("Eastern Turkestan Islamic Movement", "QDe.088"),
        ("Jaish Khalid bin al-Walid", "QDe.155"),
        ("Al-Shabab", "SOe.001"),
        ("Ansarallah", "YEe.001"),
        ("Ansar al-Charia Benghazi", "QDe.146"),
    ],
)
def test_listed_groups_in_other_spellings(
    analyzer: SanctionsScreeningAnalyzer, name: str, reference: str
) -> None:
    assert reference in [h.reference for h in analyzer.screen(name)]


def test_every_listed_spelling_finds_its_entry(analyzer: SanctionsScreeningAnalyzer) -> None:
    missed = set()
    for listed in analyzer.consolidated_list.names:
        hits = analyzer.index.screen(listed.name)
        if listed.reference in {h.reference for h in hits}:
            continue
        # Only the cap may leave it out: a bare alias ("Abd al-Rahman") shared by more
        # entries than MAX_HITS_PER_NAME, all exact.
        if len(hits) < MAX_HITS_PER_NAME or any(h.score < 1.0 for h in hits):
            missed.add(listed.reference)
    assert sorted(missed) == []  # references only: no names in the failure message


def test_screening_takes_well_under_a_millisecond_a_name(
    analyzer: SanctionsScreeningAnalyzer, ucdp_names: list[str]
) -> None:
    spellings = [listed.name for listed in analyzer.consolidated_list.names]
    for label, names in (("UCDP actor names", ucdp_names), ("listed spellings", spellings)):
        _similarity.cache_clear()
        seconds = []
        for name in names:
            started = time.perf_counter()
            analyzer.index.screen(name)
            seconds.append(time.perf_counter() - started)
        seconds.sort()
        mean = sum(seconds) / len(seconds)
        p99 = seconds[int(0.99 * (len(seconds) - 1))]
        print(
            f"sanctions-screening, {label}: {len(names)} names, mean {mean * 1e6:.0f} us, "
            f"p99 {p99 * 1e6:.0f} us per name (uncached)"
        )
        assert mean < 0.001
