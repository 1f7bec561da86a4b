"""The common situation analysis as JSON (``GET /v1/situation``, :mod:`node.services.situation`).

Each finding is the analyzer's own (the members of an ``analysis-result/1`` finding:
``kind``, ``subject``, ``level``, ``score``, ``explanation``...) with where it came
from added: the issuer, the analyzer and its version, the result, the input and the
handling. Only the members the node adds or relies on are declared here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import Timestamp, examples

__all__ = [
    "Agreement",
    "Contributor",
    "FindingVersion",
    "Handling",
    "ResultRef",
    "Situation",
    "SituationArea",
    "SituationFilters",
    "SituationFinding",
    "SituationPage",
]

_JTI = "5d1f2e3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
_SHA256 = "1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
_INPUT = {"jti": "0b6f6a52-2f0e-4a51-9d55-4a8b2f1c7e10", "schema": "conflict-event/1"}


class ResultRef(BaseModel):
    """The analysis result a finding comes from."""

    jti: str
    sha256: str = Field(description="SHA-256 (hex) of the result's JWT.")


class Handling(BaseModel):
    """The handling of the result a finding comes from (its input's)."""

    hc: str = Field(description="Handling code H0..H3.")
    restricted: bool = Field(description="H1, H2 or H3.")
    restriction: str | None = Field(description="The free-text restriction of an H3 result.")


class FindingVersion(BaseModel):
    """An earlier version of a finding (``history=true``)."""

    model_config = ConfigDict(extra="allow")

    result: ResultRef
    issued_at: Timestamp
    input: dict[str, Any]


class SituationFinding(BaseModel):
    """The latest version of one finding, with its provenance."""

    model_config = ConfigDict(extra="allow")

    kind: str
    subject: str
    level: Literal["low", "medium", "high", "critical"] | None = None
    country: str | None = None
    admin1: str | None = None
    period: str | None = None
    participant: str = Field(description="The result's issuer.")
    analyzer: str
    version: str = Field(description="The analyzer's version.")
    result: ResultRef
    issued_at: Timestamp
    input: dict[str, Any] = Field(description="The packet analysed.")
    handling: Handling
    history: list[FindingVersion] | SkipJsonSchema[None] = Field(
        None, description="`history=true`: the versions it superseded, oldest first."
    )


class Agreement(BaseModel):
    """Each analyzer's highest level in the group, and whether they agree."""

    levels: dict[str, str] = Field(description="Analyzer -> its highest level here.")
    verdict: Literal["none", "single", "agree", "disagree"] = Field(
        description="Two analyzers more than one level apart disagree."
    )


class SituationArea(BaseModel):
    """The findings for one area and period."""

    country: str | None
    admin1: str | None
    period: str | None
    agreement: Agreement
    findings: list[SituationFinding]


class Contributor(BaseModel):
    """An issuer and analyzer of the findings matching the filters."""

    participant: str
    analyzer: str
    version: str
    findings: int = Field(ge=0)
    latest: Timestamp = Field(description="When its latest result was issued.")


class SituationFilters(BaseModel):
    """The filters the answer applies (periods as months)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    country: str | None
    admin1: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    analyzer: list[str]
    level: list[str]
    actor: str | None
    handling: list[str]
    as_of: Timestamp | None


class SituationPage(BaseModel):
    """Which area-period groups this page holds; ``next``: the next page's offset."""

    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    next: int | None


class Situation(BaseModel):
    """Every result held, fused per area and period, paged by area and period."""

    model_config = examples(
        {
            "participant": "dpa",
            "filters": {
                "country": "Mali",
                "admin1": None,
                "from": "2016-01",
                "to": "2016-12",
                "analyzer": [],
                "level": [],
                "actor": None,
                "handling": [],
                "as_of": None,
            },
            "analyzers": [
                {
                    "participant": "mission",
                    "analyzer": "mission.security-risk",
                    "version": "1.0.0",
                    "findings": 1,
                    "latest": "2026-11-29T10:00:00+00:00",
                }
            ],
            "areas": [
                {
                    "country": "Mali",
                    "admin1": "Mopti",
                    "period": "2016-03",
                    "agreement": {"levels": {"mission.security-risk": "high"}, "verdict": "single"},
                    "findings": [
                        {
                            "kind": "security-risk",
                            "subject": "Mopti",
                            "country": "Mali",
                            "admin1": "Mopti",
                            "period": "2016-03",
                            "level": "high",
                            "score": 0.8,
                            "explanation": "12 events, 40 deaths in the period.",
                            "participant": "mission",
                            "analyzer": "mission.security-risk",
                            "version": "1.0.0",
                            "result": {"jti": _JTI, "sha256": _SHA256},
                            "issued_at": "2026-11-29T10:00:00+00:00",
                            "input": _INPUT,
                            "handling": {"hc": "H0", "restricted": False, "restriction": None},
                        }
                    ],
                }
            ],
            "page": {"offset": 0, "limit": 1000, "next": None},
        }
    )

    participant: str = Field(description="Whose node answers.")
    filters: SituationFilters
    analyzers: list[Contributor]
    areas: list[SituationArea]
    withdrawn: list[SituationFinding] | SkipJsonSchema[None] = Field(
        None, description="`history=true`: the findings withdrawn, a page of them."
    )
    page: SituationPage
