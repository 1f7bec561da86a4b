"""The body's own systems (``/v1/local/*``): records in, packets held, counts, relays."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import Timestamp, examples
from clearinghouse.node.api.models.problem import RejectedRecord

__all__ = [
    "AcceptedPacket",
    "AnalyzerReport",
    "HeldPacket",
    "HeldPacketPage",
    "NodeStats",
    "RecordsAnswer",
    "RecordsIn",
    "RelayAnswer",
    "RelayIn",
]

#: A conflict-event/1 record (UCDP GED), shortened: what a submitter sends.
EXAMPLE_RECORD: dict[str, Any] = {
    "event_id": "216780",
    "year": 2016,
    "active_year": True,
    "type_of_violence": 3,
    "conflict_id": 13299,
    "conflict": "Syrian insurgents - Civilians",
    "dyad_id": 14200,
    "dyad": "Syrian insurgents - Civilians",
    "side_a_id": 4456,
    "side_a": "Syrian insurgents",
    "side_b_id": 1,
    "side_b": "Civilians",
    "date_start": "2016-01-07",
    "date_end": "2016-01-07",
    "date_precision": 1,
    "country": "Syria",
    "country_id": 652,
    "region": "Middle East",
    "admin1": "Idlib Governorate",
    "admin2": "Ariha district",
    "place": "Ariha town",
    "latitude": 35.812335,
    "longitude": 36.610978,
    "where_precision": 1,
    "priogrid_gid": 181154,
    "event_clarity": 1,
    "deaths": {
        "side_a": 0,
        "side_b": 0,
        "civilians": 5,
        "unknown": 0,
        "low": 5,
        "best": 5,
        "high": 5,
    },
    "source": {
        "article": '"SOHR,2016-01-07,al-Fateh army executes 5 in Idlib"',
        "office": "SOHR",
        "date": "2016-01-07",
        "headline": "al-Fateh army executes 5 in Idlib",
        "original": "SOHR",
        "number_of_sources": 1,
    },
    "narrative": "al-Fateh army executes 5 in Idlib",
}
_JTI = "0b6f6a52-2f0e-4a51-9d55-4a8b2f1c7e10"
_SHA256 = "9f2b4c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"


class RecordsIn(BaseModel):
    """One record (``record``) or a batch (``records``) of one schema."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"schema": "conflict-event/1", "records": [EXAMPLE_RECORD], "hc": "H0"}]
        },
    )

    schema_: str = Field(alias="schema", description="Schema id, e.g. conflict-event/1.")
    record: dict[str, Any] | None = None
    records: list[Any] | None = None
    hc: str = Field("H0", description="Handling code H0..H3 of every packet issued.")
    hc_restriction: str | None = Field(None, description="The restriction of an H3 packet.")


class AcceptedPacket(BaseModel):
    """A record taken: issued as a new packet now, or answered with the one issued before."""

    model_config = ConfigDict(extra="allow")

    index: int = Field(ge=0, description="The record's index in the request.")
    jti: str = Field(description="The packet's id.")
    sha256: str = Field(description="SHA-256 (hex) of the packet's JWT.")
    outcome: Literal["issued", "duplicate"]
    recipients: list[str] | SkipJsonSchema[None] = Field(
        None, description="The participants its views were queued to."
    )


class RecordsAnswer(BaseModel):
    """What became of each record: the packets issued or found, the records refused."""

    model_config = examples(
        {
            "accepted": 1,
            "issued": 1,
            "duplicates": 0,
            "rejected": [
                {
                    "index": 1,
                    "status": 422,
                    "code": "schema-violation",
                    "detail": "conflict-event/1: 'event_id' is a required property",
                }
            ],
            "packets": [
                {
                    "index": 0,
                    "jti": _JTI,
                    "sha256": _SHA256,
                    "outcome": "issued",
                    "recipients": ["unodc", "dpa"],
                }
            ],
        }
    )

    accepted: int = Field(ge=0, description="Records taken: issued now plus duplicates.")
    issued: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    rejected: list[RejectedRecord]
    packets: list[AcceptedPacket]


class HeldPacket(BaseModel):
    """A packet this node holds, received or issued, with its disclosed claims."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="Its row: the page cursor.")
    jti: str
    sha256: str
    iss: str = Field(description="The issuer.")
    sch: str = Field(description="The record schema.")
    hc: str = Field(description="Handling code H0..H3.")
    hcr: str | None = Field(description="The restriction of an H3 packet.")
    pse: str | None = Field(description="The pseudonym epoch, if it has pseudonymised fields.")
    iat: Timestamp
    origin: str = Field(description="'local', or the peer it came from.")
    stored_at: Timestamp
    claims: dict[str, Any]


class HeldPacketPage(BaseModel):
    """A page of held packets, oldest first."""

    model_config = examples(
        {
            "items": [
                {
                    "id": 7,
                    "jti": _JTI,
                    "sha256": _SHA256,
                    "iss": "mission",
                    "sch": "conflict-event/1",
                    "hc": "H0",
                    "hcr": None,
                    "pse": None,
                    "iat": "2026-11-29T10:00:00+00:00",
                    "origin": "mission",
                    "stored_at": "2026-11-29T10:00:01+00:00",
                    "claims": {"country": "Syria", "year": 2016},
                }
            ],
            "next": 7,
        }
    )

    items: list[HeldPacket]
    next: int = Field(ge=0, description="Ask with `after` = this for the next page.")


class NodeStats(BaseModel):
    """Exact counts of what this node did, from its own tables."""

    model_config = examples(
        {
            "participant": "dpa",
            "issued": 12,
            "sent": 24,
            "refused_by_peers": 0,
            "received": 30,
            "accepted": 28,
            "duplicates": 2,
            "rejected": 0,
            "quarantined": 0,
            "deferred": 0,
            "records_rejected": 1,
            "pending": {"mission": 0},
            "analyzer": "dpa.spoiler-risk",
            "analysed": 40,
            "analysis_errors": 0,
            "analysis_queue": 0,
            "results_issued": 40,
            "results_received": 55,
        }
    )

    participant: str
    issued: int = Field(ge=0, description="Packets issued here (records and results).")
    sent: int = Field(ge=0, description="Distinct views delivered to peers.")
    refused_by_peers: int = Field(ge=0)
    received: int = Field(ge=0, description="View deliveries that arrived.")
    accepted: int = Field(ge=0, description="Distinct packets stored from peers.")
    duplicates: int = Field(ge=0)
    rejected: int = Field(ge=0)
    quarantined: int = Field(ge=0)
    deferred: int = Field(ge=0)
    records_rejected: int = Field(ge=0)
    pending: dict[str, int] = Field(description="Views still owed, per peer.")
    analyzer: str | None
    analysed: int = Field(ge=0)
    analysis_errors: int = Field(ge=0)
    analysis_queue: int = Field(ge=0)
    results_issued: int = Field(ge=0)
    results_received: int = Field(ge=0)


class AnalyzerReport(BaseModel):
    """This node's analyzer, as the manifest declares it, and its summary so far."""

    model_config = examples(
        {
            "analyzer": "dpa.spoiler-risk",
            "version": "1.0.0",
            "sha256": _SHA256,
            "summary": {"packets": 40, "findings": 12},
        }
    )

    analyzer: str
    version: str
    sha256: str | None
    summary: dict[str, Any] = Field(description="The analyzer's own summary (its shape).")


class RelayIn(BaseModel):
    """Whom to relay a held packet to."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"recipients": ["unodc"]}]}
    )

    recipients: list[str] = Field(min_length=1, max_length=64)


class RelayAnswer(BaseModel):
    """Per recipient: the claims its view discloses, or why nothing was queued."""

    model_config = examples(
        {"jti": _JTI, "queued": {"unodc": ["country", "year"]}, "skipped": {}},
    )

    jti: str
    queued: dict[str, list[str]]
    skipped: dict[str, str]
