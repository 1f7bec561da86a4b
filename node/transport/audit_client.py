"""A node's audit log as it serves it (``/v1/audit``, a bearer token of role auditor).

The HTTP side of the audit tool's reader (:mod:`node.audit_tool.node_source`): which
endpoint, which parameters, the JSON objects the node answers. What the items in
them mean (entries, checkpoints, proofs) is for the audit tool to check. Failures
are :mod:`node.transport.local_api`'s errors, each naming the URL.
"""

from __future__ import annotations

from typing import Any

import httpx

from clearinghouse.node.transport.local_api import LocalApiClient, open_client

__all__ = ["AUDIT_TIMEOUT", "AuditClient", "open_audit_client"]

#: A page of a large log takes a while to serve; connecting should not.
AUDIT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def open_audit_client(base: str, token: str | None) -> AuditClient:
    """An :class:`AuditClient` on the node at ``base`` (close it, or use it in ``with``)."""
    return AuditClient(open_client(base, token, timeout=AUDIT_TIMEOUT), base=base)


class AuditClient(LocalApiClient):
    """The reads an auditor makes, each the JSON object (or bytes) the node answers."""

    def manifest(self) -> bytes:
        """The manifest the node serves, as it serves it (``/v1/manifest``)."""
        return self.get("/v1/manifest").content

    def readiness(self) -> dict[str, Any]:
        """``/readyz``: whether the node is ready, and whose node it is."""
        return self.json("/readyz")

    def entries(self, *, start: int, end: int) -> dict[str, Any]:
        """Entries ``[start, end)`` (``entries``) and the log's size (``size``)."""
        return self.json("/v1/audit/entries", start=start, end=end)

    def checkpoints(self, *, after: int, limit: int) -> dict[str, Any]:
        """Up to ``limit`` checkpoints of sizes above ``after`` (``checkpoints``), each with
        its note, root, consistency proof from the one before and when it was signed."""
        return self.json("/v1/audit/checkpoints", after=after, limit=limit)

    def consistency(self, *, old: int, new: int) -> dict[str, Any]:
        """The RFC 9162 consistency proof between two sizes, with both roots."""
        return self.json("/v1/audit/proof/consistency", old=old, new=new)
