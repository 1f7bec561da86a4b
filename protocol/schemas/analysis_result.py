"""``analysis-result/1``: an analyzer's output on one packet (DESIGN.md, "Analysis").

A result names the analyzer (id and version, as the manifest declares it), the
input packet it analysed (``jti`` plus the SHA-256 of the issuer-signed JWT, the
same in every view, and the input's schema), the findings, optional summary
scores and an explanation. Results are issued as packets like any record, so
findings are plain data: no derived claims.

Findings converge (DESIGN.md, "Analysis"): a finding is identified by its
analyzer (the result's issuer and analyzer), ``kind``, ``subject`` and ``period``.
When later input changes it, the analyzer issues it again, and the new finding
names the result that carried the version it replaces in ``supersedes``
(``{jti, digest}``); a finding that no longer holds is issued once more with
``status: "withdrawn"``. Both fields are optional, so results issued before them
still parse: such a finding supersedes nothing, and the latest one issued wins.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from clearinghouse.protocol.schemas._spec import RecordModel, SchemaSpec

__all__ = [
    "SPEC",
    "AnalysisResult",
    "AnalyzerRef",
    "Finding",
    "InputRef",
    "Level",
    "ResultRef",
    "Status",
]

Level = Literal["low", "medium", "high", "critical"]
Status = Literal["withdrawn"]
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Indicator = float | int | str


class AnalyzerRef(RecordModel):
    """The analyzer that produced the result."""

    id: str = Field(min_length=1, description="Analyzer id, as declared in the manifest.")
    version: str = Field(min_length=1, description="Analyzer version, as declared in the manifest.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the analyzer's code, as declared in the manifest.",
    )


class InputRef(RecordModel):
    """The packet the result is about."""

    # The wire name ``schema`` would shadow ``BaseModel.schema``: the attribute is
    # ``schema_`` and the JSON key its alias, for validation and for dumping.
    model_config = ConfigDict(serialize_by_alias=True)

    jti: Annotated[
        str,
        Field(
            pattern=_UUID,
            description="The input packet's jti (a UUID, lowercase).",
        ),
    ]
    digest: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{64}$",
            description="SHA-256 of the input's issuer-signed JWT (before the first '~'), "
            "lowercase hex.",
        ),
    ]
    schema_: Annotated[
        str,
        Field(
            alias="schema",
            pattern=r"^[a-z][a-z0-9-]*/[0-9]+$",
            description="The input packet's schema id, e.g. 'conflict-event/1'.",
        ),
    ]
    issuer: str | None = Field(None, description="The participant that issued the input.")


class ResultRef(RecordModel):
    """An earlier result of the same issuer: its ``jti`` and the SHA-256 of its JWT."""

    jti: str = Field(pattern=_UUID, description="The earlier result's jti (a UUID, lowercase).")
    digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the earlier result's issuer-signed JWT, lowercase hex.",
    )


class Finding(RecordModel):
    """One thing the analyzer found, with what drove it."""

    kind: str = Field(
        min_length=1, description="What was found, e.g. 'hotspot', 'escalation', 'price-anomaly'."
    )
    subject: str = Field(
        min_length=1, description="What the finding is about: an area, an actor ref, a market..."
    )
    area: str | None = Field(None, description="Area the finding applies to, in words.")
    country: str | None = Field(None, description="Country the finding applies to.")
    admin1: str | None = Field(None, description="First-level administrative area, if one.")
    period: str | None = Field(
        None, description="Period the finding applies to, e.g. '2016-01' or '2016-01/2016-03'."
    )
    score: float | None = Field(None, description="Analyzer-defined score of the finding.")
    level: Level | None = Field(None, description="Qualitative level: low, medium, high, critical.")
    explanation: str = Field(description="Why the analyzer made this finding, in words.")
    indicators: dict[str, Indicator] | None = Field(
        None, description="The indicator values that drove the finding, by name."
    )
    status: Status | None = Field(
        None,
        description="'withdrawn' when the finding of this kind, subject and period that the "
        "issuer reported before no longer holds; absent for a finding that holds.",
    )
    supersedes: ResultRef | None = Field(
        None,
        description="The result that carried the previous version of this finding (same "
        "analyzer, kind, subject and period), which this one replaces.",
    )


class AnalysisResult(RecordModel):
    """The output of one analyzer run on one input packet."""

    analyzer: AnalyzerRef = Field(
        description="The analyzer that made the result (as in the manifest)."
    )
    input: InputRef = Field(description="The packet analysed.")
    findings: list[Finding] = Field(description="Findings; empty when nothing was found.")
    scores: dict[str, float] | None = Field(
        None, description="Summary scores of the input, by name."
    )
    explanation: str = Field(description="Summary of the analysis, in words.")


SPEC = SchemaSpec(
    id="analysis-result/1",
    title="Analysis result",
    model=AnalysisResult,
    issued_by="analysis",  # only the analysis pipeline: local ingest refuses it
)
