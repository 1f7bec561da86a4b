"""UCDP GED rows generated from the GED codebook's value lists, for several countries.

API (deterministic for a given ``seed``)::

    from tests.codebooks import ucdp_ged

    rows = ucdp_ged.rows("Mali", 500, seed=1, layout="25.1")   # list of {column: cell}
    path = ucdp_ged.write_csv(tmp_path / "ged_mali.csv", rows, layout="25.1")
    ucdp_ged.COUNTRIES["Mali"].gwno                            # 432

``layout`` is one of :data:`LAYOUTS`:

* ``"19.1"``: the 41 columns of GED 19.1 (the Syria special release): no ``relid``,
  ``code_status``, ``*_dset_id``, ``where_description`` or ``gwnoa``; dates
  ``YYYY-MM-DD``; ``active_year`` ``1``/``0``;
* ``"23.1"``: the 49 columns of the global GED 20.1-24.1: dates with a time part
  (``2016-01-01 00:00:00.000``), ``active_year`` ``1``/``0``, ``number_of_sources``
  ``-1`` for events coded before 2014 (their source columns empty but
  ``source_article``);
* ``"25.1"``: as 23.1 with ``active_year`` written ``true``/``false`` (25.1, 26.1).

What is drawn from the codebook (GED codebook 19.1 and 23.1-25.1):

* ``type_of_violence`` 1 state-based (side A the government, side B a rebel group
  or, for an interstate dyad, another government), 2 non-state (two non-state
  groups, or communal identity groups), 3 one-sided (side B ``Civilians``, id 1);
* ``where_prec`` 1-7: 1-2 a point near a first-order area's seat, 3 the seat of a
  second-order area, 4 the first-order area's seat with no ``adm_2``, 5 a wider
  area, 6 the country's centroid with no ``adm_1`` (``where_coordinates`` the
  country), 7 international waters or airspace (no ``adm_1``);
* ``date_prec`` 1-5 with matching spans: 1 one day, 2 two to six days, 3 a week,
  4 a calendar month, 5 a calendar year (with ``where_prec`` 6, UCDP's year-long
  national summaries dated 1 January);
* ``event_clarity`` 1-2 (2 mostly for month- or year-level events);
* death columns whose sum is ``best``, with ``low``/``high`` usually around it and,
  as the codebook allows for summaries, sometimes out of order;
* ``gwnoa``/``gwnob``: the Gleditsch-Ward numbers of the states on each side, lists
  written ``"651, 652"`` or ``"2;200;900"``;
* unknowns: ``-1`` in ``number_of_sources`` for events before 2014 (global layouts)
  and, with probability ``unknown_rate`` (global layouts only, by default), in the
  columns the codebook may leave unknown (UCDP ids, GW numbers, PRIO-GRID cell, the
  death breakdown, ``low``/``high``).

Countries (:data:`COUNTRIES`): Mali 432, DR Congo 490, Colombia 100, Myanmar 775,
Ukraine 369, Sudan 625 and Syria 652, with their GED region, ISO 3166 alpha-3
code, first-order areas named in UCDP's style ("Mopti region", "Nord-Kivu
province") with approximate seat coordinates, and actors named in UCDP's style.
The events are synthetic: no row states a fact about a country.
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

__all__ = [
    "COLUMNS",
    "COUNTRIES",
    "DATE_PREC",
    "EVENT_CLARITY",
    "LAYOUTS",
    "TYPE_OF_VIOLENCE",
    "WHERE_PREC",
    "Area",
    "Country",
    "country_of",
    "priogrid_gid",
    "rows",
    "write_csv",
]

#: Codebook value lists.
TYPE_OF_VIOLENCE: Mapping[int, str] = {
    1: "state-based conflict",
    2: "non-state conflict",
    3: "one-sided violence",
}
WHERE_PREC: Mapping[int, str] = {
    1: "exact location",
    2: "within about 25 km of a known point",
    3: "second-order administrative division",
    4: "first-order administrative division",
    5: "part of a country, or a linear feature",
    6: "only the country",
    7: "international waters or airspace",
}
DATE_PREC: Mapping[int, str] = {
    1: "exact day",
    2: "2-6 days",
    3: "a week",
    4: "8-30 days, or a month",
    5: "more than a month, within a year",
}
EVENT_CLARITY: Mapping[int, str] = {1: "clear event", 2: "summary of several events"}

_COLUMNS_19_1 = (
    "id,year,active_year,type_of_violence,conflict_new_id,conflict_name,dyad_new_id,dyad_name,"
    "side_a_new_id,side_a,side_b_new_id,gwnob,side_b,number_of_sources,source_article,"
    "source_office,source_date,source_headline,source_original,where_prec,where_coordinates,"
    "adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,country_id,region,"
    "event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,deaths_civilians,"
    "deaths_unknown,low,best,high"
).split(",")
_COLUMNS_GLOBAL = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,"
    "conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,"
    "side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,"
    "source_date,source_headline,source_original,where_prec,where_coordinates,"
    "where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,"
    "country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,"
    "deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob"
).split(",")

#: Layout -> its columns, in the order UCDP writes them.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "19.1": tuple(_COLUMNS_19_1),
    "23.1": tuple(_COLUMNS_GLOBAL),
    "25.1": tuple(_COLUMNS_GLOBAL),
}
LAYOUTS = tuple(COLUMNS)


@dataclass(frozen=True)
class Area:
    """A first-order administrative area: its name as GED writes ``adm_1``, its seat
    (a town) and the seat's approximate coordinates."""

    name: str
    seat: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Country:
    """A country as GED codes it, with areas and actors to draw events from."""

    name: str
    gwno: int
    iso3: str
    region: str
    centroid: tuple[float, float]
    areas: tuple[Area, ...]
    government: str
    rebels: tuple[str, ...]
    communal: tuple[str, ...]
    #: (name, GW number) of states that fight beside or against the government.
    states: tuple[tuple[str, int], ...] = ()


COUNTRIES: Mapping[str, Country] = {
    c.name: c
    for c in (
        Country(
            "Mali",
            432,
            "MLI",
            "Africa",
            (17.35, -3.52),
            (
                Area("Mopti region", "Mopti", 14.49, -4.20),
                Area("Gao region", "Gao", 16.27, -0.04),
                Area("Timbuktu region", "Timbuktu", 16.77, -3.01),
                Area("Ségou region", "Ségou", 13.45, -6.26),
                Area("Kidal region", "Kidal", 18.44, 1.41),
                Area("Ménaka region", "Ménaka", 15.92, 2.40),
            ),
            "Government of Mali",
            ("JNIM", "IS"),
            ("Dozo", "Fulani"),
            (("Government of France", 220),),
        ),
        Country(
            "DR Congo (Zaire)",
            490,
            "COD",
            "Africa",
            (-2.88, 23.66),
            (
                Area("Nord-Kivu province", "Goma", -1.68, 29.22),
                Area("Sud-Kivu province", "Bukavu", -2.51, 28.86),
                Area("Ituri province", "Bunia", 1.56, 30.25),
                Area("Tanganyika province", "Kalemie", -5.95, 29.19),
                Area("Kasaï-Central province", "Kananga", -5.90, 22.42),
                Area("Kinshasa city", "Kinshasa", -4.32, 15.31),
            ),
            "Government of DR Congo (Zaire)",
            ("M23", "ADF", "CODECO"),
            ("Hema", "Lendu"),
            (("Government of Uganda", 500),),
        ),
        Country(
            "Colombia",
            100,
            "COL",
            "Americas",
            (3.91, -73.08),
            (
                Area("Cauca department", "Popayán", 2.44, -76.61),
                Area("Antioquia department", "Medellín", 6.25, -75.56),
                Area("Norte de Santander department", "Cúcuta", 7.89, -72.50),
                Area("Nariño department", "Pasto", 1.21, -77.28),
                Area("Chocó department", "Quibdó", 5.69, -76.66),
                Area("Arauca department", "Arauca", 7.08, -70.76),
            ),
            "Government of Colombia",
            ("ELN", "FARC"),
            ("Clan del Golfo", "Los Rastrojos"),
        ),
        Country(
            "Myanmar (Burma)",
            775,
            "MMR",
            "Asia",
            (21.0, 96.0),
            (
                Area("Kachin state", "Myitkyina", 25.38, 97.40),
                Area("Rakhine state", "Sittwe", 20.15, 92.90),
                Area("Shan state", "Taunggyi", 20.78, 97.03),
                Area("Sagaing region", "Sagaing", 21.88, 95.98),
                Area("Kayin state", "Hpa-an", 16.89, 97.63),
                Area("Magway region", "Magway", 20.15, 94.92),
            ),
            "Government of Myanmar (Burma)",
            ("KIO", "AA", "KNU"),
            ("Rohingya", "Rakhine"),
        ),
        Country(
            "Ukraine",
            369,
            "UKR",
            "Europe",
            (48.38, 31.17),
            (
                Area("Donetsk oblast", "Donetsk", 48.00, 37.80),
                Area("Luhansk oblast", "Luhansk", 48.57, 39.31),
                Area("Kharkiv oblast", "Kharkiv", 49.99, 36.23),
                Area("Zaporizhzhia oblast", "Zaporizhzhia", 47.84, 35.14),
                Area("Kherson oblast", "Kherson", 46.64, 32.62),
                Area("Kyiv city", "Kyiv", 50.45, 30.52),
            ),
            "Government of Ukraine",
            ("DPR", "LPR"),
            (),
            (("Government of Russia (Soviet Union)", 365),),
        ),
        Country(
            "Sudan",
            625,
            "SDN",
            "Africa",
            (15.5, 30.0),
            (
                Area("Khartoum state", "Khartoum", 15.50, 32.56),
                Area("North Darfur state", "El Fasher", 13.63, 25.35),
                Area("West Darfur state", "El Geneina", 13.45, 22.45),
                Area("South Kordofan state", "Kadugli", 11.01, 29.72),
                Area("Blue Nile state", "Ed Damazin", 11.80, 34.39),
                Area("Al Jazirah state", "Wad Madani", 14.40, 33.52),
            ),
            "Government of Sudan",
            ("RSF", "SPLM/A-North"),
            ("Masalit", "Misseriya"),
            (("Government of South Sudan", 626),),
        ),
        Country(
            "Syria",
            652,
            "SYR",
            "Middle East",
            (35.0, 38.5),
            (
                Area("Aleppo governorate", "Aleppo", 36.20, 37.16),
                Area("Idlib governorate", "Idlib", 35.93, 36.63),
                Area("Homs governorate", "Homs", 34.73, 36.72),
                Area("Damascus governorate", "Damascus", 33.51, 36.29),
                Area("Deir ez-Zor governorate", "Deir ez-Zor", 35.33, 40.14),
                Area("Daraa governorate", "Daraa", 32.62, 36.10),
            ),
            "Government of Syria",
            ("Syrian insurgents", "IS", "SDF"),
            (),
            (("Government of Russia (Soviet Union)", 365), ("Government of Iran", 630)),
        ),
    )
}

_OFFICES = ("AFP", "Reuters", "BBC Monitoring", "AP", "Xinhua", "local NGO report")
_FIRST_SOURCED_YEAR = 2014  # events coded before 2014 have number_of_sources -1


def priogrid_gid(latitude: float, longitude: float) -> int:
    """The PRIO-GRID cell (0.5 degree) of a point: row-major from (-90, -180), from 1."""
    row = min(math.floor((latitude + 90) / 0.5), 359)
    col = min(math.floor((longitude + 180) / 0.5), 719)
    return row * 720 + col + 1


def rows(
    country: str,
    n: int,
    *,
    seed: int = 0,
    layout: str = "25.1",
    years: tuple[int, int] = (2010, 2023),
    unknown_rate: float | None = None,
) -> list[dict[str, str]]:
    """``n`` GED rows (column -> cell text) for ``country`` in ``layout`` (one of
    :data:`LAYOUTS`), dated within ``years`` (inclusive).

    ``country`` is a GED country name (a key of :data:`COUNTRIES`), its short form
    ("DR Congo", "Myanmar"), its ISO 3166 alpha-3 code or its Gleditsch-Ward number.
    Every codebook value occurs once ``n`` is a few hundred; ``unknown_rate`` is the
    probability of a ``-1`` in each column the codebook may leave unknown (default
    0.05 in the global layouts, 0 in 19.1, which does not code unknowns as -1).
    """
    if layout not in COLUMNS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    if unknown_rate is None:
        unknown_rate = 0.0 if layout == "19.1" else 0.05
    spec = country_of(country)
    rng = random.Random(f"ged:{spec.name}:{seed}:{layout}")
    dyads = _dyads(spec)
    return [_row(spec, dyads, index, rng, layout, years, unknown_rate) for index in range(n)]


def country_of(key: str | int) -> Country:
    """The :class:`Country` for a GED name, short name, ISO3 code or GW number."""
    wanted = str(key).strip().casefold()
    for country in COUNTRIES.values():
        names = {country.name, country.name.split(" (")[0], country.iso3, str(country.gwno)}
        if wanted in {name.casefold() for name in names}:
            return country
    raise KeyError(f"no country {key!r}; one of {', '.join(COUNTRIES)}")


def write_csv(path: str | Path, rows: Iterable[Mapping[str, str]], layout: str = "25.1") -> Path:
    """Write ``rows`` as UCDP's CSV for ``layout`` (header line, then one line a row)."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS[layout]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in COLUMNS[layout]})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


# -- internals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dyad:
    violence: int
    conflict_id: int
    conflict: str
    dyad_id: int
    side_a: str
    side_a_id: int
    side_a_gwno: tuple[int, ...]
    side_b: str
    side_b_id: int
    side_b_gwno: tuple[int, ...]


def _actor_id(country: Country, name: str) -> int:
    return 100 + (sum(map(ord, f"{country.gwno}:{name}")) * 7919) % 9000


def _dyads(country: Country) -> list[_Dyad]:
    gov, gw = country.government, country.gwno
    out: list[_Dyad] = []
    base = country.gwno * 10
    for k, rebel in enumerate(country.rebels):
        out.append(
            _Dyad(
                1,
                base + 1,
                f"{country.name.split(' (')[0]}: Government",
                base * 10 + k,
                gov,
                _actor_id(country, gov),
                (gw,),
                rebel,
                _actor_id(country, rebel),
                (),
            )
        )
    for k, (state, state_gw) in enumerate(country.states):
        # An interstate dyad, or a government fighting beside the state (two GW numbers).
        out.append(
            _Dyad(
                1,
                base + 2,
                f"{state.removeprefix('Government of ')} - {country.name}",
                base * 10 + 50 + k,
                state,
                _actor_id(country, state),
                (state_gw,),
                gov,
                _actor_id(country, gov),
                (gw,),
            )
        )
    groups = list(country.rebels) + list(country.communal)
    for k, (a, b) in enumerate(itertools.pairwise(groups)):
        out.append(
            _Dyad(
                2,
                base + 10 + k,
                f"{a} - {b}",
                base * 10 + 100 + k,
                a,
                _actor_id(country, a),
                (),
                b,
                _actor_id(country, b),
                (),
            )
        )
    for k, actor in enumerate([gov, *country.rebels]):
        out.append(
            _Dyad(
                3,
                base + 30 + k,
                f"{actor} - Civilians",
                base * 10 + 200 + k,
                actor,
                _actor_id(country, actor),
                (gw,) if actor == gov else (),
                "Civilians",
                1,
                (),
            )
        )
    return out


def _dates(rng: random.Random, precision: int, years: tuple[int, int]) -> tuple[date, date]:
    year = rng.randint(*years)
    month = rng.randint(1, 12)
    last = calendar.monthrange(year, month)[1]
    if precision == 5:
        return date(year, 1, 1), date(year, 12, 31)
    if precision == 4:
        return date(year, month, 1), date(year, month, last)
    start = date(year, month, rng.randint(1, last))
    span = {1: 0, 2: rng.randint(1, 5), 3: 6}[precision]
    end = start + timedelta(days=span)
    return start, min(end, date(year, 12, 31))


def _gwno_cell(numbers: Sequence[int], rng: random.Random) -> str:
    separator = rng.choice([", ", ";"])
    return separator.join(str(n) for n in numbers)


def _row(
    country: Country,
    dyads: list[_Dyad],
    index: int,
    rng: random.Random,
    layout: str,
    years: tuple[int, int],
    unknown_rate: float,
) -> dict[str, str]:
    def maybe_unknown(value: str) -> str:
        return "-1" if rng.random() < unknown_rate else value

    dyad = rng.choice(dyads)
    where_prec = rng.choices(list(WHERE_PREC), weights=[40, 25, 10, 10, 6, 6, 3])[0]
    if where_prec == 6 and rng.random() < 0.5:
        date_prec = 5  # a year-long national summary
    else:
        date_prec = rng.choices(list(DATE_PREC), weights=[60, 12, 8, 12, 8])[0]
    start, end = _dates(rng, date_prec, years)
    clarity = 2 if date_prec >= 4 and rng.random() < 0.7 else rng.choices([1, 2], [9, 1])[0]

    area = rng.choice(country.areas)
    adm_1 = area.name
    adm_2 = f"{area.seat} district"
    place = f"{area.seat} town"
    lat, lon = area.latitude, area.longitude
    if where_prec in (1, 2, 5):
        spread = 0.05 if where_prec == 1 else 0.4
        lat += rng.uniform(-spread, spread)
        lon += rng.uniform(-spread, spread)
        if where_prec == 1:
            place = f"{area.seat} outskirts village"
    elif where_prec == 4:
        adm_2 = ""
        place = area.name
    elif where_prec == 6:
        adm_1 = adm_2 = ""
        place = country.name
        lat, lon = country.centroid
    elif where_prec == 7:
        adm_1 = adm_2 = ""
        place = f"{country.name} airspace"
        lat, lon = country.centroid
    lat, lon = round(lat, 6), round(lon, 6)

    deaths = [rng.choice([0, 0, 1, 2, 3, 5, 8]) for _ in range(4)]
    if dyad.violence == 3:
        deaths[0] = deaths[1] = 0
        deaths[2] = max(deaths[2], 1)
    if clarity == 2:
        deaths = [d * rng.randint(3, 40) for d in deaths]
    best = max(sum(deaths), 1)
    if sum(deaths) == 0:
        deaths[3] = 1
    low = max(best - rng.randint(0, 2), 0)
    high = best + rng.randint(0, 5)
    if clarity == 2 and rng.random() < 0.2:
        high = max(best - rng.randint(1, best), 0)  # the codebook allows high < best here

    year = start.year
    sourced = layout == "19.1" or year >= _FIRST_SOURCED_YEAR
    office = rng.choice(_OFFICES)
    headline = f"Clashes near {area.seat}, {best} killed, officials say"
    event_id = country.gwno * 100_000 + index + 1
    dt = (lambda d: d.isoformat()) if layout == "19.1" else (lambda d: f"{d} 00:00:00.000")
    active = rng.random() < 0.95
    active_cell = ("true" if active else "false") if layout == "25.1" else ("1" if active else "0")

    cells: dict[str, str] = {
        "id": str(event_id),
        "relid": f"{country.iso3}-{year}-{dyad.violence}-{dyad.conflict_id}-{index + 1}",
        "year": str(year),
        "active_year": active_cell,
        "code_status": "Clear",
        "type_of_violence": str(dyad.violence),
        "conflict_dset_id": str(dyad.conflict_id),
        "conflict_new_id": maybe_unknown(str(dyad.conflict_id)),
        "conflict_name": dyad.conflict,
        "dyad_dset_id": str(dyad.dyad_id),
        "dyad_new_id": maybe_unknown(str(dyad.dyad_id)),
        "dyad_name": f"{dyad.side_a} - {dyad.side_b}",
        "side_a_dset_id": str(dyad.side_a_id),
        "side_a_new_id": maybe_unknown(str(dyad.side_a_id)),
        "side_a": dyad.side_a,
        "side_b_dset_id": str(dyad.side_b_id),
        "side_b_new_id": maybe_unknown(str(dyad.side_b_id)),
        "side_b": dyad.side_b,
        "number_of_sources": str(rng.randint(1, 4)) if sourced else "-1",
        "source_article": f'"{office},{start},{headline}"',
        "source_office": office if sourced else "",
        "source_date": start.isoformat() if sourced else "",
        "source_headline": headline if sourced else "",
        "source_original": rng.choice(["", "witnesses", "local officials", office])
        if sourced
        else "",
        "where_prec": str(where_prec),
        "where_coordinates": place,
        "where_description": rng.choice(["", f"near {area.seat}", f"road to {area.seat}"]),
        "adm_1": adm_1,
        "adm_2": adm_2,
        "latitude": f"{lat}",
        "longitude": f"{lon}",
        "geom_wkt": f"POINT ({lon} {lat})",
        "priogrid_gid": maybe_unknown(str(priogrid_gid(lat, lon))),
        "country": country.name,
        "country_id": str(country.gwno),
        "region": country.region,
        "event_clarity": str(clarity),
        "date_prec": str(date_prec),
        "date_start": dt(start),
        "date_end": dt(end),
        "deaths_a": maybe_unknown(str(deaths[0])),
        "deaths_b": maybe_unknown(str(deaths[1])),
        "deaths_civilians": maybe_unknown(str(deaths[2])),
        "deaths_unknown": maybe_unknown(str(deaths[3])),
        "best": str(best),
        "high": maybe_unknown(str(high)),
        "low": maybe_unknown(str(low)),
        "gwnoa": maybe_unknown(_gwno_cell(dyad.side_a_gwno, rng)) if dyad.side_a_gwno else "",
        "gwnob": maybe_unknown(_gwno_cell(dyad.side_b_gwno, rng)) if dyad.side_b_gwno else "",
    }
    if dyad.violence == 1 and dyad.side_a_gwno == (country.gwno,) and country.states:
        if rng.random() < 0.3:  # the government with an allied state on its side
            cells["gwnoa"] = _gwno_cell((country.gwno, country.states[0][1]), rng)
    return {column: cells[column] for column in COLUMNS[layout]}
