"""Reading CSV data files row by row, and turning their cells into JSON values.

Shared by the importers: opening plain or gzip files (told apart by their magic
bytes, not their names), streaming rows with the physical line each starts on,
and parsing one cell into the JSON value a record holds (empty -> absent). Every
failure of a row raises :class:`RowRejected` naming the line and the column; a schema
violation of the finished record is translated the same way by :func:`validated`.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from clearinghouse.node.importers._errors import ImportFailed, RowRejected
from clearinghouse.protocol.errors import SchemaViolation
from clearinghouse.protocol.schemas import SchemaSpec

__all__ = [
    "boolean",
    "first_rows",
    "header_of",
    "integer",
    "integers",
    "is_hxl_row",
    "iso_date",
    "number",
    "open_text",
    "read_cells",
    "read_items",
    "read_rows",
    "text",
    "validated",
]

_GZIP_MAGIC = b"\x1f\x8b"
# "2016-01-01", or with a time part as the global GED writes it: "2016-01-01 00:00:00.000".
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$")
_DATES_IN_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})


def open_text(path: str | Path) -> TextIO:
    """Open a UTF-8 CSV file, gzip-compressed or not, dropping a byte-order mark."""
    path = Path(path)
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if compressed:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def header_of(path: str | Path) -> list[str]:
    """The column names on the first line of a CSV file (empty for an empty file)."""
    try:
        with open_text(path) as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise ImportFailed(f"cannot read the header of {path}: {exc}") from exc


def read_rows(
    path: str | Path, *, required: tuple[str, ...], skip_hxl: bool = False
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` for each data row; ``line`` is where the row starts.

    The first line holds the column names, which must include ``required``. With
    ``skip_hxl`` a second line of HXL hashtags (``#date,#adm1+name,...``) is skipped.
    Raises :class:`RowRejected` for a missing column, a row with the wrong number
    of cells, or a file that is not UTF-8 CSV, and :class:`ImportFailed` if the
    file cannot be opened.
    """
    for line, row in read_cells(path, required=required, skip_hxl=skip_hxl):
        if isinstance(row, RowRejected):
            raise row
        yield line, row


def read_cells(
    path: str | Path, *, required: tuple[str, ...] = (), skip_hxl: bool = False
) -> Iterator[tuple[int, dict[str, str] | RowRejected]]:
    """Like :func:`read_rows`, but a row with the wrong number of cells is yielded as
    a :class:`RowRejected` and reading goes on; a missing column or a file that is
    not UTF-8 CSV is yielded as one and reading stops (nothing after it can be read).
    Raises :class:`ImportFailed` if the file cannot be opened.
    """
    try:
        handle = open_text(path)
    except OSError as exc:
        raise ImportFailed(f"cannot open {path}: {exc}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        line = 1
        try:
            header = next(reader, None)
            if header is None:
                yield 1, RowRejected(1, "the file is empty", rule="empty file")
                return
            line = reader.line_num
            missing = [name for name in required if name not in header]
            if missing:
                yield (
                    1,
                    RowRejected(
                        1,
                        "missing from the header",
                        column=", ".join(missing),
                        rule="missing from the header",
                    ),
                )
                return
            for cells in reader:
                start, line = line + 1, reader.line_num
                if skip_hxl and start == 2 and is_hxl_row(cells):
                    continue
                if not any(cells):
                    continue
                if len(cells) != len(header):
                    yield (
                        start,
                        RowRejected(
                            start,
                            f"expected {len(header)} cells as in the header, found {len(cells)}",
                            rule="wrong number of cells",
                        ),
                    )
                    continue
                yield start, dict(zip(header, cells, strict=True))
        except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
            yield line + 1, RowRejected(line + 1, f"unreadable CSV: {exc}", rule="unreadable CSV")
        except OSError as exc:  # e.g. a truncated gzip stream
            yield line + 1, RowRejected(line + 1, f"unreadable file: {exc}", rule="unreadable file")


def read_items(
    path: str | Path,
    make: Callable[[dict[str, str], int], dict[str, Any]],
    *,
    required: tuple[str, ...] = (),
) -> Iterator[tuple[int, dict[str, Any] | RowRejected]]:
    """``(line, record or RowRejected)`` for every row of a CSV file: ``make(row, line)``
    turns a row into a record or raises :class:`RowRejected`, and reading goes on past
    refused rows (see :func:`read_cells`)."""
    for line, row in read_cells(path, required=required):
        if isinstance(row, RowRejected):
            yield line, row
            continue
        try:
            yield line, make(row, line)
        except RowRejected as refused:
            yield line, refused


def first_rows(path: str | Path, count: int) -> list[list[str]]:
    """The first ``count`` rows of a CSV file (fewer if it is shorter)."""
    try:
        with open_text(path) as handle:
            reader = csv.reader(handle)
            return [row for _, row in zip(range(count), reader, strict=False)]
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise ImportFailed(f"cannot read the first lines of {path}: {exc}") from exc


def is_hxl_row(cells: list[str]) -> bool:
    """Whether ``cells`` is a row of HXL hashtags: every non-empty cell starts with ``#``."""
    filled = [cell.strip() for cell in cells if cell.strip()]
    return bool(filled) and all(cell.startswith("#") for cell in filled)


def text(row: Mapping[str, str], column: str) -> str | None:
    """The cell with surrounding whitespace removed; ``None`` if empty or absent."""
    value = row.get(column)
    if value is None:
        return None
    value = value.strip()
    return value or None


def integer(row: Mapping[str, str], column: str, line: int | None) -> int | None:
    """An integer cell ("652"; "652.0" as some exports write integers)."""
    value = text(row, column)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        as_float = float(value)
    except ValueError:
        as_float = float("nan")
    if as_float.is_integer():
        return int(as_float)
    raise RowRejected(line, f"{value!r} is not an integer", column=column, rule="not an integer")


def integers(row: Mapping[str, str], column: str, line: int | None) -> list[int] | None:
    """A cell of integers separated by commas or semicolons ("2, 365")."""
    value = text(row, column)
    if value is None:
        return None
    numbers = []
    for part in re.split(r"[,;]", value):
        parsed = integer({column: part}, column, line)
        if parsed is not None:
            numbers.append(parsed)
    return numbers


def number(row: Mapping[str, str], column: str, line: int | None) -> float | None:
    """A finite decimal number cell."""
    value = text(row, column)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise RowRejected(
            line, f"{value!r} is not a number", column=column, rule="not a number"
        ) from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise RowRejected(
            line, f"{value!r} is not a finite number", column=column, rule="not a finite number"
        )
    return parsed


def boolean(row: Mapping[str, str], column: str, line: int | None) -> bool | None:
    """A 0/1 or true/false cell."""
    value = text(row, column)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise RowRejected(
        line, f"{value!r} is not 0/1 or true/false", column=column, rule="not 0/1 or true/false"
    )


def iso_date(row: Mapping[str, str], column: str, line: int | None) -> str | None:
    """An ISO date cell, with or without a time part; returned as ``YYYY-MM-DD``."""
    value = text(row, column)
    if value is None:
        return None
    match = _DATE.match(value)
    try:
        if match is None:
            raise ValueError(value)
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        raise RowRejected(
            line, f"{value!r} is not a date (YYYY-MM-DD)", column=column, rule="not a date"
        ) from None


def validated(
    spec: SchemaSpec,
    record: dict[str, Any],
    line: int | None,
    columns: Mapping[str, str],
    *,
    needs: Mapping[str, str] | None = None,
    unknown: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``spec.validate_record(record)``, a violation raised as :class:`RowRejected`.

    ``columns`` maps a record field (or a dotted path into it) to the file's
    column, so that the error names the column the user can fix. When a field
    the schema requires is absent, the reason says why the schema needs it
    (``needs``: field -> why) and, if the cell held the source's code for
    "unknown" (``unknown``: field -> the cell as written), that it did.
    """
    try:
        return spec.validate_record(record)
    except SchemaViolation as exc:
        column = field = None
        reason, rule = exc.message, exc.message
        cause = exc.__cause__
        if isinstance(cause, ValidationError) and cause.errors():
            first = cause.errors()[0]
            loc = [str(part) for part in first["loc"]]
            for depth in range(len(loc), 0, -1):
                field = ".".join(loc[:depth])
                column = columns.get(field)
                if column is not None:
                    break
            rule = _DATES_IN_TEXT.sub("<date>", str(first["msg"]))
            if first["type"] == "missing" and field is not None:
                why = (needs or {}).get(field, "the schema requires it")
                cell = (unknown or {}).get(field)
                if cell is not None:
                    reason = (
                        f"{cell!r} is the source's code for an unknown value, but {spec.id} "
                        f"needs {field}: {why}"
                    )
                    rule = "unknown where the schema needs a value"
                else:
                    reason = f"empty, but {spec.id} needs {field}: {why}"
                    rule = "empty where the schema needs a value"
        raise RowRejected(line, reason, column=column, rule=rule) from exc
