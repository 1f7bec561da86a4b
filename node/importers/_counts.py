"""What became of a file's rows: read, accepted, refused by reason.

``clearinghouse ingest`` and ``clearinghouse analyze`` keep one
:class:`ImportCounts` while they read a file and print it at the end, so that a
user sees at once whether every row of the file reached the node or the analyzer,
and if not, why::

    rows read 16566, accepted 16560, refused 6
      refused 4: column 'latitude': not a number
      refused 2: node refused: duplicate

A refusal by the importer is counted under :attr:`RowRejected.counted_as` (the
column and the rule, without the offending value, so that equal causes add up);
a record the node refused after the importer accepted it, under ``node refused:
<code>``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from clearinghouse.node.importers._errors import RowRejected

__all__ = ["ImportCounts"]


@dataclass
class ImportCounts:
    """Rows read, accepted and refused (by reason) while importing one file."""

    read: int = 0
    accepted: int = 0
    refused_by: Counter[str] = field(default_factory=Counter)

    @property
    def refused(self) -> int:
        return sum(self.refused_by.values())

    def row(self, item: object) -> None:
        """Count one row read; a :class:`RowRejected` is counted as refused, anything
        else as accepted (use :meth:`read_only` when acceptance is decided later)."""
        self.read += 1
        if isinstance(item, RowRejected):
            self.refuse(item.counted_as)
        else:
            self.accepted += 1

    def read_only(self, item: object) -> None:
        """Count one row read, refused if it is a :class:`RowRejected`; acceptance is
        counted later with :meth:`accept` (e.g. when the node has answered)."""
        self.read += 1
        if isinstance(item, RowRejected):
            self.refuse(item.counted_as)

    def accept(self, count: int = 1) -> None:
        self.accepted += count

    def refuse(self, reason: str, count: int = 1) -> None:
        self.refused_by[reason] += count

    def as_json(self) -> dict[str, Any]:
        """``{"read": n, "accepted": n, "refused": n, "refused_by": {reason: n}}``."""
        return {
            "read": self.read,
            "accepted": self.accepted,
            "refused": self.refused,
            "refused_by": dict(sorted(self.refused_by.items())),
        }

    def lines(self) -> list[str]:
        """The counts as text: a total line, then one line per refusal reason (most
        frequent first, ties by reason)."""
        out = [f"rows read {self.read}, accepted {self.accepted}, refused {self.refused}"]
        ranked = sorted(self.refused_by.items(), key=lambda item: (-item[1], item[0]))
        out += [f"  refused {count}: {reason}" for reason, count in ranked]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
