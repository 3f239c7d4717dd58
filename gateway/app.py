"""The app factory: it only wires the rooms together; nothing happens at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from db.database import Database
from db.readiness import check_ready
from gateway.graphql.graphiql import self_hosted_graphiql
from gateway.graphql.view import PatchbayGraphQL
from gateway.http.body_limit import BodyLimitMiddleware
from gateway.http.cors import cors_middleware
from gateway.http.edge import EdgeMiddleware
from gateway.http.health import health_routes
from gateway.http.routing import Gateway
from gateway.identity.authenticator import Authenticator
from gateway.observe.metrics import build_metrics
from gateway.observe.observer import RequestObserver
from gateway.settings import Settings
from schema.planned.executor import PlannedExecutor
from schema.roots import PLANNABLE_ROOTS, RECORDS
from schema.schema import build_schema

log = logging.getLogger("patchbay")
GRAPHQL_PATH = "/graphql"
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
    graphql = _graphql_front(settings, db, graphiql.page if graphiql else None)
    metrics, metrics_endpoint = (
        build_metrics(db, settings.metrics_token_value)
        if settings.metrics_enabled
        else (None, None)
    )
    observer = RequestObserver(metrics, metered_paths=frozenset({GRAPHQL_PATH}))
    middleware = [  # outermost first: every response, preflights too, carries the request id
        Middleware(EdgeMiddleware, on_finished=observer.finished),
        *cors_middleware(settings.cors_origin_list),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
    ]
    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, graphql),
        *health_routes(partial(check_ready, db), timeout_seconds=settings.database_timeout_seconds),
    ]
    if metrics_endpoint is not None:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    routes += graphiql.routes if graphiql else ()
    if settings.development_keys:
        log.warning(DEVELOPMENT_WARNING)
    app = Gateway(
        hot_path=GRAPHQL_PATH,
        hot_endpoint=graphql,
        routes=routes,
        middleware=middleware,
        lifespan=_lifespan(db),
    )
    app.state.settings = settings
    app.state.db = db
    return app


def _graphql_front(settings: Settings, db: Database, graphiql_page: str | None) -> PatchbayGraphQL:
    schema = build_schema(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        introspection=settings.introspection,
        suggestions=settings.suggestions,
        max_repeated_pairs=settings.max_repeated_pairs,
        max_document_chars=settings.max_document_chars,
        max_selections=settings.max_selections,
    )
    return PatchbayGraphQL(
        schema,
        db=db,
        authenticator=Authenticator(settings, db),
        prompts_url=settings.prompts_url.rstrip("/"),
        graphiql=settings.graphiql,
        graphiql_page=graphiql_page,
        planned=(
            PlannedExecutor(schema, PLANNABLE_ROOTS, records=RECORDS)
            if settings.fast_path
            else None
        ),
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
    )


def _lifespan(db: Database) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, engine, caches) lives as long as the process: keep
        # it out of the garbage collector's full scans, which otherwise stall the loop for ms.
        gc.collect()
        gc.freeze()
        yield
        await db.dispose()

    return lifespan


def app_from_environment() -> Starlette:
    """uvicorn's factory: settings are read once, here."""
    return create_app(Settings())
