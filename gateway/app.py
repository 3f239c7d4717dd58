"""The app factory: everything is built here, nothing at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from db.database import Database
from gateway.auth import Authenticator
from gateway.body_limit import BodyLimitMiddleware
from gateway.fast_path import FastPath
from gateway.graphiql import self_hosted_graphiql
from gateway.graphql_view import PatchbayGraphQL
from gateway.metrics import build_metrics
from gateway.request_id import GRAPHQL_PATH, RequestIdMiddleware
from gateway.settings import Settings
from schema.mutation import FAST_ROOT_FIELDS
from schema.schema import build_schema

log = logging.getLogger("patchbay")

DEVELOPMENT_WARNING = (
    "\n"
    "  !! DEVELOPMENT MODE: no JWT key material is configured.                     !!\n"
    "  !! Tokens are signed with a built-in secret anyone can read in the source.  !!\n"
    "  !! Set PATCHBAY_JWT_SECRET (or a public key / JWKS URL) before real use.    !!"
)


def create_app(settings: Settings) -> Starlette:
    db = Database(
        settings.database_url,
        timeout_seconds=settings.database_timeout_seconds,
        pool_size=settings.database_pool_size,
    )
    # Strawberry's CDN page, or the same page with npm's files when PATCHBAY_GRAPHIQL_ASSETS is set
    graphiql = self_hosted_graphiql(settings.graphiql_assets) if settings.graphiql else None
    schema = build_schema(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        introspection=settings.introspection,
        suggestions=settings.suggestions,
    )
    graphql = PatchbayGraphQL(
        schema,
        db=db,
        authenticator=Authenticator(settings, db),
        prompts_url=settings.prompts_url.rstrip("/"),
        graphiql=settings.graphiql,
        graphiql_page=graphiql.page if graphiql else None,
        fast_path=FastPath(schema, FAST_ROOT_FIELDS) if settings.fast_path else None,
    )

    request_metrics, metrics_endpoint = (
        build_metrics(db, _secret(settings.metrics_token))
        if settings.metrics_enabled
        else (None, None)
    )

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(db.ping(), timeout=settings.database_timeout_seconds)
        except Exception:  # any failure means "not ready"; details go to the log only
            log.warning("readiness check failed: database unreachable")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, engine, caches) lives as long as the process: keep it
        # out of the garbage collector's full scans, which otherwise stall the loop for ms.
        gc.collect()
        gc.freeze()
        yield
        await db.dispose()

    if settings.development_keys:
        log.warning(DEVELOPMENT_WARNING)
    middleware = [  # outermost first: every response, preflights too, carries the request id
        Middleware(RequestIdMiddleware, metrics=request_metrics),
        *_cors(settings),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
    ]
    app = Gateway(
        graphql=_wrapped(graphql, middleware),
        routes=[
            Route(GRAPHQL_PATH, graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Route("/metrics", metrics_endpoint, methods=["GET"])] if metrics_endpoint else []),
            *(graphiql.routes if graphiql else ()),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    return app


class Gateway(Starlette):
    """Starlette, except that a request for exactly /graphql skips its router and its own
    error and exception layers (a few percent of the CPU of a request): the same middleware
    as every other route then the view. Anything else, "/graphql/" or a path under a
    root_path included, takes Starlette's way to the same view."""

    def __init__(self, *, graphql: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH:
            scope["app"] = self
            await self.graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _wrapped(app: ASGIApp, middleware: list[Middleware]) -> ASGIApp:
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app


def _cors(settings: Settings) -> list[Middleware]:
    """CORS for PATCHBAY_CORS_ORIGINS; none at all when it is empty."""
    origins = settings.cors_origin_list
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=("authorization", "content-type", "x-request-id"),
            expose_headers=("x-request-id",),
            allow_credentials=False,
            max_age=600,
        )
    ]


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def app_from_environment() -> Starlette:
    """uvicorn's factory: settings are read once, here."""
    return create_app(Settings())
