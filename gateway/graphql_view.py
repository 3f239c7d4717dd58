"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from db.database import Database
from gateway.auth import Authenticator
from gateway.errors import format_error
from schema.context import Context


class PatchbayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        db: Database,
        authenticator: Authenticator,
        prompts_url: str,
        graphiql: bool,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            request_id=_request_id(request),
            db=self.db,
            prompts_url=self.prompts_url,
            authenticate=partial(
                self.authenticator.authenticate, request.headers.get("authorization")
            ),
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            request_id = _request_id(request)
            response["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response  # type: ignore[return-value]


def _request_id(request: Request | WebSocket) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
