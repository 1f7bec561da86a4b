"""The audit tool's errors, each with the exit code ``clearinghouse audit`` gives it.

::

    AuditToolError           exit_code
    ├── AccessFailed         2  a database, node or file that cannot be read or written
    ├── CannotBeMet          2  a requirement no log can meet under its manifest
    ├── LogMalformed         1  readable, but not a log in the expected format (``.line``)
    └── VerificationFailed   1  the log does not verify (``.seq``: the first bad entry)
"""

from __future__ import annotations

__all__ = ["AccessFailed", "AuditToolError", "CannotBeMet", "LogMalformed", "VerificationFailed"]


class AuditToolError(Exception):
    """Base of the audit tools' errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccessFailed(AuditToolError):
    """A database, node or file that cannot be read (or a bundle that cannot be written)."""

    exit_code = 2


class CannotBeMet(AuditToolError):
    """What the auditor asks of the log cannot be met under its manifest (more witness
    cosignatures than the manifest assigns the log witnesses): a usage problem, not a
    verdict on the log."""

    exit_code = 2


class LogMalformed(AuditToolError):
    """Readable, but not an audit log in the expected format; ``line``: the bundle line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class VerificationFailed(AuditToolError):
    """The log does not verify. ``seq`` is the first bad entry (None: not one entry);
    ``entries_checked`` and ``checkpoints_checked`` say how much checked out before."""

    def __init__(
        self,
        message: str,
        *,
        seq: int | None = None,
        entries_checked: int = 0,
        checkpoints_checked: int = 0,
    ) -> None:
        super().__init__(message)
        self.seq = seq
        self.entries_checked = entries_checked
        self.checkpoints_checked = checkpoints_checked
