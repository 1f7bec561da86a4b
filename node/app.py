"""The app factory: ``create_app(settings)`` builds one node; no import-time globals.

The lifespan opens the node (:func:`node.startup.open_node`: manifest verified, key
loaded, database migrated), keeps it on ``app.state.node``, and runs the workers
(delivery, catch-up, analysis, housekeeping, checkpoints, witnessing, the watch on
this log's witnesses, manifest sync) with one shared peer client
(:mod:`node.transport.peer_client`) until shutdown. Requests go through the
middleware (request ids, the ``/ui`` security headers, body limits), the dependencies
that authenticate them (:mod:`node.api.deps`), and the thin route modules, each of
which calls one service.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI

from clearinghouse.node.api.body_limit import BodyLimitMiddleware
from clearinghouse.node.api.deps import no_nul_characters
from clearinghouse.node.api.openapi import openapi_document
from clearinghouse.node.api.peer_quota import PeerQuota
from clearinghouse.node.api.problems import install_problem_handlers
from clearinghouse.node.api.rate_limit import PeerRateLimiter, RateLimiter
from clearinghouse.node.api.request_id import RequestIdMiddleware
from clearinghouse.node.api.routes import (
    audit,
    docs,
    local,
    meta,
    packets,
    sign_in_links,
    situation,
    trust,
    ui,
    ui_sign_in,
    ui_situation,
)
from clearinghouse.node.api.ui_headers import UiHeadersMiddleware
from clearinghouse.node.clock import Clock, SystemClock
from clearinghouse.node.context import NodeContext
from clearinghouse.node.services.analyze import run_analysis
from clearinghouse.node.services.catchup import run_catchup
from clearinghouse.node.services.checkpoints import run_checkpointer
from clearinghouse.node.services.deliver import run_delivery
from clearinghouse.node.services.housekeeping import run_housekeeping
from clearinghouse.node.services.manifests import run_manifest_sync
from clearinghouse.node.services.witness import run_witness
from clearinghouse.node.services.witness_watch import run_witness_watch
from clearinghouse.node.settings import Settings
from clearinghouse.node.startup import open_node
from clearinghouse.node.transport.peer_client import PeerClient, open_peer_client

if TYPE_CHECKING:
    import httpx

__all__ = ["create_app"]

log = logging.getLogger("clearinghouse.node")


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    context: NodeContext | None = None,
) -> FastAPI:
    """A node's ASGI app; ``transport`` lets tests route peer calls elsewhere, and
    ``context`` is a node already opened (``clearinghouse run`` opens it before
    listening, to fail fast) so that start-up work is not done twice."""
    node_clock = context.clock if context is not None else clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = (
            context
            if context is not None
            else await asyncio.to_thread(open_node, settings, node_clock)
        )
        app.state.node = ctx
        async with open_peer_client(
            request_timeout_s=settings.delivery.request_timeout_s,
            clock=node_clock,
            signer=ctx.signing_pair,
            transport=transport,
        ) as client:
            tasks = _start_workers(ctx, client) if settings.run_workers else []
            log.info(
                "node %s ready: manifest serial %d, %d peers",
                ctx.participant,
                ctx.manifest.serial,
                len(ctx.peers),
            )
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                if ctx.oidc is not None:
                    ctx.oidc.close()
                ctx.engine.dispose()
                ctx.key_source.close()

    app = FastAPI(
        title=f"Clearinghouse node ({settings.participant})",
        version="1",
        summary="Signed, policy-filtered exchange of data packets between international bodies.",
        lifespan=lifespan,
        dependencies=[Depends(no_nul_characters)],
        docs_url=None,  # served offline by node.api.routes.docs
        redoc_url=None,
    )
    # the document FastAPI builds, completed with security schemes and problems
    app.openapi = functools.partial(openapi_document, app, settings)  # type: ignore[method-assign]
    _add_limits(app, settings)
    install_problem_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_unauthenticated_bytes=settings.max_unauthenticated_body_bytes,
    )
    app.add_middleware(UiHeadersMiddleware)  # outside the body limit: its 413 on /ui too
    app.add_middleware(RequestIdMiddleware, access_log=settings.access_log)  # the outermost
    routers = (packets, local, meta, situation, audit, trust, ui, ui_sign_in, ui_situation)
    for module in (*routers, sign_in_links, docs):
        app.include_router(module.router)
    return app


def _start_workers(ctx: NodeContext, client: PeerClient) -> list[asyncio.Task[None]]:
    """The node's background workers, running until the lifespan cancels them."""
    return [
        asyncio.create_task(run_delivery(ctx, client), name="delivery"),
        asyncio.create_task(run_catchup(ctx, client), name="catchup"),
        asyncio.create_task(run_analysis(ctx), name="analysis"),
        asyncio.create_task(run_housekeeping(ctx), name="housekeeping"),
        asyncio.create_task(run_checkpointer(ctx), name="checkpointer"),
        asyncio.create_task(run_witness(ctx, client), name="witness"),
        asyncio.create_task(run_witness_watch(ctx), name="witness-watch"),
        asyncio.create_task(run_manifest_sync(ctx, client), name="manifest-sync"),
    ]


def _add_limits(app: FastAPI, settings: Settings) -> None:
    """The rate limits and quotas, per app, not per process: several nodes in one process
    keep their own buckets."""
    app.state.peer_limiter = PeerRateLimiter(
        settings.peer_rate_limit_per_s, settings.peer_rate_burst
    )
    app.state.peer_quota = PeerQuota(
        settings.peer_quota_views, settings.peer_quota_bytes, settings.peer_quota_period_s
    )
    # failed and unauthenticated requests, by client address (node.api.deps.charge_address)
    app.state.address_limiter = RateLimiter(
        settings.address_rate_limit_per_s, settings.address_rate_burst
    )
