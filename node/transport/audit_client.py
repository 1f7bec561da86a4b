"""A node's audit log as it serves it (``/v1/audit``, a bearer token of role auditor).

The HTTP side of the audit tool's reader (:mod:`node.audit_tool.node_source`): the
typed client (:class:`~node.transport.api_client.NodeApiClient`: entries, checkpoints,
proofs, the manifest and readiness, each the model the node's OpenAPI document names)
with the timeouts an auditor's reads need. What the items mean (entries, checkpoints,
proofs) is for the audit tool to check. Failures are :mod:`node.transport.local_api`'s
errors, each naming the URL.
"""

from __future__ import annotations

import httpx

from clearinghouse.node.transport.api_client import NodeApiClient, open_api_client

__all__ = ["AUDIT_TIMEOUT", "open_audit_client"]

#: A page of a large log takes a while to serve; connecting should not.
AUDIT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def open_audit_client(base: str, token: str | None) -> NodeApiClient:
    """A :class:`NodeApiClient` on the node at ``base`` (close it, or use it in ``with``)."""
    return open_api_client(base, token, timeout=AUDIT_TIMEOUT)
