"""The common situation as files analysts take away: CSV, XLSX and GeoJSON.

Issue 18, item 5 ("Exports"). Analysts in peace operations, UNODC and DPA carry the
situation into spreadsheets and GIS layers; this module is the format layer only. It
takes :class:`~node.services.situation_rows.SituationRow` values (one finding each,
with its provenance and handling) from any iterable and never holds more than a
chunk of them: a node may hold a million packets.

* :data:`COLUMNS` - the export columns, in order, each with a header name, an HXL
  hashtag (Humanitarian Exchange Language 1.1 hashtag dictionary,
  https://hxlstandard.org/standard/1-1final/dictionary/) and a meaning. Hashtags
  are the ones HDX and WFP data carry (``#country+name``, ``#adm1+name``,
  ``#date``, ``#affected+killed``, ``#event+num`` as HDX's ACLED/UCDP series count
  events, ``#group+name`` for an armed actor as HDX's UCDP data tag ``side_a``);
  what HXL has no concept for (the provenance, the handling, the finding's kind)
  is ``#meta`` with attributes. The situation columns come first, the provenance
  after, so that the pattern ``#date`` finds the period before ``#date+reported``.
* :func:`csv_chunks` - RFC 4180 CSV, UTF-8 with a byte order mark (below).
* :func:`write_xlsx` - an Office Open XML workbook written by XlsxWriter in its
  ``constant_memory`` mode to a path the caller gives.
* :func:`geojson_chunks` - an RFC 7946 FeatureCollection of the located rows.

Values are written as what they are. Numbers stay numbers (a negative score is
``-1.5``, never text); a score that is not finite is left empty. ``issued_at`` is
an instant in UTC: ISO 8601 text ``2024-03-01T12:00:00Z`` in CSV and GeoJSON, an
Excel date-time (UTC, shown ``yyyy-mm-dd hh:mm:ss``) in XLSX. ``period`` stays the
analyzer's ISO 8601 text in every format: ``"2016"`` for a year, ``"2016-03"`` for a
month, ``"2016-11/2017-02"`` for a span of months (an ISO 8601 interval, which
HXL's date check does not read); a month is not a day, so it is never turned
into a spreadsheet date. Latitude and longitude are rounded to 5 decimals (about
a metre; the point is a mean of held coordinates or cells anyway). ``indicators``
is the analyzer's object as compact JSON text (a JSON object in GeoJSON).

**Formula injection** (OWASP "CSV Injection"; ASVS 4.0 1.2.10): a spreadsheet
runs a CSV cell that begins with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
return or NUL as a formula, and findings quote peers' data. Such a *text* cell
gets a leading ``'``; numbers are never touched. XLSX cells are typed: strings go
through ``write_string`` (never read as formulas, so they are written as they
are) and the workbook is opened with ``strings_to_formulas`` off.

**Byte order mark.** The CSV starts with a UTF-8 BOM: Excel, the analysts' usual
tool, reads a CSV without one in the local ANSI code page and garbles "Ḥalab".
pandas and libhxl skip the BOM; Python's ``csv`` module wants
``encoding="utf-8-sig"``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import xlsxwriter  # type: ignore[import-untyped]  # XlsxWriter ships no py.typed
from xlsxwriter.exceptions import XlsxFileError  # type: ignore[import-untyped]

from clearinghouse.node.services.situation_rows import Place, SituationRow
from clearinghouse.protocol.packet import HANDLING_MEANINGS

__all__ = [
    "CHUNK_ROWS",
    "COLUMNS",
    "CSV",
    "FORMATS",
    "GEOJSON",
    "XLSX",
    "XLSX_SHEET_ROWS",
    "Cell",
    "Column",
    "ExportFormat",
    "csv_chunks",
    "geojson_chunks",
    "neutralise_formula",
    "write_xlsx",
]

#: What a column's getter returns; each format renders it (see the module docstring).
Cell = str | int | float | datetime | Mapping[str, Any] | None


@dataclass(frozen=True)
class ExportFormat:
    """How an export is served: its media type and its file name extension."""

    media_type: str
    extension: str


#: RFC 4180 section 3: text/csv with its optional ``charset`` and ``header`` parameters.
CSV: Final = ExportFormat("text/csv; charset=utf-8; header=present", ".csv")
XLSX: Final = ExportFormat(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"
)
#: RFC 7946 section 12.
GEOJSON: Final = ExportFormat("application/geo+json", ".geojson")
FORMATS: Final[Mapping[str, ExportFormat]] = {"csv": CSV, "xlsx": XLSX, "geojson": GEOJSON}

#: Rows per chunk yielded by the streaming formats: a few hundred lines of text.
CHUNK_ROWS: Final = 500
#: Data rows per worksheet: Excel's 1,048,576 rows less the two header rows.
XLSX_SHEET_ROWS: Final = 1_048_576 - 2
#: Excel holds at most 32,767 characters in a cell; longer text is cut with "…".
_XLSX_CELL_CHARS: Final = 32_767
#: OWASP's formula triggers, and NUL (ASVS 1.2.10).
_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\0")


@dataclass(frozen=True)
class Column:
    """One export column: its header, its HXL hashtag with attributes, what it means."""

    name: str
    hxl: str
    meaning: str
    get: Callable[[SituationRow], Cell]


def _lat(row: SituationRow) -> float | None:
    return None if row.place is None else round(row.place.lat, 5)


def _lon(row: SituationRow) -> float | None:
    return None if row.place is None else round(row.place.lon, 5)


_CODES = "; ".join(f"{code} {meaning}" for code, meaning in HANDLING_MEANINGS.items())

COLUMNS: Final[tuple[Column, ...]] = (
    Column("country", "#country+name", "country the finding is about", lambda r: r.country),
    Column("admin1", "#adm1+name", "first-order administrative area", lambda r: r.admin1),
    Column(
        "period",
        "#date",
        "period of the finding, ISO 8601: YYYY (a year), YYYY-MM (a month), "
        "YYYY-MM/YYYY-MM (a span of months)",
        lambda r: r.period,
    ),
    Column("kind", "#meta+kind", "kind of finding (hotspot, corridor, ...)", lambda r: r.kind),
    Column("subject", "#meta+subject", "what the finding is about", lambda r: r.subject),
    Column("actor", "#group+name", "armed group, network or entity, if any", lambda r: r.actor),
    Column("level", "#severity", "level: low, medium, high or critical", lambda r: r.level),
    Column(
        "score",
        "#indicator+score+num",
        "the analyzer's score; its scale depends on the kind",
        lambda r: r.score,
    ),
    Column("events", "#event+num", "number of events counted", lambda r: r.events),
    Column("fatalities", "#affected+killed", "fatalities (best estimate)", lambda r: r.fatalities),
    Column("explanation", "#description", "the analyzer's explanation", lambda r: r.explanation),
    Column("hc", "#meta+handling+code", f"handling code: {_CODES}", lambda r: r.hc),
    Column(
        "restriction",
        "#meta+handling+restriction",
        "the originator's restriction (H3), to be kept with the finding",
        lambda r: r.hcr,
    ),
    Column(
        "participant",
        "#org+name+reporting",
        "participant that issued the result",
        lambda r: r.participant,
    ),
    Column("analyzer", "#meta+analyzer+id", "analyzer that computed it", lambda r: r.analyzer),
    Column(
        "analyzer_version",
        "#meta+analyzer+version",
        "version of the analyzer",
        lambda r: r.analyzer_version,
    ),
    Column(
        "issued_at", "#date+reported", "when the result was issued (UTC)", lambda r: r.issued_at
    ),
    Column(
        "result_jti", "#meta+result+id", "id (jti) of the signed result", lambda r: r.result_jti
    ),
    Column(
        "result_sha256",
        "#meta+result+sha256",
        "SHA-256 of the signed result as received",
        lambda r: r.result_sha256,
    ),
    Column("lat", "#geo+lat", "latitude (WGS 84) where the finding is drawn", _lat),
    Column("lon", "#geo+lon", "longitude (WGS 84) where the finding is drawn", _lon),
    Column(
        "place_precision",
        "#meta+geo+precision",
        "how the point was found: coordinates, cell (0.5-degree cells) or country",
        lambda r: None if r.place is None else r.place.precision,
    ),
    Column(
        "place_points",
        "#meta+geo+points",
        "how many held events or markets the point is the mean of",
        lambda r: None if r.place is None else r.place.points,
    ),
    Column(
        "indicators",
        "#meta+indicators",
        "the analyzer's indicators, as JSON",
        lambda r: r.indicators,
    ),
)


def neutralise_formula(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _iso_utc(moment: datetime) -> str:
    """An instant as ISO 8601 in UTC, ``Z``; a naive datetime is taken to be UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z")


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encode(text: str) -> bytes:
    # A lone surrogate (JSON can carry one) must not stop a stream half-way.
    return text.encode("utf-8", errors="replace")


# --- CSV -----------------------------------------------------------------------


def _csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, int | float):
        return value if math.isfinite(value) else ""
    return neutralise_formula(_json_text(value))


def _drain(buffer: io.StringIO) -> bytes:
    chunk = _encode(buffer.getvalue())
    buffer.seek(0)
    buffer.truncate()
    return chunk


def csv_chunks(rows: Iterable[SituationRow]) -> Iterator[bytes]:
    """The rows as UTF-8 CSV: a BOM, the header row, the HXL hashtag row, a line per row.

    Yields the header rows first, then :data:`CHUNK_ROWS` lines at a time; ``rows``
    is read as the chunks are taken. Lines end in CRLF (RFC 4180).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([column.name for column in COLUMNS])
    writer.writerow([column.hxl for column in COLUMNS])
    yield _drain(buffer)
    pending = 0
    for row in rows:
        writer.writerow([_csv_cell(column.get(row)) for column in COLUMNS])
        pending += 1
        if pending == CHUNK_ROWS:
            yield _drain(buffer)
            pending = 0
    if pending:
        yield _drain(buffer)


# --- GeoJSON -------------------------------------------------------------------


def _json_cell(value: Cell) -> Any:
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _feature(row: SituationRow, place: Place) -> str:
    point = [round(place.lon, 5), round(place.lat, 5)]  # RFC 7946 section 3.1.1: lon, lat
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": point},
        "properties": {column.name: _json_cell(column.get(row)) for column in COLUMNS},
    }
    return _json_text(feature)


def _provenance_default(value: object) -> str:
    if isinstance(value, datetime):
        return _iso_utc(value)
    raise TypeError(f"export provenance: {type(value).__name__} is not JSON")


def geojson_chunks(
    rows: Iterable[SituationRow], *, provenance: Mapping[str, Any]
) -> Iterator[bytes]:
    """The located rows as an RFC 7946 FeatureCollection of Points, streamed.

    Each feature's properties are the :data:`COLUMNS` (provenance included). The
    foreign member ``"clearinghouse"`` carries ``provenance``, the number of rows
    written (``located``) and left out for want of a place (``unlocated``), and the
    HXL hashtag of each property (``hxl``). Rows are read as the chunks are taken.

    :raises TypeError: ``provenance`` holds a value JSON cannot carry (datetimes are
        written as ISO 8601); raised here, before anything is streamed.
    """
    provenance_json = json.dumps(dict(provenance), ensure_ascii=False, default=_provenance_default)
    return _geojson_stream(rows, provenance_json)


def _geojson_stream(rows: Iterable[SituationRow], provenance_json: str) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    parts: list[str] = []
    located = unlocated = 0
    for row in rows:
        if row.place is None:
            unlocated += 1
            continue
        parts.append(("," if located else "") + _feature(row, row.place))
        located += 1
        if len(parts) == CHUNK_ROWS:
            yield _encode("".join(parts))
            parts.clear()
    hxl = _json_text({column.name: column.hxl for column in COLUMNS})
    tail = (
        f'],"clearinghouse":{{"provenance":{provenance_json},'
        f'"located":{located},"unlocated":{unlocated},"hxl":{hxl}}}}}'
    )
    yield _encode("".join(parts) + tail)


# --- XLSX ----------------------------------------------------------------------

_XLSX_WIDTHS: Final = {
    "period": 16,
    "subject": 36,
    "explanation": 60,
    "restriction": 30,
    "analyzer": 26,
    "issued_at": 20,
    "result_jti": 38,
    "result_sha256": 66,
    "indicators": 50,
}


@dataclass(frozen=True)
class _Formats:
    bold: Any
    title: Any
    hashtag: Any
    moment: Any

    @classmethod
    def of(cls, workbook: Any) -> _Formats:
        return cls(
            bold=workbook.add_format({"bold": True}),
            title=workbook.add_format({"bold": True, "font_size": 14}),
            hashtag=workbook.add_format({"italic": True, "font_color": "#595959"}),
            moment=workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        )


def _fit(text: str) -> str:
    return text if len(text) <= _XLSX_CELL_CHARS else text[: _XLSX_CELL_CHARS - 1] + "…"


def _write_cell(sheet: Any, row: int, col: int, value: Cell, formats: _Formats) -> None:
    """One typed cell: text as a string (never a formula), numbers, UTC date-times."""
    if value is None:
        return
    if isinstance(value, str):
        sheet.write_string(row, col, _fit(value))
    elif isinstance(value, datetime):
        utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        sheet.write_datetime(row, col, utc, formats.moment)
    elif isinstance(value, int | float):
        if math.isfinite(value):
            sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, _fit(_json_text(value)))


class _SituationSheets:
    """The "situation" sheet, continued on "situation 2", ... past Excel's row limit."""

    def __init__(self, workbook: Any, formats: _Formats, sheet_rows: int) -> None:
        self._workbook = workbook
        self._formats = formats
        self._limit = sheet_rows
        self.counts: list[tuple[str, int]] = []
        self.restricted = 0
        self._sheet: Any = None
        self._open("situation")

    def _open(self, name: str) -> None:
        sheet = self._workbook.add_worksheet(name)
        # constant_memory: each row is flushed when the next begins, so row by row
        for col, column in enumerate(COLUMNS):
            sheet.set_column(col, col, _XLSX_WIDTHS.get(column.name, 14))
            sheet.write_string(0, col, column.name, self._formats.bold)
        for col, column in enumerate(COLUMNS):
            sheet.write_string(1, col, column.hxl, self._formats.hashtag)
        sheet.freeze_panes(2, 0)
        self._sheet = sheet
        self.counts.append((name, 0))

    def write(self, row: SituationRow) -> None:
        name, count = self.counts[-1]
        if count == self._limit:
            self.close()
            self._open(f"situation {len(self.counts) + 1}")
            name, count = self.counts[-1]
        for col, column in enumerate(COLUMNS):
            _write_cell(self._sheet, count + 2, col, column.get(row), self._formats)
        self.counts[-1] = (name, count + 1)
        if row.restricted:
            self.restricted += 1

    def close(self) -> None:
        """Filter the current sheet; its header is the HXL row, so sorting never moves it."""
        self._sheet.autofilter(1, 0, 1 + self.counts[-1][1], len(COLUMNS) - 1)


def _write_about(
    sheet: Any,
    formats: _Formats,
    *,
    title: str,
    provenance: Mapping[str, str],
    sheets: _SituationSheets,
) -> None:
    """Title, provenance, what was written, the handling codes and the column table."""
    lines: list[tuple[str, ...] | None] = [*provenance.items()]
    lines.append(("rows", str(sum(count for _, count in sheets.counts))))
    if len(sheets.counts) > 1:
        lines.append(("sheets", "; ".join(f"{n}: {c} rows" for n, c in sheets.counts)))
    lines.append(("restricted rows", f"{sheets.restricted} (handling H1-H3: see hc)"))
    lines += [None, *HANDLING_MEANINGS.items(), None]
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 1, 32)
    sheet.set_column(2, 2, 80)
    sheet.write_string(0, 0, title, formats.title)
    row = 2
    for line in lines:
        for col, text in enumerate(line or ()):
            sheet.write_string(row, col, text, formats.bold if col == 0 else None)
        row += 1
    table = [("column", "HXL hashtag", "meaning")]
    table += [(column.name, column.hxl, column.meaning) for column in COLUMNS]
    for offset, cells in enumerate(table):
        for col, text in enumerate(cells):
            sheet.write_string(row + offset, col, text, formats.bold if offset == 0 else None)


def write_xlsx(
    rows: Iterable[SituationRow],
    path: Path,
    *,
    title: str,
    provenance: Mapping[str, str],
    sheet_rows: int = XLSX_SHEET_ROWS,
) -> None:
    """Write the rows to ``path`` as a workbook, in XlsxWriter's constant-memory mode.

    Sheet "situation": the header row (bold), the HXL row, one typed row per finding
    (see the module docstring), panes frozen under the two header rows and an
    autofilter. Past ``sheet_rows`` data rows the rows go on in "situation 2", ...
    (after "about" in the tab order, since the rows are streamed). Sheet "about":
    ``title``, ``provenance`` (node, exported_at, filters, count: as the caller
    states them), the rows written, the handling codes and the column, hashtag and
    meaning of each column. Rows are flushed as they are written; XlsxWriter's
    temporary files go next to ``path``.

    :raises OSError: ``path`` cannot be written, or the workbook outgrows ZIP32.
    :raises ValueError: ``sheet_rows`` is less than 1.
    """
    if sheet_rows < 1:
        raise ValueError(f"sheet_rows must be at least 1, not {sheet_rows}")
    options = {
        "constant_memory": True,
        "tmpdir": str(path.parent),
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    try:
        with xlsxwriter.Workbook(str(path), options) as workbook:
            formats = _Formats.of(workbook)
            sheets = _SituationSheets(workbook, formats, sheet_rows)
            about = workbook.add_worksheet("about")
            for row in rows:
                sheets.write(row)
            sheets.close()
            _write_about(about, formats, title=title, provenance=provenance, sheets=sheets)
    except XlsxFileError as exc:
        raise OSError(f"cannot write the workbook {path}: {exc}") from exc
