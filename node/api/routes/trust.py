"""Trust changes submitted to a running node: a new manifest, an oversight authorisation.

``POST /v1/manifest`` takes a manifest from a local ``admin`` or from a peer (which
spreads it): verified against the manifest held now, stored and switched to, or
refused with the reason. ``GET /v1/manifest`` (in :mod:`meta`) serves the one in force.
``POST /v1/authorisations`` takes an oversight authorisation at the originating node.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import AdminOrPeer, ContextDep
from clearinghouse.node.api.models import AuthorisationAnswer, ManifestAnswer
from clearinghouse.node.api.models.meta import AUTHORISATION_EXAMPLE, MANIFEST_EXAMPLE
from clearinghouse.node.api.openapi import json_request
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.node.services.authorisations import accept_authorisation
from clearinghouse.node.services.manifests import accept_manifest
from clearinghouse.protocol.authorisation import Authorisation
from clearinghouse.protocol.manifest import Manifest

__all__ = ["router"]

router = APIRouter(tags=["trust"], responses=problem_responses(400, 401, 403, 413, 415, 422, 429))


@router.post(
    "/v1/manifest",
    operation_id="submitManifest",
    response_model=ManifestAnswer,
    summary="Submit a new federation manifest",
    description="The manifest JSON (with its signatures). Accepted when its serial is "
    "higher than the one in force and at least the *current* quorum of participants "
    "signed it; the node then switches to it and offers it to every peer. An older, "
    "under-signed or badly signed manifest is refused (422) with the reason. Role "
    "`admin`, or a peer's signed request.",
    openapi_extra=json_request(
        Manifest,
        description="The manifest: signed content and its signatures (`clearinghouse "
        "manifest merge`), sent byte for byte.",
        example=MANIFEST_EXAMPLE,
    ),
)
async def post_manifest(ctx: ContextDep, sender: AdminOrPeer) -> dict[str, Any]:
    outcome = await run_in_threadpool(accept_manifest, ctx, sender.body, actor=sender.actor)
    return {"status": outcome.status, "serial": outcome.serial, "federation": outcome.federation}


@router.post(
    "/v1/authorisations",
    operation_id="submitAuthorisation",
    response_model=AuthorisationAnswer,
    summary="Submit an oversight authorisation",
    description="A signed authorisation (`clearinghouse authorise`) from a participant with "
    "the oversight role, submitted to the node that originates the packets it covers. "
    "Verified against the manifest; this node then sends the recipient views with the "
    "unlocked fields for covered packets it issued already and issues while the "
    "authorisation is in force. Refused (422) with the reason when expired, not signed by "
    "an oversight participant, malformed, ... Role `admin`, or a peer's signed request.",
    openapi_extra=json_request(
        Authorisation,
        description="The signed authorisation, as `clearinghouse authorise` writes it.",
        example=AUTHORISATION_EXAMPLE,
    ),
)
async def post_authorisation(ctx: ContextDep, sender: AdminOrPeer) -> dict[str, Any]:
    outcome = await run_in_threadpool(accept_authorisation, ctx, sender.body, actor=sender.actor)
    return {"id": outcome.id, "status": outcome.status, "views_queued": outcome.views_queued}
