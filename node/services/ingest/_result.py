"""What ingest answers per record: accepted (issued now, or a duplicate) or rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

__all__ = ["AcceptedRecord", "IngestResult", "RecordOutcome", "RecordRejected"]

#: A record taken: issued as a new packet now, or answered with the packet issued for
#: the same record before.
RecordOutcome = Literal["issued", "duplicate"]


class AcceptedRecord(TypedDict):
    """A record taken, as the API answers it (``packets`` of ``POST /v1/local/records``)."""

    index: int
    jti: str
    sha256: str
    outcome: RecordOutcome
    #: the participants its views were queued to (a duplicate's: added once looked up)
    recipients: NotRequired[list[str]]


@dataclass(frozen=True)
class RecordRejected:
    index: int
    code: str
    detail: str
    #: 422 for a record refused for its content, 409 for a revision of a record held
    status: int = 422
    #: the packet held under the record's natural key (a revision: 409)
    jti: str | None = None


@dataclass
class IngestResult:
    #: per record taken, with the recipients it was queued to
    accepted: list[AcceptedRecord] = field(default_factory=list)
    rejected: list[RecordRejected] = field(default_factory=list)

    @property
    def issued(self) -> int:
        return sum(1 for a in self.accepted if a["outcome"] == "issued")
