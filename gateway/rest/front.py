"""The REST front's routes: each resource's GET and PATCH, and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.database import Database
from gateway.identity.authenticator import Authenticator
from gateway.rest.endpoints import Endpoints
from gateway.rest.openapi import dumps
from gateway.rest.resources import RESOURCES
from gateway.throttle.throttle import Throttle

OPENAPI_PATH = "/openapi.json"


def rest_routes(
    *,
    db: Database,
    authenticator: Authenticator,
    prompts_url: str,
    throttle: Throttle | None = None,
    idempotency_ttl_seconds: float = 86_400.0,
) -> list[Route]:
    endpoints = Endpoints(
        db=db,
        authenticator=authenticator,
        prompts_url=prompts_url,
        throttle=throttle,
        idempotency_ttl_seconds=idempotency_ttl_seconds,
    )
    document = dumps().encode()  # built once: it depends on the code only

    async def openapi(_: Request) -> Response:
        return Response(document, media_type="application/json")

    return [
        *(endpoints.route(resource) for resource in RESOURCES),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
    ]
