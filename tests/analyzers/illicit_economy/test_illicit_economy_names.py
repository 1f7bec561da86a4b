"""The WFP -> UCDP governorate table against the distinct names in the real files."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from analyzers.illicit_economy import GOVERNORATES
from analyzers.illicit_economy._names import FATALITY_INDEX, conflict_area, ucdp_area
from protocol.schemas._generalise import FATALITY_BANDS

DATA = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "data"


def wfp_governorates() -> set[str]:
    with gzip.open(DATA / "wfp_food_prices_syr.csv.gz", "rt", encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f)
        return {
            row["admin1"] for row in rows if row["admin1"] and not row["admin1"].startswith("#")
        }


def ucdp_areas() -> set[str]:
    with (DATA / "ucdp_ged_syria_2016_2019.csv").open(encoding="utf-8", newline="") as f:
        return {row["adm_1"] for row in csv.DictReader(f) if row["adm_1"]}


def test_every_wfp_governorate_maps_to_a_ucdp_area_present_in_the_data() -> None:
    wfp, ucdp = wfp_governorates(), ucdp_areas()
    assert len(wfp) == 14
    assert set(GOVERNORATES) == wfp
    assert {GOVERNORATES[name] for name in wfp} == ucdp  # one to one, nothing left over


def test_lookups_ignore_case_and_spacing() -> None:
    assert conflict_area("Homs governorate") == "Homs Governorate"
    assert conflict_area("  Rif  Dimashq GOVERNORATE ") == "Rif Dimashq Governorate"
    assert conflict_area("Somewhere Else") == "Somewhere Else"
    assert ucdp_area("SYR", "idleb") == ("Syria", "Idlib Governorate")
    assert ucdp_area(None, "Rural Damascus") == ("Syria", "Rif Dimashq Governorate")
    assert ucdp_area("LBN", "Aleppo") is None
    assert ucdp_area("SYR", "Beirut") is None


def test_every_fatality_band_has_a_value() -> None:
    assert set(FATALITY_INDEX) == {band for _, band in FATALITY_BANDS}
