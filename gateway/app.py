"""The app factory: it only wires the rooms together; nothing happens at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from db.database import Database
from db.readiness import check_ready
from gateway.changes.feed import change_feed
from gateway.changes.hub import Hub
from gateway.changes.listener import Listener
from gateway.graphql.admission import Admission
from gateway.graphql.graphiql import default_cache, graphiql_front
from gateway.graphql.persisted_queries import PersistedQueries
from gateway.graphql.trusted_documents import load_manifests
from gateway.graphql.view import PatchbayGraphQL
from gateway.http.body_limit import BodyLimitMiddleware
from gateway.http.cors import cors_middleware
from gateway.http.edge import EdgeMiddleware
from gateway.http.health import health_routes
from gateway.http.routing import Gateway
from gateway.http.unrouted import ROUTER_REFUSALS
from gateway.identity.authenticator import Authenticator
from gateway.observe.metrics import RequestMetrics, build_metrics
from gateway.observe.observer import RequestObserver
from gateway.rest.front import edge_refusal, rest_routes
from gateway.settings import Settings
from gateway.throttle.buckets import LocalBuckets
from gateway.throttle.limits import Limit
from gateway.throttle.overrides import organization_limits
from gateway.throttle.throttle import Buckets, Throttle
from gateway.tracing.switch import TracingMisconfigured, exporter_of, tracing_requested
from schema.planned.executor import PlannedExecutor
from schema.roots import PLANNABLE_ROOTS, RECORDS
from schema.schema import build_schema

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from gateway.graphql.shared_documents import SharedDocuments
    from gateway.throttle.leases import LeasedBuckets
    from gateway.tracing.provider import Tracing

log = logging.getLogger("patchbay")
GRAPHQL_PATH = "/graphql"
DEVELOPMENT_WARNING = (
    "\n"
    "  !! DEVELOPMENT MODE: no JWT key material is configured.                     !!\n"
    "  !! Tokens are signed with a built-in secret anyone can read in the source.  !!\n"
    "  !! Set PATCHBAY_JWT_SECRET (or a public key / JWKS URL) before real use.    !!"
)


def create_app(settings: Settings) -> Starlette:
    tracing = _tracing(os.environ)  # OpenTelemetry's own OTEL_* variables switch it on
    db = Database(
        settings.database_url,
        timeout_seconds=settings.database_timeout_seconds,
        pool_size=settings.database_pool_size,
        pooler=settings.database_pooler,
    )
    if tracing is not None:
        tracing.instrument(db.engine)
    # Strawberry's page with its files served here: PATCHBAY_GRAPHIQL_ASSETS or the npm cache
    graphiql = (
        graphiql_front(settings.graphiql_assets, cache=default_cache())
        if settings.graphiql
        else None
    )
    authenticator = Authenticator(settings, db)  # one token cache for both fronts
    prompts_url = settings.prompts_url.rstrip("/")
    redis = _redis(settings)  # one client per process, for everything shared
    shared = _shared_documents(settings, redis)
    metrics, metrics_endpoint = (
        build_metrics(db, settings.metrics_token_value, [shared] if shared else [])
        if settings.metrics_enabled
        else (None, None)
    )
    admission = _admission(settings, db, metrics, redis)  # one set of buckets for both fronts
    changes, listener = change_feed(settings, db)
    graphql = _graphql_front(
        settings,
        db,
        authenticator,
        graphiql.page if graphiql else None,
        metrics,
        admission,
        tracing,
        PersistedQueries(shared=shared),
        changes,
    )
    observer = RequestObserver(
        metrics,
        metered_paths=frozenset({GRAPHQL_PATH}),
        trace_id=tracing.current_trace_id if tracing else None,
    )
    graphql.on_websocket_operation = observer.finished  # one line per WebSocket operation
    middleware = [  # outermost first: every response, preflights too, carries the request id
        *(tracing.middleware() if tracing else []),  # the server span encloses everything
        Middleware(EdgeMiddleware, on_finished=observer.finished),
        *cors_middleware(settings.cors_origin_list),
        Middleware(
            BodyLimitMiddleware, max_bytes=settings.max_body_bytes, refusal_for=edge_refusal
        ),
    ]
    rest = rest_routes(
        db=db,
        authenticator=authenticator,
        prompts_url=prompts_url,
        throttle=admission.throttle,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
    )
    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, graphql),
        WebSocketRoute(GRAPHQL_PATH, graphql),  # subscriptions (graphql-transport-ws)
        *rest,
        *health_routes(partial(check_ready, db), timeout_seconds=settings.database_timeout_seconds),
    ]
    if metrics_endpoint is not None:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    if graphiql:  # a browser pointed at the server's root lands in GraphiQL
        routes += [*graphiql.routes, Route("/", _to_graphiql, methods=["GET"])]
    if settings.development_keys:
        log.warning(DEVELOPMENT_WARNING)
    app = Gateway(
        hot_path=GRAPHQL_PATH,
        hot_endpoint=graphql,
        direct_routes=rest,  # the REST front answers its own failures
        routes=routes,
        middleware=middleware,
        exception_handlers=ROUTER_REFUSALS,  # JSON, not Starlette's text/plain 404 and 405
        lifespan=_lifespan(db, tracing, redis, listener, _leases_of(admission, redis)),
    )
    app.state.settings = settings
    app.state.db = db
    app.state.graphql = graphql
    app.state.tracing = tracing
    return app


def _tracing(environ: Mapping[str, str]) -> Tracing | None:
    """None unless OTEL_* variables ask for traces: then OpenTelemetry is imported, not before."""
    if not tracing_requested(environ):
        return None
    from gateway.tracing.provider import Tracing

    return Tracing(exporter_of(environ))


def _graphql_front(
    settings: Settings,
    db: Database,
    authenticator: Authenticator,
    graphiql_page: str | None,
    metrics: RequestMetrics | None,
    admission: Admission,
    tracing: Tracing | None,
    persisted: PersistedQueries,
    changes: Hub,
) -> PatchbayGraphQL:
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
    planned = (
        PlannedExecutor(schema, PLANNABLE_ROOTS, records=RECORDS) if settings.fast_path else None
    )
    trusted = load_manifests(
        settings.trusted_document_paths,
        policy=settings.trusted_documents_policy,
        schema=schema,
        planned=planned,
        max_tokens=settings.max_tokens,
    )
    view: Callable[..., PatchbayGraphQL] = PatchbayGraphQL
    if tracing is not None:
        from gateway.graphql.traced_view import TracedGraphQL

        view = partial(TracedGraphQL, tracer=tracing.tracer)
    return view(
        schema,
        db=db,
        authenticator=authenticator,
        prompts_url=settings.prompts_url.rstrip("/"),
        graphiql=settings.graphiql,
        graphiql_page=graphiql_page,
        planned=planned,
        admission=admission,
        persisted=persisted,
        trusted=trusted,
        on_untrusted=_log_untrusted(metrics),
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        changes=changes,
        subscriptions_per_connection=settings.subscriptions_per_connection,
        connections_per_principal=settings.connections_per_principal,
        connection_init_seconds=settings.connection_init_seconds,
    )


def _redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    # Imported only when used: redis-py imports OpenTelemetry, which tracing keeps out
    from gateway.shared_state import redis_client

    return redis_client(settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)


def _shared_documents(settings: Settings, redis: Redis | None) -> SharedDocuments | None:
    if redis is None:
        return None
    from gateway.graphql.shared_documents import SharedDocuments

    return SharedDocuments(
        redis, prefix=settings.redis_key_prefix, max_chars=settings.max_document_chars
    )


def _admission(
    settings: Settings, db: Database, metrics: RequestMetrics | None, redis: Redis | None
) -> Admission:
    throttle = None
    if settings.rate_limit:
        unreachable = metrics.limiter_unreachable.inc if metrics else (lambda: None)
        buckets: Buckets = LocalBuckets()
        if redis is not None:
            buckets = _shared_buckets(settings, redis, unreachable)
        throttle = Throttle(
            buckets,
            default=Limit(settings.rate_limit_maximum, settings.rate_limit_restore_rate),
            anonymous=Limit(
                settings.rate_limit_anonymous_maximum, settings.rate_limit_anonymous_restore_rate
            ),
            overrides=organization_limits(db),
            fail_open=settings.rate_limit_redis_failure == "open",
            hold_seconds=settings.rate_limit_hold_seconds,
        )
    return Admission(
        report_cost=settings.operation_cost,
        max_cost=settings.max_operation_cost if settings.operation_cost else None,
        throttle=throttle,
        on_throttled=metrics.throttled.inc if metrics else (lambda: None),
    )


def _shared_buckets(settings: Settings, redis: Redis, unreachable: Callable[[], None]) -> Buckets:
    from gateway.throttle.leases import LeasedBuckets
    from gateway.throttle.redis_buckets import RedisBuckets

    shared = RedisBuckets(redis, prefix=settings.redis_key_prefix, on_unreachable=unreachable)
    if settings.rate_limit_lease_fraction == 0:
        return shared
    return LeasedBuckets(
        shared,
        fraction=settings.rate_limit_lease_fraction,
        idle_seconds=settings.rate_limit_lease_idle_seconds,
    )


def _leases_of(admission: Admission, redis: Redis | None) -> LeasedBuckets | None:
    if redis is None or admission.throttle is None:
        return None
    from gateway.throttle.leases import LeasedBuckets

    buckets = admission.throttle.buckets
    return buckets if isinstance(buckets, LeasedBuckets) else None


def _log_untrusted(metrics: RequestMetrics | None) -> Callable[[str | None], None]:
    def untrusted(operation: str | None) -> None:
        if metrics is not None:
            metrics.untrusted_document(operation)

    return untrusted


async def _to_graphiql(_: Request) -> RedirectResponse:
    return RedirectResponse(GRAPHQL_PATH, status_code=307)


def _lifespan(
    db: Database,
    tracing: Tracing | None,
    redis: Redis | None,
    listener: Listener | None,
    leases: LeasedBuckets | None,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, engine, caches) lives as long as the process: keep
        # it out of the garbage collector's full scans, which otherwise stall the loop for ms.
        gc.collect()
        gc.freeze()
        returning = asyncio.create_task(leases.keep_returning()) if leases else None
        yield
        if returning is not None and leases is not None:
            returning.cancel()
            with suppress(asyncio.CancelledError):
                await returning
            await leases.return_idle(math.inf)  # what this process holds goes back to Redis
        if listener is not None:
            await listener.close()
        await db.dispose()
        if redis is not None:
            await redis.aclose()
        if tracing is not None:
            tracing.shutdown()

    return lifespan


def app_from_environment() -> Starlette:
    """uvicorn's factory: settings are read once, here."""
    try:
        return create_app(Settings())
    except TracingMisconfigured as error:  # one line, not uvicorn's traceback
        print(f"patchbay: cannot serve: {error}", file=sys.stderr)
        raise SystemExit(2) from None
