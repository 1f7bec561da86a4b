"""What every answer model shares: open objects, and the string types the node answers.

Answers are open (``additionalProperties``): a later node may add members, and a
client ignores the ones it does not know. Times are RFC 3339 strings exactly as the
node wrote them (never re-parsed and re-written), hashes and proofs standard base64.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["B64", "Answer", "Timestamp", "examples"]

#: An RFC 3339 date and time with its offset, as the node wrote it.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
#: Bytes in standard base64 (RFC 4648 §4, padded), as in C2SP checkpoints.
B64 = Annotated[str, Field(json_schema_extra={"contentEncoding": "base64"})]


def examples(*values: dict[str, Any]) -> ConfigDict:
    """An answer's configuration: open, with ``values`` as the schema's ``examples``."""
    return ConfigDict(extra="allow", json_schema_extra={"examples": list(values)})


class Answer(BaseModel):
    """A JSON object the node answers; members it does not declare are kept."""

    model_config = ConfigDict(extra="allow")
