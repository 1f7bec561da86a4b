"""Node-to-node exchange (``/v1/packets``): a pushed batch, its receipts, the catch-up feed.

The bodies are read as the exact bytes a peer signed (RFC 9421, ``Content-Digest``), so
the request model documents them; the route checks them itself, view by view.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import examples

__all__ = ["FeedItem", "FeedPage", "PacketBatch", "ReceiptSummary", "ReceiptsAnswer"]

_VIEW = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Im1pc3Npb24tMSIsInR5cCI6ImV4YW1wbGUrc2Qtand0In0"
    ".eyJpc3MiOiJtaXNzaW9uIn0.c2lnbmF0dXJl~WyJzYWx0IiwiY291bnRyeSIsIk1MSSJd~"
)
_RECEIPT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImRwYS0xIiwidHlwIjoicmVjZWlwdCtqd3QifQ"
    ".eyJzdGF0dXMiOiJhY2NlcHRlZCJ9.c2lnbmF0dXJl"
)


class PacketBatch(BaseModel):
    """A batch of views pushed by a peer, with the oversight authorisations some rely on."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"views": [_VIEW], "authorisations": []}]}
    )

    # Items are not constrained here: each bad one gets its own refusal and the batch goes
    # on (a receipt 'rejected' per view, an unusable authorisation named).
    views: list[Any] = Field(description="SD-JWT views (strings), at most `max_batch`.")
    authorisations: list[Any] = Field(
        default_factory=list, description="Oversight authorisations the views rely on."
    )


class ReceiptSummary(BaseModel):
    """How many views of the batch got each receipt status."""

    model_config = ConfigDict(extra="allow")

    accepted: int = Field(ge=0)
    duplicate: int = Field(ge=0)
    rejected: int = Field(ge=0)
    quarantined: int = Field(ge=0)
    deferred: int = Field(ge=0)


class ReceiptsAnswer(BaseModel):
    """One signed receipt per view of the batch, in order, and their count per status."""

    model_config = examples(
        {
            "receipts": [_RECEIPT],
            "summary": {
                "accepted": 1,
                "duplicate": 0,
                "rejected": 0,
                "quarantined": 0,
                "deferred": 0,
            },
        }
    )

    receipts: list[str] = Field(
        description="Signed receipts (compact JWS): accepted, duplicate, rejected, "
        "quarantined or deferred, with the reason; deferred: send the view again later."
    )
    summary: ReceiptSummary


class FeedItem(BaseModel):
    """One view owed to the calling peer, at its cursor."""

    cursor: int = Field(ge=0)
    view: str = Field(description="The SD-JWT view, as this node cut it for the caller.")


class FeedPage(BaseModel):
    """The views this node owes the calling peer after ``since``, in cursor order."""

    model_config = examples(
        {"items": [{"cursor": 41, "view": _VIEW}], "next": 41},
        {"items": [], "next": 41},
    )

    items: list[FeedItem]
    next: int = Field(ge=0, description="Ask with `since` = this next (it acknowledges).")
    authorisations: list[dict[str, Any]] | SkipJsonSchema[None] = Field(
        None, description="The oversight authorisations the page's views rely on (if any)."
    )
