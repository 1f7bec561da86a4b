"""Read a file of records for ingest, row by row, never stopping at a bad row.

Formats: ``ucdp-ged`` (UCDP GED CSV, 19.1 or global layout), ``wfp-prices`` (HDX
WFP CSV), ``unodc-seizures`` (UNODC CSV), ``jsonl`` (one JSON record a line),
``json`` (one array of records) and ``csv`` (columns named as the schema's fields;
``a.b`` columns fill nested objects; cells converted to the field's type).
Each item is ``(where, record)`` or ``(where, RowRejected)``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clearinghouse.node.importers import ucdp, unodc, wfp
from clearinghouse.node.importers._errors import ImportFailed, RowRejected
from clearinghouse.node.importers._reading import open_text
from clearinghouse.protocol.schemas import get_schema

__all__ = ["FORMATS", "read_records"]

FORMATS = ("ucdp-ged", "wfp-prices", "unodc-seizures", "jsonl", "json", "csv")
Item = tuple[int, dict[str, Any] | RowRejected]

_CSV_IMPORTERS: dict[str, Callable[[Path], Iterator[Item]]] = {
    "ucdp-ged": ucdp.read_items,
    "unodc-seizures": unodc.read_items,
}


def read_records(
    path: Path, fmt: str, schema: str, *, country: str | None = None
) -> Iterator[Item]:
    """Yield ``(line, record or RowRejected)``; raise :class:`ImportFailed` if unreadable.

    ``country`` (ISO3) is the country of a ``wfp-prices`` file that does not say it
    (:func:`wfp.unplaced`); no other format takes one."""
    if country is not None and fmt != "wfp-prices":
        raise ImportFailed(f"a country is given only with wfp-prices files, not {fmt}")
    if fmt == "wfp-prices":
        yield from wfp.read_items(path, country_code=country)
    elif fmt in _CSV_IMPORTERS:
        yield from _CSV_IMPORTERS[fmt](path)
    elif fmt == "jsonl":
        yield from _jsonl(path)
    elif fmt == "json":
        yield from _json_array(path)
    elif fmt == "csv":
        yield from _generic_csv(path, schema)
    else:
        raise ImportFailed(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _jsonl(path: Path) -> Iterator[Item]:
    with open_text(path) as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                yield line, RowRejected(line, f"not JSON: {exc}", rule="not JSON")
                continue
            if isinstance(value, dict):
                yield line, value
            else:
                yield line, RowRejected(line, "a record is a JSON object", rule="not a JSON object")


def _json_array(path: Path) -> Iterator[Item]:
    try:
        with open_text(path) as handle:
            value = json.load(handle)
    except ValueError as exc:
        raise ImportFailed(f"{path} is not JSON: {exc}") from exc
    if not isinstance(value, list):
        raise ImportFailed(f"{path}: expected a JSON array of records")
    for index, item in enumerate(value):
        yield index, item if isinstance(item, dict) else RowRejected(index, "not a JSON object")


def _generic_csv(path: Path, schema: str) -> Iterator[Item]:
    model = get_schema(schema).model
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            line = reader.line_num
            record: dict[str, Any] = {}
            for column, cell in row.items():
                if column is None or cell is None or cell.strip() == "":
                    continue
                target = record
                *parents, leaf = column.strip().split(".")
                for parent in parents:
                    target = target.setdefault(parent, {})
                target[leaf] = cell.strip()
            try:
                # Lax validation converts the CSV text to each field's type.
                typed = model.model_validate(record, strict=False)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                column = ".".join(str(p) for p in first["loc"])
                yield line, RowRejected(line, first["msg"], column=column, rule=first["msg"])
                continue
            yield line, typed.model_dump(mode="json", exclude_none=True)
