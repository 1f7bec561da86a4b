"""The situation's exports: CSV, XLSX and GeoJSON read back with ordinary tools.

CSV with the ``csv`` module, XLSX with openpyxl, GeoJSON with ``json`` (strictly: no
NaN). Rows are built directly: the format layer takes any iterable of rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from clearinghouse.node.services.exports import (
    CHUNK_ROWS,
    COLUMNS,
    CSV,
    FORMATS,
    GEOJSON,
    XLSX,
    csv_chunks,
    geojson_chunks,
    neutralise_formula,
    write_xlsx,
)
from clearinghouse.node.services.situation_rows import Place, SituationRow

ISSUED = datetime(2024, 3, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
HXL_TAG = re.compile(r"#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*")
PROVENANCE = {"node": "mission", "exported_at": "2024-03-02T08:00:00Z", "filters": "country=Syria"}


def make_row(n: int = 0, **changes: Any) -> SituationRow:
    fields: dict[str, Any] = {
        "participant": "mission",
        "analyzer": "mission.security-risk",
        "analyzer_version": "1.4.0",
        "result_jti": f"0190f1a2-0000-7000-8000-{n:012d}",
        "result_sha256": f"{n:064x}",
        "issued_at": ISSUED,
        "kind": "hotspot",
        "subject": f"Syria / Ḥalab / 2016-{n % 12 + 1:02d}",
        "explanation": "42 events, 17 fatalities",
        "country": "Syria",
        "admin1": "Ḥalab",
        "period": "2016-03",
        "level": "high",
        "score": 2.5,
        "indicators": {"events": 42, "trend": "rising"},
        "events": 42,
        "fatalities": 17,
        "place": Place(lat=36.2021047, lon=37.1342603, precision="coordinates", points=42),
    }
    fields.update(changes)
    return SituationRow(**fields)


HOSTILE = make_row(
    1,
    admin1="Dayr Az Zawr",
    explanation='=HYPERLINK("http://evil.example","click")',
    actor="@SUM(1+1)",
    subject="-2+3",
    score=-1.5,
    events=0,
    fatalities=None,
    hc="H3",
    hcr="\tnot for the press",
    place=None,
)


def read_csv(rows: list[SituationRow]) -> tuple[bytes, list[list[str]]]:
    data = b"".join(csv_chunks(rows))
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def counting(rows: list[SituationRow], taken: list[int]) -> Iterator[SituationRow]:
    for row in rows:
        taken.append(1)
        yield row


# --- columns and formats ---------------------------------------------------------


def test_every_column_has_a_well_formed_hxl_hashtag_and_a_meaning() -> None:
    names = [column.name for column in COLUMNS]
    assert len(set(names)) == len(names)
    assert len({column.hxl for column in COLUMNS}) == len(COLUMNS)
    for column in COLUMNS:
        assert HXL_TAG.fullmatch(column.hxl), column.hxl
        assert column.meaning
    tags = {column.name: column.hxl for column in COLUMNS}
    assert tags["country"] == "#country+name" and tags["admin1"] == "#adm1+name"
    assert tags["fatalities"] == "#affected+killed" and tags["level"] == "#severity"
    assert tags["lat"] == "#geo+lat" and tags["lon"] == "#geo+lon"
    assert tags["indicators"] == "#meta+indicators"
    # HXL's pattern #date takes the first #date column: the period, not issued_at
    dates = [column.name for column in COLUMNS if column.hxl.startswith("#date")]
    assert dates == ["period", "issued_at"]


def test_media_types_and_extensions() -> None:
    assert FORMATS == {"csv": CSV, "xlsx": XLSX, "geojson": GEOJSON}
    assert CSV.media_type == "text/csv; charset=utf-8; header=present"
    assert GEOJSON.media_type == "application/geo+json" and GEOJSON.extension == ".geojson"
    assert XLSX.extension == ".xlsx" and XLSX.media_type.endswith("spreadsheetml.sheet")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "\0x"])
def test_a_formula_trigger_is_quoted(text: str) -> None:
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Syria", "#country+name", "1-2", " =x", "'=x"])
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralise_formula(text) == text


# --- CSV -------------------------------------------------------------------------


def test_csv_has_a_bom_the_header_the_hxl_row_and_a_line_per_row() -> None:
    rows = [make_row(n) for n in range(3)]
    data, lines = read_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    header, hashtags, *body = lines
    assert header == [column.name for column in COLUMNS]
    assert hashtags == [column.hxl for column in COLUMNS]
    assert all(tag.startswith("#") for tag in hashtags)
    assert len(body) == 3
    first = dict(zip(header, body[0], strict=True))
    assert first["issued_at"] == "2024-03-01T12:30:05Z"
    assert first["lat"] == "36.2021" and first["lon"] == "37.13426"
    assert first["place_precision"] == "coordinates" and first["place_points"] == "42"
    assert json.loads(first["indicators"]) == {"events": 42, "trend": "rising"}
    assert first["hc"] == "H0" and first["restriction"] == ""


def test_csv_neutralises_formulas_in_text_and_keeps_numbers() -> None:
    _, (header, _, line) = read_csv([HOSTILE])
    cells = dict(zip(header, line, strict=True))
    assert cells["explanation"] == "'" + HOSTILE.explanation
    assert cells["actor"] == "'@SUM(1+1)" and cells["subject"] == "'-2+3"
    assert cells["restriction"] == "'\tnot for the press"
    assert float(cells["score"]) == -1.5 and cells["events"] == "0"
    assert cells["fatalities"] == "" and cells["lat"] == "" and cells["place_precision"] == ""


def test_csv_round_trips_non_ascii_names() -> None:
    names = ["Dayr Az Zawr", "Ḥalab", "حلب", "Île-de-France"]
    _, (header, _, *body) = read_csv([make_row(n, admin1=name) for n, name in enumerate(names)])
    assert [line[header.index("admin1")] for line in body] == names


def test_csv_leaves_a_score_that_is_not_finite_empty() -> None:
    _, (header, _, *body) = read_csv([make_row(score=math.nan), make_row(score=math.inf)])
    assert [line[header.index("score")] for line in body] == ["", ""]


def test_csv_reads_its_rows_as_the_chunks_are_taken() -> None:
    taken: list[int] = []
    chunks = csv_chunks(counting([make_row(n) for n in range(2 * CHUNK_ROWS + 1)], taken))
    head = next(chunks)
    assert len(taken) == 0 and head.count(b"\r\n") == 2
    assert next(chunks).count(b"\r\n") == CHUNK_ROWS and len(taken) == CHUNK_ROWS
    rest = list(chunks)
    assert [chunk.count(b"\r\n") for chunk in rest] == [CHUNK_ROWS, 1]


def test_csv_of_no_rows_is_the_two_header_lines() -> None:
    _, lines = read_csv([])
    assert len(lines) == 2


# --- XLSX ------------------------------------------------------------------------


def test_xlsx_has_typed_cells_under_two_frozen_header_rows(tmp_path: Path) -> None:
    path = tmp_path / "situation.xlsx"
    write_xlsx([make_row(0), HOSTILE], path, title="Syria, March", provenance=PROVENANCE)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["situation", "about"]
    sheet = book["situation"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    names = [column.name for column in COLUMNS]
    assert rows[0] == names and rows[1] == [column.hxl for column in COLUMNS]
    assert sheet.cell(1, 1).font.b and sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A2:")
    assert len(rows) == 4
    first, hostile = (dict(zip(names, row, strict=True)) for row in rows[2:])
    assert first["issued_at"] == datetime(2024, 3, 1, 12, 30, 5)  # UTC
    assert first["score"] == 2.5 and first["events"] == 42 and first["lat"] == 36.2021
    assert first["admin1"] == "Ḥalab" and first["period"] == "2016-03"
    assert hostile["score"] == -1.5 and hostile["events"] == 0 and hostile["fatalities"] is None
    # a string cell, never a formula: written as it is
    assert hostile["explanation"] == HOSTILE.explanation
    column = names.index("explanation") + 1
    assert sheet.cell(4, column).data_type == "s"
    assert hostile["admin1"] == "Dayr Az Zawr" and hostile["restriction"] == HOSTILE.hcr


def test_xlsx_about_sheet_states_title_provenance_and_the_column_table(tmp_path: Path) -> None:
    path = tmp_path / "situation.xlsx"
    write_xlsx([make_row(0), HOSTILE], path, title="Syria, March", provenance=PROVENANCE)
    about = [list(row) for row in openpyxl.load_workbook(path)["about"].iter_rows(values_only=True)]
    assert about[0][0] == "Syria, March"
    pairs = {row[0]: row[1] for row in about if row[0] is not None}
    assert {key: pairs[key] for key in PROVENANCE} == PROVENANCE
    assert pairs["rows"] == "2" and pairs["restricted rows"].startswith("1 ")
    assert pairs["H2"] == "no onward dissemination"
    start = next(i for i, row in enumerate(about) if row[:2] == ["column", "HXL hashtag"])
    table = [tuple(row[:3]) for row in about[start + 1 :]]
    assert table == [(column.name, column.hxl, column.meaning) for column in COLUMNS]


def test_xlsx_continues_on_another_sheet_past_the_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "situation.xlsx"
    write_xlsx([make_row(n) for n in range(5)], path, title="t", provenance={}, sheet_rows=2)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["situation", "about", "situation 2", "situation 3"]
    jti = [column.name for column in COLUMNS].index("result_jti")
    seen = []
    for name in ("situation", "situation 2", "situation 3"):
        header, hashtags, *body = book[name].iter_rows(values_only=True)
        assert header[0] == "country" and hashtags[0] == "#country+name"
        seen += [row[jti] for row in body]
    assert seen == [make_row(n).result_jti for n in range(5)]
    pairs = {row[0]: row[1] for row in book["about"].iter_rows(values_only=True) if row[0]}
    assert pairs["rows"] == "5"
    assert pairs["sheets"] == "situation: 2 rows; situation 2: 2 rows; situation 3: 1 rows"


def test_xlsx_cuts_text_longer_than_a_cell_holds(tmp_path: Path) -> None:
    path = tmp_path / "situation.xlsx"
    write_xlsx([make_row(explanation="x" * 40_000)], path, title="t", provenance={})
    names = [column.name for column in COLUMNS]
    text = openpyxl.load_workbook(path)["situation"].cell(3, names.index("explanation") + 1).value
    assert len(text) == 32_767 and text.endswith("…")


def test_xlsx_of_no_rows_has_its_headers(tmp_path: Path) -> None:
    path = tmp_path / "situation.xlsx"
    write_xlsx([], path, title="t", provenance={})
    assert openpyxl.load_workbook(path)["situation"].max_row == 2


def test_xlsx_that_cannot_be_written_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_xlsx([make_row()], tmp_path / "absent" / "x.xlsx", title="t", provenance={})


# --- GeoJSON ---------------------------------------------------------------------


def strict_json(data: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(data, parse_constant=refuse)


def test_geojson_is_a_feature_collection_of_the_located_rows() -> None:
    rows = [make_row(0), HOSTILE, make_row(2, place=Place(-33.9, 18.4, "cell", 3))]
    collection = strict_json(b"".join(geojson_chunks(rows, provenance=PROVENANCE)))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert [f["properties"]["result_jti"] for f in features] == [
        rows[0].result_jti,
        rows[2].result_jti,
    ]
    assert features[0]["type"] == "Feature"
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [37.13426, 36.2021]}
    assert features[1]["geometry"]["coordinates"] == [18.4, -33.9]
    properties = features[0]["properties"]
    assert list(properties) == [column.name for column in COLUMNS]
    assert properties["participant"] == "mission" and properties["analyzer_version"] == "1.4.0"
    assert properties["analyzer"] == "mission.security-risk"
    assert properties["result_sha256"] == rows[0].result_sha256
    assert properties["issued_at"] == "2024-03-01T12:30:05Z"
    assert properties["indicators"] == {"events": 42, "trend": "rising"}
    assert properties["admin1"] == "Ḥalab"
    member = collection["clearinghouse"]
    assert member["provenance"] == PROVENANCE
    assert member["located"] == 2 and member["unlocated"] == 1
    assert member["hxl"] == {column.name: column.hxl for column in COLUMNS}


def test_geojson_writes_a_score_that_is_not_finite_as_null() -> None:
    data = b"".join(geojson_chunks([make_row(score=math.nan)], provenance={}))
    assert strict_json(data)["features"][0]["properties"]["score"] is None


def test_geojson_reads_its_rows_as_the_chunks_are_taken() -> None:
    taken: list[int] = []
    rows = [make_row(n) for n in range(CHUNK_ROWS + 3)]
    chunks = geojson_chunks(counting(rows, taken), provenance={})
    head = next(chunks)
    assert head.startswith(b'{"type":"FeatureCollection"') and taken == []
    first = next(chunks)
    assert len(taken) == CHUNK_ROWS
    data = b"".join([head, first, *chunks])
    assert len(taken) == CHUNK_ROWS + 3
    assert len(strict_json(data)["features"]) == CHUNK_ROWS + 3


def test_geojson_of_no_rows_is_an_empty_collection() -> None:
    collection = strict_json(b"".join(geojson_chunks([], provenance={"count": 0})))
    assert collection["features"] == [] and collection["clearinghouse"]["unlocated"] == 0


def test_geojson_provenance_takes_datetimes_and_refuses_other_objects_before_streaming() -> None:
    moment = datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    data = b"".join(geojson_chunks([], provenance={"exported_at": moment}))
    assert strict_json(data)["clearinghouse"]["provenance"] == {
        "exported_at": "2024-03-02T08:00:00Z"
    }
    with pytest.raises(TypeError, match="set"):
        geojson_chunks([], provenance={"filters": {"Syria"}})
