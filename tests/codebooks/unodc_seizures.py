"""UNODC annual drug-seizure rows (dataUNODC "Drug seizures" layout), generated.

API (deterministic for a given ``seed``)::

    from tests.codebooks import unodc_seizures

    rows = unodc_seizures.rows(200, seed=1)                    # list of {column: cell}
    path = unodc_seizures.write_csv(tmp_path / "seizures.csv", rows)

Columns :data:`COLUMNS`. Drug groups are UNODC's classification (:data:`DRUGS`:
group -> subgroup -> drugs); countries and territories (:data:`PLACES`) carry
UNODC's region, subregion, name (UN M49 style, some with commas, quoted) and
``msCode``, including a territory whose code is not an ISO 3166 code (Kosovo,
``XKX``) and a code written in lower case. Quantities include 0 and fractions.
Quantities are synthetic.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["COLUMNS", "DRUGS", "PLACES", "rows", "write_csv"]

COLUMNS: tuple[str, ...] = (
    "Region",
    "SubRegion",
    "Country/Territory",
    "msCode",
    "Drug group",
    "DrugSubGroup",
    "Drug",
    "Year",
    "Kilograms",
)

DRUGS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "Amphetamines and Stimulants": {
        "Amphetamine-type stimulants": ("Methamphetamine", "Amphetamine", "Captagon"),
    },
    "Cannabis and Synthetic Cannabinoids": {
        "Cannabis herb (marijuana)": ("Cannabis herb (marijuana)",),
        "Cannabis resin (hashish)": ("Cannabis resin (hashish)",),
    },
    "Cocaine and Derivatives": {
        "Cocaine-type": ("Cocaine hydrochloride", "Coca paste, base"),
    },
    "Opioids and Opiates": {
        "Opiates": ("Heroin", "Opium"),
        "Synthetic opioids": ("Tramadol", "Fentanyl"),
    },
    "MDMA and Ecstasy-like Drugs": {"Ecstasy-type": ("MDMA",)},
    "Tranquillizers and Sedatives": {"Benzodiazepines": ("Diazepam",)},
    "Classic Hallucinogens": {"Hallucinogens": ("LSD",)},
    "NPS": {"New psychoactive substances": ("Kratom",)},
    "Miscellaneous": {"Other": ("Khat",)},
}

#: (region, subregion, country or territory, msCode).
PLACES: tuple[tuple[str, str, str, str], ...] = (
    ("Africa", "West and Central Africa", "Mali", "MLI"),
    ("Africa", "West and Central Africa", "Democratic Republic of the Congo", "COD"),
    ("Africa", "North Africa", "Sudan", "SDN"),
    ("Americas", "South America", "Colombia", "COL"),
    ("Asia", "East and South-East Asia", "Myanmar", "MMR"),
    ("Asia", "East and South-East Asia", "China, Hong Kong SAR", "HKG"),
    ("Asia", "Near and Middle East", "Syrian Arab Republic", "SYR"),
    ("Europe", "Eastern Europe", "Ukraine", "UKR"),
    ("Europe", "Southeast Europe", "Kosovo under UNSCR 1244", "XKX"),
    ("Europe", "Western and Central Europe", "Netherlands (Kingdom of the)", "nld"),
)


def rows(n: int, *, seed: int = 0, years: tuple[int, int] = (2018, 2022)) -> list[dict[str, str]]:
    """``n`` rows (column of :data:`COLUMNS` -> cell), every place and drug group drawn."""
    rng = random.Random(f"unodc:{seed}")
    out = []
    for index in range(n):
        region, subregion, name, code = PLACES[index % len(PLACES)]
        group = rng.choice(sorted(DRUGS))
        subgroup = rng.choice(sorted(DRUGS[group]))
        drug = rng.choice(DRUGS[group][subgroup])
        kilograms = rng.choice([0.0, round(rng.uniform(0, 5), 3), round(rng.uniform(0, 5e5), 2)])
        out.append(
            {
                "Region": region,
                "SubRegion": subregion,
                "Country/Territory": name,
                "msCode": code,
                "Drug group": group,
                "DrugSubGroup": subgroup,
                "Drug": drug,
                "Year": str(rng.randint(*years)),
                "Kilograms": f"{kilograms}" if kilograms else "0",
            }
        )
    return out


def write_csv(path: str | Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``rows`` as dataUNODC's CSV (header line, then one line a row)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in COLUMNS})
    path = Path(path)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path
