"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from db.database import Database
from db.storable import is_storable
from gateway.authorization import authorization_header
from gateway.graphql.idempotency import Idempotency
from gateway.graphql.persisted_queries import PersistedQueries, PersistedQueryError
from gateway.graphql.transport import (
    JSON_HEADERS,
    NO_SUB_RESPONSE,
    decode_json,
    encode_json,
    media_type,
    read_body,
)
from gateway.http.request_id import current_request_id
from gateway.identity.authenticator import Authenticator
from gateway.observe.observed import STATE_KEY
from schema.context import Context
from schema.planned.executor import PlannedExecutor
from schema.request_errors import format_error


class PatchbayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        db: Database,
        authenticator: Authenticator,
        prompts_url: str,
        graphiql: bool,
        graphiql_page: str | None = None,
        planned: PlannedExecutor | None = None,
        idempotency_ttl_seconds: float = 86_400.0,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.planned = planned
        self.persisted = PersistedQueries()
        self.graphiql_page = graphiql_page  # None: Strawberry's page, its files from a CDN
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url
        self.idempotency = Idempotency(
            db=db,
            authenticator=authenticator,
            ttl_seconds=idempotency_ttl_seconds,
            persisted=self.persisted,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A POST with an Idempotency-Key (or @idempotent) is answered once per key: idempotency.py
        if scope["type"] == "http" and scope["method"] == "POST":
            await self.idempotency(scope, receive, send, self._serve)
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            resolved = self._resolve_persisted_get(scope)
            if isinstance(resolved, Response):
                await resolved(scope, receive, send)
                return
            scope = resolved
        if scope["type"] != "http" or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        body = await read_body(receive)
        answered = await self._answer_directly(request, body)
        if isinstance(answered, Response):
            await answered(scope, receive, send)
            return
        if isinstance(answered, _Answer):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*JSON_HEADERS, (b"content-length", b"%d" % len(answered.body))],
                }
            )
            await send({"type": "http.response.body", "body": answered.body})
            return
        body = answered or body
        replayed = False

        async def replay() -> Message:  # Strawberry reads the body again
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await super().__call__(scope, replay, send)

    async def _answer_directly(
        self, request: Request, body: bytes
    ) -> _Answer | Response | bytes | None:
        """Answers refusals and planned documents itself. Otherwise leaves the request to
        Strawberry: as it came (None), or with the document a persisted-query hash stands
        for written into the body (bytes)."""
        content_type = media_type(request.headers.get("content-type", ""))
        if "application/json" not in content_type:  # the test Strawberry applies
            return None
        try:
            data = self.decode_json(body)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, operation, extensions = (
            data.get("query"),
            data.get("operationName"),
            data.get("extensions"),
        )
        if not isinstance(operation, str | None) or (
            isinstance(operation, str) and not is_storable(operation)
        ):
            return self._refused(request, "operationName must be a string of valid UTF-8")
        persisted = False
        if isinstance(extensions, dict) and "persistedQuery" in extensions:
            persisted = True
            try:
                query = self.persisted.resolve(query, extensions["persistedQuery"])
            except PersistedQueryError as error:
                return self._refused(request, error.message, code=error.code, status=error.status)
        planned = await self._run_planned(request, data, query, operation)
        if planned is not None:
            return planned
        return self.encode_json({**data, "query": query}) if persisted else None

    async def _run_planned(
        self, request: Request, data: dict[str, Any], query: Any, operation: str | None
    ) -> _Answer | None:
        """The response of a planned document; None when Strawberry must answer."""
        variables, extensions = data.get("variables"), data.get("extensions")
        if not (
            self.planned is not None
            and isinstance(query, str)
            and isinstance(variables, _DICT_OR_NONE)
            and isinstance(extensions, _DICT_OR_NONE)
            and "multipart" not in request.headers.get("accept", "")
        ):
            return None
        plan = self.planned.plan_for(query, operation)
        if plan is None:
            request.scope["state"][_LEARN_KEY] = (query, operation)  # learn it if it runs
            return None
        context = await self.get_context(request, NO_SUB_RESPONSE)  # type: ignore[arg-type]
        result = await self.planned.execute(plan, context, variables)
        if result is None:
            return None
        return _Answer(self.encode_json(result))

    def _resolve_persisted_get(self, scope: Scope) -> Scope | Response:
        """A GET with a persisted-query hash runs the document the hash stands for."""
        scope.setdefault("state", {})
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        raw = params.get("extensions", [None])[0]
        if raw is None or "persistedQuery" not in raw:
            return scope
        try:
            persisted = json.loads(raw)["persistedQuery"]
        except (ValueError, TypeError, KeyError):
            return scope  # Strawberry answers a malformed `extensions` itself
        try:
            query = self.persisted.resolve(params.get("query", [None])[0], persisted)
        except PersistedQueryError as error:
            return self._refused(
                Request(scope), error.message, code=error.code, status=error.status
            )
        params["query"] = [query]
        return {**scope, "query_string": urlencode(params, doseq=True).encode()}

    def _refused(
        self, request: Request, message: str, *, code: str = "BAD_REQUEST", status: int = 400
    ) -> Response:
        extensions = {"code": code, "requestId": _request_id(request)}
        body = {"errors": [{"message": message, "extensions": extensions}]}
        return Response(self.encode_json(body), status_code=status, media_type="application/json")

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.graphiql_page is None:
            return await super().render_graphql_ide(request)
        return HTMLResponse(self.graphiql_page)

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        # Our resolvers never set headers or a status: skip building a Response per request.
        return NO_SUB_RESPONSE  # type: ignore[return-value]

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
                self.authenticator.authenticate, authorization_header(request.scope["headers"])
            ),
        )
        # The access log reads it after the response: operation, results, principal.
        request.scope.setdefault("state", {})[STATE_KEY] = context
        return context

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: dict[str, Any] = {"data": result.data}
        key = request.scope.get("state", {}).get(_LEARN_KEY)
        if key is not None and self.planned is not None and _document_was_valid(result):
            self.planned.learn(*key)
        if result.errors:
            request_id = _request_id(request)
            response["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class _Answer:
    """A planned document's 200 JSON response body, sent without a Response object."""

    body: bytes


_DICT_OR_NONE = (dict, type(None))
_LEARN_KEY = "planned_executor_learns"  # scope state: the document to plan if it runs


def _document_was_valid(result: ExecutionResult) -> bool:
    # Request errors (parse, validation, variable coercion) have no path; field errors do.
    return all(error.path is not None for error in result.errors or ())


def _request_id(request: Request | WebSocket) -> str:
    return current_request_id(request.scope)
