"""One place scheme (ISO 3166-1 alpha-3) across schemas."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pycountry
import pytest

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import final_picture
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from clearinghouse.analyzers.trafficking_network._places import country_code


def view(schema: str, **claims: Any) -> View:
    return View(schema, "unodc", "j", "d", datetime(2026, 1, 1, tzinfo=UTC), "h", claims)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Syria", "SYR"),
        ("SYR", "SYR"),
        ("syr", "SYR"),
        ("Syrian Arab Republic", "SYR"),
        ("Turkey", "TUR"),
        ("Türkiye", "TUR"),
        ("DR Congo (Zaire)", "COD"),
        ("Congo", "COG"),
        ("Myanmar (Burma)", "MMR"),
        ("Russia (Soviet Union)", "RUS"),
        ("Iran (Islamic Republic of)", "IRN"),
        ("Iran", "IRN"),
        ("Niger", "NER"),
        ("Ivory Coast", "CIV"),
        ("Bosnia-Herzegovina", "BIH"),
        ("China, Hong Kong SAR", "HKG"),
    ],
)
def test_names_and_codes_map_to_iso3(name: str, code: str) -> None:
    assert country_code(name).key == code and country_code(name).mapped


@pytest.mark.parametrize("name", ["Kosovo", "Kosovo under UNSCR 1244", "Narnia", "XKX"])
def test_places_without_an_iso_code_stay_unmapped(name: str) -> None:
    place = country_code(f"  {name} ")
    assert place.key == name and not place.mapped


def test_the_names_table_is_sourced_and_valid() -> None:
    text = (
        resources.files("clearinghouse.analyzers.trafficking_network")
        .joinpath("data/place_names.csv")
        .read_text(encoding="utf-8")
    )
    rows = list(csv.DictReader(text.splitlines()))
    assert rows
    for row in rows:
        assert row["source"].strip(), row
        if row["alpha_3"]:
            assert pycountry.countries.get(alpha_3=row["alpha_3"]) is not None, row


def test_syria_and_syr_are_one_place_across_schemas() -> None:
    views = [
        view("conflict-event/1", country="Syria", side_a_ref="r1", date_start="2019-01-02"),
        view("seizure/1", kind="annual-total", country="Syrian Arab Republic", country_code="SYR",
             drug_group="G", drug="d", year=2019, kilograms=10.0),
        view("seizure/1", kind="single-seizure", country="Syria", date="2019-02-01",
             quantity=10.0, unit="kg", route_origin="Syria", route_destination="Saudi Arabia",
             persons_refs=["r1"]),
        view("seizure/1", kind="single-seizure", country_code="SYR", date="2019-03-01",
             quantity=10.0, unit="kg", route_origin="SYR", route_destination="SAU"),
        view("seizure/1", kind="single-seizure", country_code="JOR", date="2019-03-01",
             quantity=10.0, unit="kg", route_origin="Kosovo", route_destination="SAU"),
    ]  # fmt: skip
    summary = final_picture(TraffickingNetworkAnalyzer(), views).summary
    assert summary["places"] == {
        "scheme": "ISO 3166-1 alpha-3",
        "mapped": 3,  # SYR, SAU, JOR
        "unmapped": [{"name": "Kosovo", "records": 1}],
    }
    assert [(c["from"], c["to"], c["seizures"]) for c in summary["corridors"]] == [
        ("SYR", "SAU", 2),
        ("Kosovo", "SAU", 1),
    ]
