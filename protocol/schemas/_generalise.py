"""Derivation helpers shared by the record schemas (DESIGN.md, "Packets").

Every schema's :class:`~protocol.schemas._spec.Derivation` computes its claim with
one of these pure functions of a field's JSON value:

* generalisers return a coarser value of the same field: :func:`month` (an ISO
  date to ``"YYYY-MM"``), :func:`grid_cell` (a coordinate to the centre of its
  0.5-degree PRIO-GRID cell), :func:`magnitude_band` (an amount to its order of
  magnitude), :func:`fatality_band` (a ``deaths`` object to a band of its best
  estimate);
* identifier normalisers return the string that :mod:`protocol.packet` hashes
  into a pseudonym, so that spellings of the same identifier link:
  :func:`name_identifier` (names) and :func:`account_identifier` (account numbers).

``None`` (an absent field) maps to ``None``: no derived claim is added. A value
of the wrong kind raises :class:`~protocol.errors.SchemaViolation`; records are
validated before anything is derived, so that means a caller bypassed validation.
The ``*_TYPE`` constants are the derived claims' types, used to validate views.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from clearinghouse.protocol.errors import SchemaViolation
from clearinghouse.protocol.schemas._spec import Derivation

__all__ = [
    "CELL_SIZE",
    "FATALITY_BANDS",
    "LATITUDE_CELL_TYPE",
    "LONGITUDE_CELL_TYPE",
    "MAGNITUDE_BAND_TYPE",
    "MONTH_TYPE",
    "PSEUDONYM_LIST_TYPE",
    "PSEUDONYM_TYPE",
    "FatalityBand",
    "account_identifier",
    "coordinate_cells",
    "fatality_band",
    "grid_cell",
    "latitude_cell",
    "longitude_cell",
    "magnitude_band",
    "month",
    "month_of",
    "name_identifier",
    "name_identifiers",
]

#: Side of a PRIO-GRID cell, in degrees.
CELL_SIZE = 0.5

FatalityBand = Literal["0", "1-4", "5-24", "25-99", "100-999", "1000+"]
#: Lower bounds of the fatality bands, highest first.
FATALITY_BANDS: tuple[tuple[int, FatalityBand], ...] = (
    (1000, "1000+"),
    (100, "100-999"),
    (25, "25-99"),
    (5, "5-24"),
    (1, "1-4"),
    (0, "0"),
)

MONTH_TYPE = Annotated[
    str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Calendar month, YYYY-MM.")
]
LATITUDE_CELL_TYPE = Annotated[
    float,
    Field(ge=-90, le=90, description="Latitude of the centre of the 0.5-degree grid cell."),
]
LONGITUDE_CELL_TYPE = Annotated[
    float,
    Field(ge=-180, le=180, description="Longitude of the centre of the 0.5-degree grid cell."),
]
MAGNITUDE_BAND_TYPE = Annotated[
    str,
    Field(
        pattern=r"^(0|1e-?\d+-1e-?\d+)$",
        description='Order of magnitude: "0", or "1eN-1eM" with M = N + 1 (lower bound included).',
    ),
]
PSEUDONYM_TYPE = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{43}$",
        description="Keyed hash of the normalised identifier: HMAC-SHA-256 under the "
        "pseudonymisation key, base64url without padding (protocol.packet.pseudonym).",
    ),
]
PSEUDONYM_LIST_TYPE = list[PSEUDONYM_TYPE]

_WHITESPACE = re.compile(r"\s+")
_ACCOUNT_SEPARATORS = re.compile(r"[\s\-./]+")


def month(value: Any) -> str | None:
    """``"2016-01-31"`` -> ``"2016-01"``: the calendar month of an ISO date."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaViolation(f"month: expected an ISO date string, got {value!r}")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise SchemaViolation(f"month: {value!r} is not an ISO date") from exc
    return f"{parsed.year:04d}-{parsed.month:02d}"


def grid_cell(value: Any, *, limit: float) -> float | None:
    """Centre of the 0.5-degree cell containing a coordinate (34.802 -> 34.75).

    Cells are aligned on whole degrees as in PRIO-GRID; a coordinate on a cell
    edge belongs to the cell above it, except the upper ``limit`` itself, which
    belongs to the last cell (90 -> 89.75). All results are exact in binary.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SchemaViolation(f"grid cell: expected a number, got {value!r}")
    if not -limit <= value <= limit:
        raise SchemaViolation(f"grid cell: {value!r} is outside -{limit}..{limit}")
    index = min(math.floor(value / CELL_SIZE), int(limit / CELL_SIZE) - 1)
    return index * CELL_SIZE + CELL_SIZE / 2


def latitude_cell(value: Any) -> float | None:
    """Latitude of the centre of its 0.5-degree cell (-90..90)."""
    return grid_cell(value, limit=90)


def longitude_cell(value: Any) -> float | None:
    """Longitude of the centre of its 0.5-degree cell (-180..180)."""
    return grid_cell(value, limit=180)


def magnitude_band(value: Any) -> str | None:
    """Order of magnitude of a non-negative amount: 0 -> ``"0"``, 250.5 -> ``"1e2-1e3"``.

    Computed from the decimal form of the number (no floating-point logarithm),
    so 1000 -> ``"1e3-1e4"`` and 0.05 -> ``"1e-2-1e-1"`` exactly.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SchemaViolation(f"magnitude band: expected a number, got {value!r}")
    if value < 0:
        raise SchemaViolation(f"magnitude band: {value!r} is negative")
    if value == 0:
        return "0"
    exponent = Decimal(repr(value)).adjusted()
    return f"1e{exponent}-1e{exponent + 1}"


def fatality_band(value: Any) -> FatalityBand | None:
    """Band of a ``deaths`` object's best estimate: 0, 1-4, 5-24, 25-99, 100-999, 1000+.

    ``None`` when the object or its ``best`` is absent.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SchemaViolation(f"fatality band: expected a deaths object, got {value!r}")
    best = value.get("best")
    if best is None:
        return None
    if isinstance(best, bool) or not isinstance(best, int) or best < 0:
        raise SchemaViolation(f"fatality band: best must be an integer >= 0, got {best!r}")
    for lower, band in FATALITY_BANDS:
        if best >= lower:
            return band
    raise AssertionError("unreachable: the last band starts at 0")


def name_identifier(value: Any) -> str | None:
    """A name as hashed for its pseudonym: NFKC, case-folded, whitespace collapsed.

    ``"Government  of Syria "`` and ``"government of syria"`` give the same pseudonym.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaViolation(f"identifier: expected a string, got {value!r}")
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()


def name_identifiers(value: Any) -> list[str] | None:
    """:func:`name_identifier` of each element of a list of names."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise SchemaViolation(f"identifiers: expected a list of strings, got {value!r}")
    return [name_identifier(item) or "" for item in value]


def account_identifier(value: Any) -> str | None:
    """An account number as hashed for its pseudonym: NFKC, case-folded, no separators.

    ``"DE89 3704-0044"`` and ``"de8937040044"`` give the same pseudonym.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaViolation(f"identifier: expected a string, got {value!r}")
    return _ACCOUNT_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).casefold()


def month_of(source: str, what: str) -> Derivation:
    """The ``month`` claim (YYYY-MM) generalising the date field ``source``."""
    return Derivation(
        claim="month",
        source=source,
        treatment="generalise",
        compute=month,
        claim_type=MONTH_TYPE,
        description=f"Month of {what}, YYYY-MM.",
    )


def coordinate_cells() -> tuple[Derivation, Derivation]:
    """``latitude_cell`` and ``longitude_cell``: the 0.5-degree cell of the coordinates."""
    return (
        Derivation(
            claim="latitude_cell",
            source="latitude",
            treatment="generalise",
            compute=latitude_cell,
            claim_type=LATITUDE_CELL_TYPE,
            description="Latitude of the centre of the 0.5-degree PRIO-GRID cell.",
        ),
        Derivation(
            claim="longitude_cell",
            source="longitude",
            treatment="generalise",
            compute=longitude_cell,
            claim_type=LONGITUDE_CELL_TYPE,
            description="Longitude of the centre of the 0.5-degree PRIO-GRID cell.",
        ),
    )
