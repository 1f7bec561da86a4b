"""Node-to-node exchange (``/v1/packets``): a pushed batch, its receipts, the catch-up feed.

The bodies are read as the exact bytes a peer signed (RFC 9421, ``Content-Digest``), so
the request model documents them; the route checks them itself, view by view. A batch
is answered with one receipt over the whole batch (:class:`BatchReceiptAnswer`) when the
peer asks for it, else with a receipt per view (:class:`ReceiptsAnswer`, what an older
peer expects): :class:`PacketsAnswer` is either.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import examples

__all__ = [
    "BatchReceiptAnswer",
    "FeedItem",
    "FeedPage",
    "PacketBatch",
    "PacketsAnswer",
    "ReceiptSummary",
    "ReceiptsAnswer",
]

_VIEW = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Im1pc3Npb24tMSIsInR5cCI6ImV4YW1wbGUrc2Qtand0In0"
    ".eyJpc3MiOiJtaXNzaW9uIn0.c2lnbmF0dXJl~WyJzYWx0IiwiY291bnRyeSIsIk1MSSJd~"
)
_RECEIPT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImRwYS0xIiwidHlwIjoicmVjZWlwdCtqd3QifQ"
    ".eyJzdGF0dXMiOiJhY2NlcHRlZCJ9.c2lnbmF0dXJl"
)
_BATCH_RECEIPT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImRwYS0xIiwidHlwIjoiY2xlYXJpbmdob3VzZS1iYXRjaC1yZWNlaXB0K2p3dCJ9"
    ".eyJ2aWV3cyI6W3siaW5kZXgiOjAsInN0YXR1cyI6ImFjY2VwdGVkIn1dfQ.c2lnbmF0dXJl"
)
_SUMMARY: dict[str, Any] = {
    "accepted": 1,
    "duplicate": 0,
    "rejected": 0,
    "quarantined": 0,
    "deferred": 0,
}


class PacketBatch(BaseModel):
    """A batch of views pushed by a peer, with the oversight authorisations some rely on."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"views": [_VIEW], "authorisations": [], "receipt": "batch"}]
        },
    )

    # Items are not constrained here: each bad one gets its own refusal and the batch goes
    # on (a receipt 'rejected' per view, an unusable authorisation named).
    views: list[Any] = Field(description="SD-JWT views (strings), at most `max_batch`.")
    authorisations: list[Any] = Field(
        default_factory=list, description="Oversight authorisations the views rely on."
    )
    # Any string: a form of receipt this node does not know yet gets the oldest form, so
    # that a newer peer can ask for one without being refused by an older node.
    receipt: str | SkipJsonSchema[None] = Field(
        None,
        description="`batch`: answer with one signed receipt over the whole batch. Without "
        "it (or with another string) the answer is a signed receipt per view.",
        examples=["batch"],
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

    model_config = examples({"receipts": [_RECEIPT], "summary": _SUMMARY})

    receipts: list[str] = Field(
        description="Signed receipts (compact JWS): accepted, duplicate, rejected, "
        "quarantined or deferred, with the reason; deferred: send the view again later."
    )
    summary: ReceiptSummary


class BatchReceiptAnswer(BaseModel):
    """One signed receipt over the whole batch, and the count of views per status."""

    model_config = examples({"receipt": _BATCH_RECEIPT, "summary": _SUMMARY})

    receipt: str = Field(
        description="The batch receipt (compact JWS, typ `clearinghouse-batch-receipt+jwt`) "
        "over the SHA-256 of the request body and each view in order: its jti, digest and "
        "status (accepted, duplicate, rejected, quarantined or deferred), with the reason; "
        "deferred: send the view again later."
    )
    summary: ReceiptSummary


class PacketsAnswer(RootModel[BatchReceiptAnswer | ReceiptsAnswer]):
    """The answer to a pushed batch: one receipt over the batch (when asked for with
    ``"receipt": "batch"``), else one receipt per view."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"receipt": _BATCH_RECEIPT, "summary": _SUMMARY},
                {"receipts": [_RECEIPT], "summary": _SUMMARY},
            ]
        }
    )


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
