"""The importers' exception tree.

Every failure to read a data file raises one of these, so that the CLI and the
local ingest API can report it (``code`` is machine-readable, ``status`` the HTTP
status a request carrying the file would get). Both are ``ValueError``\\ s: a bad
file is a bad value.

    ImportFailed(ValueError)
    ├── RowRejected      one row cannot become a valid record: line, column, reason
    └── UnknownFormat    the file's header matches none of the known layouts
"""

from __future__ import annotations

__all__ = ["ImportFailed", "RowRejected", "UnknownFormat"]


class ImportFailed(ValueError):
    """Base of every importer failure."""

    code = "import-failed"
    status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RowRejected(ImportFailed):
    """A row (or the header) of a data file cannot become a valid record.

    ``line`` is the 1-based physical line the row starts on (``None`` when the
    row did not come from a file), ``column`` the file's column at fault when
    one is, and ``reason`` what is wrong with it (with the offending value).
    ``rule`` is the reason without the value ("not a number", "not a value the
    codebook lists"), so that refusals can be counted by reason
    (:class:`~node.importers.ImportCounts`); it defaults to ``reason``.
    """

    code = "row-rejected"

    def __init__(
        self,
        line: int | None,
        reason: str,
        *,
        column: str | None = None,
        rule: str | None = None,
    ) -> None:
        where = f"line {line}" if line is not None else "row"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason
        self.rule = rule or reason

    @property
    def counted_as(self) -> str:
        """The key this refusal is counted under: the column and the rule, no value."""
        return f"column {self.column!r}: {self.rule}" if self.column else self.rule


class UnknownFormat(ImportFailed):
    """The file is none of the layouts the importers read."""

    code = "unknown-format"
    status = 415
