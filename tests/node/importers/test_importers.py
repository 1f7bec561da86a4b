"""Importers of the real data: every published row imports, bad rows are named precisely."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest

from node.importers import (
    IMPORTERS,
    ImportFailed,
    RowRejected,
    UnknownFormat,
    detect,
    ucdp,
    unodc,
    wfp,
)
from protocol.schemas import get_schema

DATA = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "data"
UCDP = DATA / "ucdp_ged_syria_2016_2019.csv"
UNODC = DATA / "unodc_drug_seizures_2018_2022.csv"
WFP = DATA / "wfp_food_prices_syr.csv.gz"

# The global GED layout (releases 23.1 and later), 49 columns.
GLOBAL_GED_HEADER = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,"
    "conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,"
    "side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,"
    "source_date,source_headline,source_original,where_prec,where_coordinates,"
    "where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,"
    "country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,"
    "deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob"
).split(",")


def first_lines(path: Path, count: int) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        reader = csv.reader(handle)
        return [next(reader) for _ in range(count)]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


# -- the whole real files ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("path", "schema_id", "rows"),
    [
        (UCDP, "conflict-event/1", 16_566),
        (UNODC, "seizure/1", 10_941),
        (WFP, "market-price/1", 145_236),
    ],
    ids=["ucdp", "unodc", "wfp"],
)
def test_every_row_of_the_real_file_imports_and_validates(
    path: Path, schema_id: str, rows: int
) -> None:
    spec = get_schema(schema_id)
    count = 0
    for record in IMPORTERS[schema_id](path):
        assert spec.validate_record(record) == record
        count += 1
    assert count == rows


def test_ged_19_1_row_maps_every_column() -> None:
    header, row = first_lines(UCDP, 2)
    record = ucdp.record_from_row(dict(zip(header, row, strict=True)), line=2)
    assert record == {
        "event_id": "214797",
        "year": 2016,
        "active_year": True,
        "type_of_violence": 1,
        "conflict_id": 299,
        "conflict": "Syria: Government",
        "dyad_id": 11973,
        "dyad": "Government of Syria - Syrian insurgents",
        "side_a_id": 118,
        "side_a": "Government of Syria",
        "side_b_id": 4456,
        "side_b": "Syrian insurgents",
        "date_start": "2016-01-01",
        "date_end": "2016-01-01",
        "date_precision": 1,
        "country": "Syria",
        "country_id": 652,
        "region": "Middle East",
        "admin1": "Homs Governorate",
        "admin2": "Ar Rastan district",
        "place": "Teir Maaleh village",
        "latitude": 34.802462,
        "longitude": 36.707602,
        "where_precision": 1,
        "priogrid_gid": 179714,
        "event_clarity": 1,
        "deaths": {
            "side_a": 2,
            "side_b": 2,
            "civilians": 0,
            "unknown": 0,
            "low": 4,
            "best": 4,
            "high": 4,
        },
        "source": {
            "article": '"SOHR,2015-01-01,14 shells hit Dahya al-Assad an clashes continue '
            'around Ter Ma\u2019la"',
            "office": "SOHR",
            "date": "2015-01-01",
            "headline": "14 shells hit Dahya al-Assad an clashes continue around Ter Ma\u2019la",
            "original": "SOHR",
            "number_of_sources": 1,
        },
        "narrative": "14 shells hit Dahya al-Assad an clashes continue around Ter Ma\u2019la",
    }


def global_ged_row(**changes: str) -> dict[str, str]:
    row = dict.fromkeys(GLOBAL_GED_HEADER, "")
    row.update(
        id="413210",
        relid="SYR-2022-1-458-12",
        year="2022",
        active_year="1",
        code_status="Clear",
        type_of_violence="3",
        conflict_dset_id="458",
        conflict_new_id="458",
        conflict_name="IS - Civilians",
        dyad_dset_id="973",
        dyad_new_id="973",
        dyad_name="IS - Civilians",
        side_a_dset_id="234",
        side_a_new_id="234",
        side_a="IS",
        side_b_dset_id="1",
        side_b_new_id="1",
        side_b="Civilians",
        number_of_sources="2",
        source_office="SOHR;AFP",
        source_headline="Shepherds killed near Palmyra",
        where_prec="2",
        where_coordinates="Tadmur town",
        where_description="desert area east of Palmyra",
        adm_1="Homs governorate",
        adm_2="Tadmur district",
        latitude="34.56",
        longitude="38.27",
        geom_wkt="POINT (38.27 34.56)",
        priogrid_gid="179437",
        country="Syria",
        country_id="652",
        region="Middle East",
        event_clarity="1",
        date_prec="1",
        date_start="2022-03-05 00:00:00.000",
        date_end="2022-03-06 00:00:00.000",
        deaths_a="0",
        deaths_b="0",
        deaths_civilians="4",
        deaths_unknown="0",
        best="4",
        high="6",
        low="4",
        gwnoa="",
        gwnob="",
    )
    row.update(changes)
    return row


def test_global_ged_layout_with_time_part_dates_imports(tmp_path: Path) -> None:
    rows = [
        GLOBAL_GED_HEADER,
        list(global_ged_row().values()),
        list(global_ged_row(id="413211", gwnoa="652", type_of_violence="1").values()),
    ]
    path = write_csv(tmp_path / "GEDEvent_v24_1.csv", rows)
    assert detect(path) == "conflict-event/1"
    first, second = list(ucdp.read_events(path))
    assert first["date_start"] == "2022-03-05"
    assert first["date_end"] == "2022-03-06"
    assert first["relid"] == "SYR-2022-1-458-12"
    assert first["code_status"] == "Clear"
    assert first["place_description"] == "desert area east of Palmyra"
    assert first["deaths"] == {
        "side_a": 0,
        "side_b": 0,
        "civilians": 4,
        "unknown": 0,
        "low": 4,
        "best": 4,
        "high": 6,
    }
    assert first["source"] == {
        "office": "SOHR;AFP",
        "headline": "Shepherds killed near Palmyra",
        "number_of_sources": 2,
    }
    assert "side_a_gwno" not in first
    assert second["side_a_gwno"] == [652]
    assert get_schema("conflict-event/1").validate_record(second) == second


# -- rejected rows ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("latitude", "north", "not a number"),
        ("best", "many", "not an integer"),
        ("date_start", "07/01/2016", "not a date"),
        ("type_of_violence", "4", "less than or equal to 3"),
        ("best", "-2", "greater than or equal to 0"),
        ("where_coordinates", "", "Field required"),
        ("date_end", "2015-12-31", "before date_start"),
    ],
)
def test_bad_ged_row_names_its_line_and_column(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    header, *rows = first_lines(UCDP, 4)
    rows[1][header.index(column)] = value
    path = write_csv(tmp_path / "ged.csv", [header, *rows])
    events = ucdp.read_events(path)
    assert next(events)["event_id"] == "214797"
    with pytest.raises(RowRejected, match=reason) as caught:
        next(events)
    assert caught.value.line == 3
    assert caught.value.column == (column if reason != "before date_start" else None)
    assert str(caught.value).startswith("line 3")


def test_line_numbers_count_the_physical_lines_of_quoted_cells(tmp_path: Path) -> None:
    header, *rows = first_lines(UCDP, 4)
    rows[0][header.index("source_headline")] = "first line\nsecond line\nthird line"
    rows[2][header.index("latitude")] = "91"
    path = write_csv(tmp_path / "ged.csv", [header, *rows])
    with pytest.raises(RowRejected) as caught:
        list(ucdp.read_events(path))
    assert (caught.value.line, caught.value.column) == (6, "latitude")


def test_row_with_too_few_cells_is_rejected(tmp_path: Path) -> None:
    header, row = first_lines(UCDP, 2)
    path = write_csv(tmp_path / "ged.csv", [header, row[:-3]])
    with pytest.raises(RowRejected, match="expected 41 cells") as caught:
        list(ucdp.read_events(path))
    assert caught.value.line == 2


def test_missing_column_is_rejected_at_the_header(tmp_path: Path) -> None:
    header, row = first_lines(UCDP, 2)
    drop = header.index("best")
    path = write_csv(tmp_path / "ged.csv", [header[:drop] + header[drop + 1 :], row[:-2]])
    with pytest.raises(RowRejected) as caught:
        list(ucdp.read_events(path))
    assert (caught.value.line, caught.value.column) == (1, "best")


def test_unodc_row_without_kilograms_is_rejected(tmp_path: Path) -> None:
    header, *rows = first_lines(UNODC, 3)
    rows[1][header.index("Kilograms")] = ""
    path = write_csv(tmp_path / "unodc.csv", [header, *rows])
    with pytest.raises(RowRejected) as caught:
        list(unodc.read_seizures(path))
    assert (caught.value.line, caught.value.column) == (3, "Kilograms")


def test_wfp_skips_the_hxl_row_and_counts_lines_from_it(tmp_path: Path) -> None:
    header, hxl, *rows = first_lines(WFP, 5)
    assert hxl[0] == "#date"
    rows[2][header.index("currency")] = "syrian pounds"
    path = tmp_path / "wfp_food_prices_syr.csv.gz"
    plain = write_csv(tmp_path / "plain.csv", [header, hxl, *rows])
    path.write_bytes(gzip.compress(plain.read_bytes()))
    prices = wfp.read_prices(path)
    first = next(prices)
    assert first["commodity"] == "Bread (bakery, parallel market)"
    assert first["country_code"] == "SYR"
    next(prices)
    with pytest.raises(RowRejected) as caught:
        next(prices)
    assert (caught.value.line, caught.value.column) == (5, "currency")


def test_row_rejected_is_a_value_error_with_a_code() -> None:
    error = RowRejected(7, "bad", column="best")
    assert isinstance(error, ValueError)
    assert isinstance(error, ImportFailed)
    assert (error.code, error.line, error.column, error.reason) == (
        "row-rejected",
        7,
        "best",
        "bad",
    )
    assert str(error) == "line 7, column 'best': bad"


# -- detect -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "schema_id"),
    [(UCDP, "conflict-event/1"), (UNODC, "seizure/1"), (WFP, "market-price/1")],
    ids=["ucdp", "unodc", "wfp"],
)
def test_detect_recognises_each_real_file(path: Path, schema_id: str) -> None:
    assert detect(path) == schema_id
    assert schema_id in IMPORTERS


def test_detect_refuses_another_file() -> None:
    with pytest.raises(UnknownFormat, match="matches no known layout") as caught:
        detect(DATA / "wfp_markets_syr.csv")
    assert isinstance(caught.value, ValueError)


def test_detect_of_a_missing_file_is_an_import_failure(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="cannot read"):
        detect(tmp_path / "absent.csv")
