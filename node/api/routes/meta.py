"""Public, unauthenticated endpoints: schemas, manifest, health, readiness, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from clearinghouse.node.api.deps import ContextDep
from clearinghouse.node.api.models import Health, Readiness, RecordSchema, SchemaList
from clearinghouse.node.api.models.meta import MANIFEST_EXAMPLE
from clearinghouse.node.api.problems import problem_responses
from clearinghouse.protocol.manifest import Manifest, manifest_json
from clearinghouse.protocol.schemas import SCHEMAS, get_schema

__all__ = ["router"]

router = APIRouter(tags=["meta"], responses=problem_responses(400))


@router.get(
    "/v1/schemas",
    operation_id="listSchemas",
    response_model=SchemaList,
    summary="The record schemas this node accepts (JSON Schema)",
)
async def list_schemas() -> dict[str, Any]:
    return {"schemas": {sid: spec.json_schema() for sid, spec in sorted(SCHEMAS.items())}}


@router.get(
    "/v1/schemas/{schema_id:path}",
    operation_id="getSchema",
    response_model=RecordSchema,
    summary="One record schema (JSON Schema)",
    responses=problem_responses(422),  # unknown-schema
)
async def one_schema(schema_id: str) -> dict[str, Any]:
    return get_schema(schema_id).json_schema()


@router.get(
    "/v1/manifest",
    operation_id="getManifest",
    summary="The federation manifest this node holds",
    description="Exactly as it was signed and received: its signed content and signatures.",
    response_class=Response,
    responses={
        200: {
            "model": Manifest,
            "description": "The manifest in force",
            "content": {"application/json": {"example": MANIFEST_EXAMPLE}},
        }
    },
)
async def manifest(ctx: ContextDep) -> Response:
    return Response(manifest_json(ctx.manifest), media_type="application/json")


@router.get(
    "/healthz",
    operation_id="getHealth",
    response_model=Health,
    summary="Liveness: the process answers",
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    response_model=Readiness,
    summary="Readiness: database reachable, manifest valid, key loaded",
    responses=problem_responses(503),
)
async def readyz(ctx: ContextDep) -> dict[str, Any]:
    await run_in_threadpool(ctx.check_ready)
    return {"status": "ready", "participant": ctx.participant, "serial": ctx.manifest.serial}


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format (version 0.0.4)",
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "# TYPE clearinghouse_views_received_total counter\n"
                    'clearinghouse_views_received_total{peer="mission"} 42.0\n',
                }
            },
        }
    },
)
async def metrics(ctx: ContextDep) -> Response:
    body = await run_in_threadpool(generate_latest, ctx.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
