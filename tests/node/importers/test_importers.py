"""Importers of the real data: every published row imports, bad rows are named precisely."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearinghouse.node.importers import (
    IMPORTERS,
    ImportCounts,
    ImportFailed,
    RowRejected,
    UnknownFormat,
    detect,
    ucdp,
    unodc,
    wfp,
)
from clearinghouse.node.importers.records_file import read_records
from clearinghouse.protocol.schemas import get_schema
from tests.codebooks import ucdp_ged as codebook_ged
from tests.codebooks import unodc_seizures as codebook_unodc
from tests.codebooks import wfp_prices as codebook_wfp

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


# -- the whole shipped files: every row accepted ------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("path", "fmt", "schema_id", "rows"),
    [
        (UCDP, "ucdp-ged", "conflict-event/1", 16_566),
        (UNODC, "unodc-seizures", "seizure/1", 10_941),
        (WFP, "wfp-prices", "market-price/1", 145_236),
    ],
    ids=["ucdp", "unodc", "wfp"],
)
def test_every_row_of_every_shipped_file_is_accepted(
    path: Path, fmt: str, schema_id: str, rows: int
) -> None:
    counts = ImportCounts()
    for _, item in read_records(path, fmt, schema_id):
        counts.row(item)
    assert counts.as_json() == {"read": rows, "accepted": rows, "refused": 0, "refused_by": {}}


def test_every_shipped_file_is_covered() -> None:
    shipped = {p.name for p in DATA.iterdir() if p.suffix in (".csv", ".gz")}
    assert shipped == {UCDP.name, UNODC.name, WFP.name, "wfp_markets_syr.csv"}  # markets: a list


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


# -- the codebook's values: all accepted, unknowns absent ---------------------------------


def test_minus_one_unknowns_become_absent_never_a_refusal() -> None:
    # The global GED codes an unknown as -1: number_of_sources for events coded before
    # 2014 ("-1 does NOT mean information on the source is missing", codebook 25.1).
    row = global_ged_row(
        number_of_sources="-1",
        source_office="",
        source_headline="",
        source_article="Reuters 18 Jan 2012 KILLED NEAR PALMYRA",
        priogrid_gid="-1",
        gwnoa="-1",
        gwnob="-1",
        conflict_new_id="-1",
        dyad_new_id="-1",
        side_a_new_id="-1",
        side_b_new_id="-1",
        country_id="-1",
        deaths_a="-1",
        low="-1",
        high="-1",
    )
    record = ucdp.record_from_row(row, line=2)
    for field in ("priogrid_gid", "side_a_gwno", "side_b_gwno", "conflict_id", "dyad_id"):
        assert field not in record, field
    assert {"side_a_id", "side_b_id", "country_id"}.isdisjoint(record)
    assert record["source"] == {"article": "Reuters 18 Jan 2012 KILLED NEAR PALMYRA"}
    assert record["deaths"] == {"side_b": 0, "civilians": 4, "unknown": 0, "best": 4}


@pytest.mark.parametrize(
    ("cell", "parsed"),
    [("2;200;900", [2, 200, 900]), ("651, 652", [651, 652]), ("652", [652]), ("-1", None)],
)
def test_gleditsch_ward_lists_as_ged_writes_them(cell: str, parsed: list[int] | None) -> None:
    record = ucdp.record_from_row(global_ged_row(gwnoa=cell, type_of_violence="1"), line=2)
    assert record.get("side_a_gwno") == parsed


@pytest.mark.parametrize(
    ("cell", "value"), [("1", True), ("0", False), ("true", True), ("false", False)]
)
def test_active_year_as_every_release_writes_it(cell: str, value: bool) -> None:
    assert ucdp.record_from_row(global_ged_row(active_year=cell), line=2)["active_year"] is value


def test_year_long_national_summaries_are_accepted_with_their_precision() -> None:
    # UCDP's year-long national summaries: country-level location, year-level date,
    # dated 1 January; the precision claims travel and decide how they are counted.
    row = global_ged_row(
        where_prec="6",
        date_prec="5",
        event_clarity="2",
        adm_1="",
        adm_2="",
        where_coordinates="Syria",
        date_start="2022-01-01 00:00:00.000",
        date_end="2022-12-31 00:00:00.000",
        best="1203",
        low="1100",
        high="1150",  # below best: the codebook allows it for summaries
    )
    record = ucdp.record_from_row(row, line=2)
    assert (record["where_precision"], record["date_precision"]) == (6, 5)
    assert (record["date_start"], record["date_end"]) == ("2022-01-01", "2022-12-31")
    assert "admin1" not in record
    assert record["deaths"]["high"] < record["deaths"]["best"]


@pytest.mark.parametrize("layout", codebook_ged.LAYOUTS)
@pytest.mark.parametrize("country", sorted(codebook_ged.COUNTRIES))
def test_every_generated_ged_row_is_accepted(tmp_path: Path, layout: str, country: str) -> None:
    rows = codebook_ged.rows(country, 300, seed=7, layout=layout)
    path = codebook_ged.write_csv(tmp_path / "ged.csv", rows, layout)
    assert detect(path) == "conflict-event/1"
    counts, records = ImportCounts(), []
    for _, item in ucdp.read_items(path):
        counts.row(item)
        if isinstance(item, dict):
            records.append(item)
    assert counts.as_json() == {"read": 300, "accepted": 300, "refused": 0, "refused_by": {}}
    # every value of the codebook's lists occurs and survives the import
    for field, codes in ucdp.CODEBOOK_VALUES.items():
        assert {r[field] for r in records} == set(codes), field
    assert {r["country"] for r in records} == {codebook_ged.COUNTRIES[country].name}
    if layout != "19.1":
        assert any("number_of_sources" not in r.get("source", {}) for r in records)


GED_CODES = {
    "type_of_violence": st.sampled_from(sorted(ucdp.CODEBOOK_VALUES["type_of_violence"])),
    "where_prec": st.sampled_from(sorted(ucdp.CODEBOOK_VALUES["where_precision"])),
    "date_prec": st.sampled_from(sorted(ucdp.CODEBOOK_VALUES["date_precision"])),
    "event_clarity": st.sampled_from(sorted(ucdp.CODEBOOK_VALUES["event_clarity"])),
    "active_year": st.sampled_from(["0", "1", "true", "false"]),
}
UNKNOWABLE = (
    "number_of_sources",
    "priogrid_gid",
    "gwnoa",
    "gwnob",
    "conflict_new_id",
    "dyad_new_id",
    "side_a_new_id",
    "side_b_new_id",
    "country_id",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "low",
    "high",
)


@settings(max_examples=25, deadline=None)
@given(
    codes=st.fixed_dictionaries(GED_CODES),
    unknown=st.sets(st.sampled_from(UNKNOWABLE)),
    blank=st.sets(st.sampled_from(["region", "where_coordinates", "adm_1", "adm_2", "relid"])),
)
def test_any_row_of_codebook_values_and_unknowns_is_accepted(
    codes: dict[str, str], unknown: set[str], blank: set[str]
) -> None:
    row = global_ged_row(**{k: str(v) for k, v in codes.items()})
    row.update(dict.fromkeys(unknown, "-1"))
    row.update(dict.fromkeys(blank, ""))
    record = ucdp.record_from_row(row, line=2)
    assert record["where_precision"] == codes["where_prec"]
    assert record["date_precision"] == codes["date_prec"]
    assert "priogrid_gid" not in record or "priogrid_gid" not in unknown


# -- refused rows: line, column and the codebook's reason ---------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason", "rule"),
    [
        ("latitude", "north", "not a number", "not a number"),
        ("best", "many", "not an integer", "not an integer"),
        ("date_start", "07/01/2016", "not a date", "not a date"),
        (
            "type_of_violence",
            "4",
            "not a type_of_violence code of the UCDP GED codebook",
            "not a value the codebook lists",
        ),
        ("where_prec", "8", "7 international waters or airspace", "not a value the codebook lists"),
        ("date_prec", "0", "5 more than a month", "not a value the codebook lists"),
        (
            "best",
            "-1",
            "'-1' is the source's code for an unknown value, but conflict-event/1 needs "
            "deaths.best: the fatality count every analyzer totals",
            "unknown where the schema needs a value",
        ),
        (
            "side_a",
            "",
            "empty, but conflict-event/1 needs side_a",
            "empty where the schema needs a value",
        ),
        ("latitude", "91", "less than or equal to 90", "Input should be less than or equal to 90"),
        ("date_end", "2015-12-31", "is before date_start 2016-01-01", "date_end before date_start"),
    ],
)
def test_refused_ged_row_names_its_line_column_and_reason(
    tmp_path: Path, column: str, value: str, reason: str, rule: str
) -> None:
    header, *rows = first_lines(UCDP, 4)
    rows[1][header.index(column)] = value
    path = write_csv(tmp_path / "ged.csv", [header, *rows])
    items = list(ucdp.read_items(path))
    assert [line for line, _ in items] == [2, 3, 4]  # the rows after it are still read
    refused = items[1][1]
    assert isinstance(refused, RowRejected)
    assert (refused.line, refused.column, refused.rule) == (3, column, rule)
    assert reason in refused.reason
    assert str(refused).startswith(f"line 3, column {column!r}: ")
    with pytest.raises(RowRejected):
        list(ucdp.read_events(path))


def test_refusals_are_counted_by_reason(tmp_path: Path) -> None:
    header, *rows = first_lines(UCDP, 7)
    rows[0][header.index("latitude")] = "north"
    rows[2][header.index("latitude")] = "south"
    rows[4][header.index("where_prec")] = "9"
    path = write_csv(tmp_path / "ged.csv", [header, *rows])
    counts = ImportCounts()
    for _, item in ucdp.read_items(path):
        counts.row(item)
    assert counts.as_json() == {
        "read": 6,
        "accepted": 3,
        "refused": 3,
        "refused_by": {
            "column 'latitude': not a number": 2,
            "column 'where_prec': not a value the codebook lists": 1,
        },
    }
    assert counts.lines() == [
        "rows read 6, accepted 3, refused 3",
        "  refused 2: column 'latitude': not a number",
        "  refused 1: column 'where_prec': not a value the codebook lists",
    ]


def test_line_numbers_count_the_physical_lines_of_quoted_cells(tmp_path: Path) -> None:
    header, *rows = first_lines(UCDP, 4)
    rows[0][header.index("source_headline")] = "first line\nsecond line\nthird line"
    rows[2][header.index("latitude")] = "91"
    path = write_csv(tmp_path / "ged.csv", [header, *rows])
    with pytest.raises(RowRejected) as caught:
        list(ucdp.read_events(path))
    assert (caught.value.line, caught.value.column) == (6, "latitude")


def test_row_with_too_few_cells_is_refused_and_reading_goes_on(tmp_path: Path) -> None:
    header, row, after = first_lines(UCDP, 3)
    path = write_csv(tmp_path / "ged.csv", [header, row[:-3], after])
    (line, refused), (next_line, record) = list(ucdp.read_items(path))
    assert isinstance(refused, RowRejected) and "expected 41 cells" in refused.reason
    assert (line, refused.line, next_line) == (2, 2, 3)
    assert isinstance(record, dict)


def test_missing_column_is_refused_at_the_header(tmp_path: Path) -> None:
    header, row = first_lines(UCDP, 2)
    drop = header.index("best")
    path = write_csv(tmp_path / "ged.csv", [header[:drop] + header[drop + 1 :], row[:-2]])
    with pytest.raises(RowRejected) as caught:
        list(ucdp.read_events(path))
    assert (caught.value.line, caught.value.column) == (1, "best")


# -- UNODC ----------------------------------------------------------------------------------


def test_every_generated_unodc_row_is_accepted_with_iso3_codes(tmp_path: Path) -> None:
    path = codebook_unodc.write_csv(tmp_path / "seizures.csv", codebook_unodc.rows(200, seed=3))
    assert detect(path) == "seizure/1"
    records = [item for _, item in unodc.read_items(path)]
    assert all(isinstance(r, dict) for r in records)
    codes = {r["country"]: r.get("country_code") for r in records if isinstance(r, dict)}
    assert codes["China, Hong Kong SAR"] == "HKG"
    assert codes["Netherlands (Kingdom of the)"] == "NLD"  # msCode written "nld"
    assert codes["Kosovo under UNSCR 1244"] is None  # XKX is not an ISO 3166 code: name kept
    assert {r["drug_group"] for r in records if isinstance(r, dict)} == set(codebook_unodc.DRUGS)
    assert any(r["kilograms"] == 0 for r in records if isinstance(r, dict))


def test_unodc_row_without_kilograms_is_refused(tmp_path: Path) -> None:
    header, *rows = first_lines(UNODC, 3)
    rows[1][header.index("Kilograms")] = ""
    path = write_csv(tmp_path / "unodc.csv", [header, *rows])
    with pytest.raises(RowRejected, match="an annual total needs kilograms") as caught:
        list(unodc.read_seizures(path))
    assert (caught.value.line, caught.value.column) == (3, "Kilograms")


# -- WFP ------------------------------------------------------------------------------------


def test_wfp_skips_the_hxl_row_and_counts_lines_from_it(tmp_path: Path) -> None:
    header, hxl, *rows = first_lines(WFP, 5)
    assert hxl[0] == "#date"
    rows[2][header.index("currency")] = "syrian pounds"
    path = tmp_path / "wfp_food_prices_syr.csv.gz"
    plain = write_csv(tmp_path / "plain.csv", [header, hxl, *rows])
    path.write_bytes(gzip.compress(plain.read_bytes()))
    prices = wfp.read_prices(path)
    first = next(prices)
    assert first["commodity"] == "Bread (bakery, parallel market)"  # a quoted cell
    assert first["country_code"] == "SYR"
    assert first["unit"] == "1.1 KG"  # as published
    assert first["usd_price"] == 0.27
    next(prices)
    with pytest.raises(RowRejected) as caught:
        next(prices)
    assert (caught.value.line, caught.value.column) == (5, "currency")


@pytest.mark.parametrize("country", ["Mali", "DR Congo", "Colombia", "Myanmar", "Sudan"])
def test_wfp_columns_are_found_by_their_hxl_hashtags(tmp_path: Path, country: str) -> None:
    rows = codebook_wfp.rows(country, 200, seed=5)
    named = codebook_wfp.write_csv(tmp_path / "named.csv", rows)
    renamed = codebook_wfp.write_csv(
        tmp_path / "prix.csv.gz", rows, headers=codebook_wfp.FRENCH, compress=True
    )
    assert detect(renamed) == "market-price/1"
    by_name = list(wfp.read_prices(named, country_code="XXX"))
    by_hxl = list(wfp.read_prices(renamed, country_code="XXX"))
    assert by_hxl == by_name and len(by_hxl) == 200
    assert {r["price_flag"] for r in by_hxl} == set(codebook_wfp.PRICE_FLAGS)
    assert {r["price_type"] for r in by_hxl} == set(codebook_wfp.PRICE_TYPES)
    assert {r["unit"] for r in by_hxl} <= set(codebook_wfp.UNITS)
    assert any("usd_price" not in r for r in by_hxl)  # WFP had no exchange rate
    assert any("latitude" not in r for r in by_hxl)  # a market without coordinates
    assert any("," in r["commodity"] for r in by_hxl)


def test_wfp_hxl_row_wins_over_misleading_names(tmp_path: Path) -> None:
    # Columns reordered and named misleadingly: only the hashtags say what each holds.
    header = ["price", "usdprice", "market", "commodity", "unit", "currency", "date", "iso"]
    hxl = [
        "#value+usd",
        "#value",
        "#loc+market+name",
        "#item+name",
        "#item+unit",
        "#currency+code",
        "#date",
        "#country+code",
    ]
    row = ["0.5", "1250", "Gao", "Millet", "KG", "xof", "2020-03-15", "mli"]
    path = write_csv(tmp_path / "wfp.csv", [header, hxl, row])
    (record,) = wfp.read_prices(path, country_code="SYR")
    assert (record["price"], record["usd_price"]) == (1250, 0.5)
    assert (record["currency"], record["country_code"]) == ("XOF", "MLI")


def test_wfp_file_without_a_price_column_is_refused_at_the_header(tmp_path: Path) -> None:
    header = ["date", "market", "commodity", "unit", "currency"]
    hxl = ["#date", "#loc+market+name", "#item+name", "#item+unit", "#currency+code"]
    path = write_csv(
        tmp_path / "wfp.csv", [header, hxl, ["2020-03-15", "Gao", "Millet", "KG", "XOF"]]
    )
    ((line, refused),) = list(wfp.read_items(path))
    assert isinstance(refused, RowRejected)
    assert line == 1 and "price" in refused.reason


# -- errors and counts ----------------------------------------------------------------------


def test_row_rejected_is_a_value_error_with_a_code() -> None:
    error = RowRejected(7, "bad", column="best")
    assert isinstance(error, ValueError)
    assert isinstance(error, ImportFailed)
    assert (error.code, error.line, error.column, error.reason, error.rule) == (
        "row-rejected",
        7,
        "best",
        "bad",
        "bad",
    )
    assert str(error) == "line 7, column 'best': bad"
    assert error.counted_as == "column 'best': bad"


def test_import_counts_of_a_clean_file() -> None:
    counts = ImportCounts()
    counts.read_only({"a": 1})
    counts.accept()
    counts.read_only(RowRejected(3, "'x' is not a number", column="lat", rule="not a number"))
    counts.read_only({"b": 2})
    counts.refuse("node refused: duplicate")
    assert str(counts) == (
        "rows read 3, accepted 1, refused 2\n"
        "  refused 1: column 'lat': not a number\n"
        "  refused 1: node refused: duplicate"
    )


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


def test_wfp_column_without_a_hashtag_is_found_by_its_name(tmp_path: Path) -> None:
    header = ["date", "market", "commodity", "unit", "currency", "price"]
    hxl = ["#date", "#loc+market+name", "#item+name", "#item+unit", "", "#value"]
    path = write_csv(
        tmp_path / "wfp.csv", [header, hxl, ["2020-03-15", "Gao", "Millet", "KG", "XOF", "250"]]
    )
    (record,) = wfp.read_prices(path)
    assert (record["currency"], record["price"]) == ("XOF", 250)


def test_a_renamed_wfp_file_is_told_apart_from_one_that_names_its_country(
    tmp_path: Path,
) -> None:
    """HDX puts a per-country file's country in its name only: renamed, its prices
    would carry no country. They are still read (never dropped), and ``unplaced`` says
    why; a country given, or a ``#country+code`` column, places them."""
    rows = codebook_wfp.rows("Mali", 20, seed=2)
    renamed = codebook_wfp.write_csv(tmp_path / "prices.csv", rows)
    hdx = codebook_wfp.write_csv(tmp_path / "wfp_food_prices_mli.csv", rows)
    problem = wfp.unplaced(renamed)
    assert problem is not None and "prices.csv names no country" in problem
    assert "--country" in problem
    assert wfp.unplaced(hdx) is None and wfp.unplaced(renamed, country_code="MLI") is None
    unplaced = list(wfp.read_prices(renamed))
    assert len(unplaced) == 20 and all("country_code" not in r for r in unplaced)
    assert list(wfp.read_prices(renamed, country_code="MLI")) == list(wfp.read_prices(hdx))
    assert wfp.country_in_file_name("wfp_food_prices_syr.csv.gz") == "SYR"
    header = ["date", "market", "commodity", "unit", "currency", "price", "iso"]
    hxl = ["#date", "#loc+market+name", "#item+name", "#item+unit", "#currency+code"]
    hxl += ["#value", "#country+code"]
    global_file = write_csv(tmp_path / "global.csv", [header, hxl])
    assert wfp.unplaced(global_file) is None
