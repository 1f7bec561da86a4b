"""The audit log (``/v1/audit``): entries, checkpoints, proofs, cosignatures, witnessing.

Hashes and proofs are standard base64, as in C2SP checkpoints; an entry's ``body`` is
its exact text (the leaf hash covers its UTF-8 bytes).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import B64, Timestamp, examples

__all__ = [
    "AuditAlert",
    "AuditAlertList",
    "AuditCheckpoint",
    "AuditCheckpointList",
    "AuditEntry",
    "AuditEntryPage",
    "AuditSearchPage",
    "ConsistencyProofAnswer",
    "CosignAnswer",
    "Cosignature",
    "CosignaturesIn",
    "InclusionProofAnswer",
    "WitnessedLog",
    "WitnessedLogList",
]

_HASH = "uR5ZQ2cZ2xgJ8C4mTzJ1D2l6b0ZpZ3l0c2Rvc3MzZWQ="
_NOTE = "clearinghouse.example/dpa\n2\n" + _HASH + "\n\n\u2014 dpa-1 AAAAAWV4YW1wbGVzaWduYXR1cmU=\n"
_ENTRY = {
    "seq": 0,
    "leaf_hash": _HASH,
    "body": '{"act":"received","at":"2026-11-29T10:00:01Z","jti":"0b6f6a52-2f0e-4a51-9d55-'
    '4a8b2f1c7e10","peer":"mission"}',
}


class AuditEntry(BaseModel):
    """One log entry: its sequence number, leaf hash and exact body."""

    model_config = ConfigDict(extra="allow")

    seq: int = Field(ge=0)
    leaf_hash: B64 = Field(description="RFC 9162 leaf hash of the body's UTF-8 bytes.")
    body: str = Field(description="The entry, exactly as hashed (canonical JSON).")


class AuditEntryPage(BaseModel):
    """Entries ``start <= seq < end`` and the log's size now."""

    model_config = examples({"size": 2, "entries": [_ENTRY]})

    size: int = Field(ge=0, description="How many entries the log holds now.")
    entries: list[AuditEntry]


class AuditSearchPage(BaseModel):
    """The newest entries matching the filters, newest first."""

    model_config = examples({"entries": [_ENTRY], "next": 0}, {"entries": [], "next": None})

    entries: list[AuditEntry]
    next: int | None = Field(description="Ask with `before` = this for the next page; null: none.")


class AuditCheckpoint(BaseModel):
    """A signed checkpoint with its cosignatures and the proof from the one before it."""

    # ``signed_at`` is always answered (required in the document), but a client still
    # reads the log of a node that predates it
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    size: int = Field(ge=0)
    root: B64
    note: str = Field(description="The C2SP signed note, with every cosignature line.")
    witnesses: list[str] = Field(description="The peers that cosigned it.")
    signed_at: Timestamp | SkipJsonSchema[None] = Field(
        None, description="When this node signed it."
    )
    consistency: list[B64] = Field(
        description="RFC 9162 consistency proof from the checkpoint listed before it (from "
        "`after` for the first; empty when `after` is 0)."
    )


class AuditCheckpointList(BaseModel):
    """Signed checkpoints after a size, oldest first."""

    model_config = examples(
        {
            "checkpoints": [
                {
                    "size": 2,
                    "root": _HASH,
                    "note": _NOTE,
                    "witnesses": ["mission"],
                    "signed_at": "2026-11-29T10:00:02+00:00",
                    "consistency": [],
                }
            ]
        }
    )

    checkpoints: list[AuditCheckpoint]


class InclusionProofAnswer(BaseModel):
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""

    model_config = examples(
        {"index": 0, "size": 2, "leaf_hash": _HASH, "root": _HASH, "proof": [_HASH]}
    )

    index: int = Field(ge=0)
    size: int = Field(ge=1)
    leaf_hash: B64
    root: B64
    proof: list[B64]


class ConsistencyProofAnswer(BaseModel):
    """RFC 9162 consistency proof from the tree of ``old`` entries to that of ``new``."""

    model_config = examples(
        {"old": 1, "new": 2, "old_root": _HASH, "new_root": _HASH, "proof": [_HASH]}
    )

    old: int = Field(ge=1)
    new: int = Field(ge=1)
    old_root: B64
    new_root: B64
    proof: list[B64]


class Cosignature(BaseModel):
    """A witness's cosignature line on this node's checkpoint of ``size`` entries."""

    size: int = Field(ge=1)
    line: str = Field(description="\u2014 <witness> <base64>")


class CosignaturesIn(BaseModel):
    """A witness's cosignatures; each line must verify with the caller's cosignature key."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"cosignatures": [{"size": 2, "line": "\u2014 mission AAAAAWNvc2lnbmF0dXJl"}]}
            ]
        },
    )

    cosignatures: list[Cosignature] = Field(min_length=1, max_length=1000)


class CosignAnswer(BaseModel):
    """How many of the cosignatures received were new and stored."""

    model_config = examples({"stored": 1, "received": 1})

    stored: int = Field(ge=0)
    received: int = Field(ge=0)


class AuditAlert(BaseModel):
    """A peer caught showing a log inconsistent with one this node cosigned, or this
    node's own log gone unwitnessed."""

    model_config = ConfigDict(extra="allow")

    id: int
    peer: str = Field(description="The peer whose log it is; this node for unwitnessed.")
    kind: str = Field(
        description="fork, rollback, inconsistent, bad-signature, bad-origin; or "
        "unwitnessed: no witness of this node's log cosigned its checkpoints within "
        "audit.unwitnessed_alert_s."
    )
    detail: str
    evidence: str = Field(
        description="What the peer showed, as it showed it; for unwitnessed, the oldest "
        "checkpoint note no witness cosigned."
    )
    raised_at: Timestamp


class AuditAlertList(BaseModel):
    """Every witnessing alert this node raised."""

    model_config = examples({"alerts": []})

    alerts: list[AuditAlert]


class WitnessedLog(BaseModel):
    """The latest checkpoint of a peer's log that this node verified and cosigned."""

    model_config = ConfigDict(extra="allow")

    peer: str
    size: int = Field(ge=0)
    note: str


class WitnessedLogList(BaseModel):
    """One item per peer whose log this node cosigned."""

    model_config = examples({"logs": [{"peer": "mission", "size": 2, "note": _NOTE}]})

    logs: list[WitnessedLog]
