"""Public, unauthenticated endpoints: schemas, manifest, health, readiness, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.protocol.manifest import manifest_json
from clearinghouse.protocol.schemas import SCHEMAS, get_schema

__all__ = ["router"]

router = APIRouter(tags=["meta"], responses=problem_responses(400))


@router.get("/v1/schemas", summary="The record schemas this node accepts (JSON Schema)")
async def list_schemas() -> dict[str, Any]:
    return {"schemas": {sid: spec.json_schema() for sid, spec in sorted(SCHEMAS.items())}}


@router.get(
    "/v1/schemas/{schema_id:path}",
    summary="One record schema (JSON Schema)",
    responses=problem_responses(422),  # unknown-schema
)
async def one_schema(schema_id: str) -> dict[str, Any]:
    return get_schema(schema_id).json_schema()


@router.get("/v1/manifest", summary="The federation manifest this node holds")
async def manifest(ctx: ContextDep) -> Response:
    return Response(manifest_json(ctx.manifest), media_type="application/json")


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable, manifest valid, key loaded",
    responses=problem_responses(503),
)
async def readyz(ctx: ContextDep) -> dict[str, Any]:
    await run_in_threadpool(ctx.check_ready)
    return {"status": "ready", "participant": ctx.participant, "serial": ctx.manifest.serial}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(ctx: ContextDep) -> Response:
    body = await run_in_threadpool(generate_latest, ctx.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
