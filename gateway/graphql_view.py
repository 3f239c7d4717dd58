"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
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

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:  # a caller's lone surrogate echoed back (an id)
            return json.dumps(data).encode()

    def decode_json(self, data: str | bytes) -> object:
        """Any undecodable body is a 400, not a 500: Strawberry answers 400 only for
        JSONDecodeError, while invalid UTF-8 and too deep nesting escape as other errors."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # e.g. a lone surrogate: the stdlib reads it and our rules then name the field
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as error:
            raise json.JSONDecodeError(type(error).__name__, "", 0) from None

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        # Our resolvers never set headers or a status: skip building a Response per request.
        return _NO_SUB_RESPONSE  # type: ignore[return-value]

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A JSON body that is no object (`"x"`, `5`, `null`) is a 400 too: Strawberry calls
        `.get` on it and would fail with AttributeError, a 500."""
        try:
            return await super().parse_http_body(request)
        except AttributeError:
            raise json.JSONDecodeError("not a JSON object", "", 0) from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context(
            request_id=_request_id(request),
            db=self.db,
            prompts_url=self.prompts_url,
            authenticate=partial(
                self.authenticator.authenticate, request.headers.get("authorization")
            ),
        )
        # The access log reads it after the response: operation, results, principal.
        request.scope.setdefault("state", {})["graphql"] = context
        return context

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


class _NoSubResponse:
    """What Strawberry reads from a sub-response when resolvers added nothing to it."""

    class _Headers:
        raw: tuple[tuple[bytes, bytes], ...] = ()

    headers = _Headers()
    status_code = None
    background = None


_NO_SUB_RESPONSE = _NoSubResponse()


def _request_id(request: Request | WebSocket) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
