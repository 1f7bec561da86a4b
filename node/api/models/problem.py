"""The RFC 9457 problem document every refusal is (``application/problem+json``).

:mod:`node.api.problems` writes it; its extension members are those the node uses:
``request_id`` on every problem, ``errors`` on ``invalid-request`` (which parameter or
body member, and what is wrong with it), ``rejected`` on a records submission that
accepted none (422 ``unprocessable``, 409 ``record-conflict``), ``retry_after`` on 429.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from clearinghouse.node.api.models._base import examples

__all__ = ["FieldError", "Problem", "RejectedRecord"]


class FieldError(BaseModel):
    """One invalid parameter or body member."""

    where: str = Field(description="Where: e.g. `query.limit` or `body.records`.")
    message: str


class RejectedRecord(BaseModel):
    """A record of a submission that was refused, by its index in the request."""

    index: int = Field(ge=0, description="The record's index in `records` (0 for `record`).")
    status: int = Field(description="422: refused for its content; 409: a revision of one held.")
    code: str = Field(description="Why, machine-readable, e.g. `schema-invalid`.")
    detail: str = Field(description="Why, for people.")
    jti: str | SkipJsonSchema[None] = Field(
        None, description="A revision (409): the packet held under the record's natural key."
    )


class Problem(BaseModel):
    """An RFC 9457 problem: what was refused and why. Branch on ``type``."""

    model_config = examples(
        {
            "type": "urn:clearinghouse:problem:unauthenticated",
            "title": "Not authenticated",
            "status": 401,
            "detail": "this endpoint needs 'Authorization: Bearer <token>'",
            "instance": "/v1/local/stats",
            "request_id": "3f2c9a1e8b7d4c60",
        },
        {
            "type": "urn:clearinghouse:problem:invalid-request",
            "title": "Invalid request",
            "status": 422,
            "detail": "query.limit: Input should be less than or equal to 1000",
            "instance": "/v1/audit/search",
            "errors": [
                {"where": "query.limit", "message": "Input should be less than or equal to 1000"}
            ],
            "request_id": "9a0b1c2d3e4f5061",
        },
    )

    type: str = Field(
        pattern=r"^urn:clearinghouse:problem:[a-z0-9-]+$",
        description="`urn:clearinghouse:problem:<code>`: the machine-readable code.",
    )
    title: str = Field(description="The kind of problem, for people.")
    status: int = Field(ge=400, le=599, description="The HTTP status of the answer.")
    detail: str = Field(description="What was wrong, for people.")
    instance: str = Field(description="The request's path.")
    request_id: str | SkipJsonSchema[None] = Field(
        None, description="The request's id (also in `X-Request-Id`): quote it to the operator."
    )
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        None, description="`invalid-request`: each invalid parameter or body member."
    )
    rejected: list[RejectedRecord] | SkipJsonSchema[None] = Field(
        None, description="A records submission that accepted none: each record refused."
    )
    retry_after: int | SkipJsonSchema[None] = Field(
        None, ge=0, description="429: seconds to wait (as the `Retry-After` header says)."
    )
