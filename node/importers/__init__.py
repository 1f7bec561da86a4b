"""Importers of real published data into records of the shared schemas.

=========================  =======================  ===========================
file                       module                   schema
=========================  =======================  ===========================
UCDP GED (19.1 / global)   :mod:`.ucdp`             ``conflict-event/1``
WFP food prices (HDX)      :mod:`.wfp`              ``market-price/1``
UNODC drug seizures        :mod:`.unodc`            ``seizure/1`` (annual totals)
=========================  =======================  ===========================

Each importer follows its source's codebook: every value the source documents is
accepted, unknowns it codes as negative numbers become absent fields, and a row is
refused only when a field the schema truly needs is unusable, with the line, the
column and the reason (``docs/analysis.md``, "Importers").

``IMPORTERS`` maps each schema id to its streaming reader (which raises at the
first refused row); each module's ``read_items`` goes on past refused rows,
yielding ``(line, record or RowRejected)``, and :class:`ImportCounts` counts rows
read, accepted and refused by reason. :func:`detect` tells from a file's header
line (or, for WFP, its HXL row) which importer reads it. Errors: see :mod:`._errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from clearinghouse.node.importers import ucdp, unodc, wfp
from clearinghouse.node.importers._counts import ImportCounts
from clearinghouse.node.importers._errors import ImportFailed, RowRejected, UnknownFormat
from clearinghouse.node.importers._reading import first_rows, is_hxl_row

__all__ = [
    "IMPORTERS",
    "ImportCounts",
    "ImportFailed",
    "Reader",
    "RowRejected",
    "UnknownFormat",
    "detect",
]

Reader = Callable[[str | Path], Iterator[dict[str, Any]]]

IMPORTERS: Mapping[str, Reader] = MappingProxyType(
    {
        ucdp.SCHEMA: ucdp.read_events,
        unodc.SCHEMA: unodc.read_seizures,
        wfp.SCHEMA: wfp.read_prices,
    }
)

_MARKERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (ucdp.SCHEMA, "UCDP GED", ucdp.HEADER_MARKERS),
    (unodc.SCHEMA, "UNODC drug seizures", unodc.HEADER_MARKERS),
    (wfp.SCHEMA, "WFP food prices (HDX)", wfp.HEADER_MARKERS),
)


def detect(path: str | Path) -> str:
    """The schema id whose importer reads ``path``, recognised by its header line.

    Raises :class:`UnknownFormat` if the header is none of the known layouts and
    :class:`RowRejected` if the file cannot be read.
    """
    head = first_rows(path, 2)
    header = set(head[0]) if head else set()
    for schema, _, markers in _MARKERS:
        if header.issuperset(markers):
            return schema
    if len(head) > 1 and is_hxl_row(head[1]) and wfp.is_price_hxl(head[1]):
        return wfp.SCHEMA
    known = "; ".join(f"{name}: {', '.join(markers)}" for _, name, markers in _MARKERS)
    shown = ", ".join(sorted(header)) or "(empty)"
    raise UnknownFormat(
        f"{path}: header ({shown}) matches no known layout; expected columns of {known}"
    )
