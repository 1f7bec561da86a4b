"""The offline audit tool: a node's whole audit log, read, exported and checked end to end.

What ``clearinghouse audit`` and outside auditors run, apart from any node's workers.
A log is read, streamed (memory does not grow with the log), as a
:class:`~.log.Log`: a header and its entries and checkpoints in log order, from

* the node's database, read only (:func:`~.database.open_database`);
* the running node, over ``/v1/audit`` with an auditor's token
  (:func:`~.node_source.open_node_log`; the HTTP is
  :mod:`node.transport.audit_client`); :func:`~.node_source.fetch_checkpoint` gets
  its latest signed checkpoint;
* a bundle file, offline (:func:`~.bundle.open_bundle`), which
  :func:`~.bundle.write_bundle` writes from either of the others.

:func:`~.verify.verify_log` checks a log against a manifest's keys and each key's
validity when it signed; :func:`~.verify.check_checkpoint` checks one signed note.

Errors (:mod:`.errors`), each with the exit code the CLI gives it::

    AuditToolError           exit_code
    ├── AccessFailed         2  a database, node or file that cannot be read or written
    ├── CannotBeMet          2  a requirement no log can meet under its manifest
    ├── LogMalformed         1  readable, but not a log in the expected format (``.line``)
    └── VerificationFailed   1  the log does not verify (``.seq``: the first bad entry)
"""

from clearinghouse.node.audit_tool.bundle import FORMAT, ExportSummary, open_bundle, write_bundle
from clearinghouse.node.audit_tool.database import open_database
from clearinghouse.node.audit_tool.errors import (
    AccessFailed,
    AuditToolError,
    CannotBeMet,
    LogMalformed,
    VerificationFailed,
)
from clearinghouse.node.audit_tool.log import Log, LogHeader, StoredCheckpoint, StoredEntry
from clearinghouse.node.audit_tool.node_source import fetch_checkpoint, open_node_log
from clearinghouse.node.audit_tool.verify import (
    ALL_WITNESSES,
    CheckedNote,
    Summary,
    check_checkpoint,
    read_manifest,
    verify_log,
)
from clearinghouse.protocol.key_use import KeyUse, KeyUseReport

__all__ = [
    "ALL_WITNESSES",
    "FORMAT",
    "AccessFailed",
    "AuditToolError",
    "CannotBeMet",
    "CheckedNote",
    "ExportSummary",
    "KeyUse",
    "KeyUseReport",
    "Log",
    "LogHeader",
    "LogMalformed",
    "StoredCheckpoint",
    "StoredEntry",
    "Summary",
    "VerificationFailed",
    "check_checkpoint",
    "fetch_checkpoint",
    "open_bundle",
    "open_database",
    "open_node_log",
    "read_manifest",
    "verify_log",
    "write_bundle",
]
