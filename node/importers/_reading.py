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
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from node.importers._errors import ImportFailed, RowRejected
from protocol.errors import SchemaViolation
from protocol.schemas import SchemaSpec

__all__ = [
    "boolean",
    "header_of",
    "integer",
    "integers",
    "iso_date",
    "number",
    "open_text",
    "read_rows",
    "text",
    "validated",
]

_GZIP_MAGIC = b"\x1f\x8b"
# "2016-01-01", or with a time part as the global GED writes it: "2016-01-01 00:00:00.000".
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$")
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
                raise RowRejected(1, "the file is empty")
            line = reader.line_num
            missing = [name for name in required if name not in header]
            if missing:
                raise RowRejected(1, "missing from the header", column=", ".join(missing))
            for cells in reader:
                start, line = line + 1, reader.line_num
                if skip_hxl and start == 2 and cells and cells[0].startswith("#"):
                    continue
                if not any(cells):
                    continue
                if len(cells) != len(header):
                    raise RowRejected(
                        start, f"expected {len(header)} cells as in the header, found {len(cells)}"
                    )
                yield start, dict(zip(header, cells, strict=True))
        except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
            raise RowRejected(line + 1, f"unreadable CSV: {exc}") from exc
        except OSError as exc:  # e.g. a truncated gzip stream
            raise RowRejected(line + 1, f"unreadable file: {exc}") from exc


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
    raise RowRejected(line, f"{value!r} is not an integer", column=column)


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
        raise RowRejected(line, f"{value!r} is not a number", column=column) from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise RowRejected(line, f"{value!r} is not a finite number", column=column)
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
    raise RowRejected(line, f"{value!r} is not 0/1 or true/false", column=column)


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
        raise RowRejected(line, f"{value!r} is not a date (YYYY-MM-DD)", column=column) from None


def validated(
    spec: SchemaSpec,
    record: dict[str, Any],
    line: int | None,
    columns: Mapping[str, str],
) -> dict[str, Any]:
    """``spec.validate_record(record)``, a violation raised as :class:`RowRejected`.

    ``columns`` maps a record field (or a dotted path into it) to the file's
    column, so that the error names the column the user can fix.
    """
    try:
        return spec.validate_record(record)
    except SchemaViolation as exc:
        column = None
        cause = exc.__cause__
        if isinstance(cause, ValidationError) and cause.errors():
            loc = [str(part) for part in cause.errors()[0]["loc"]]
            for depth in range(len(loc), 0, -1):
                column = columns.get(".".join(loc[:depth]))
                if column is not None:
                    break
        raise RowRejected(line, exc.message, column=column) from exc
