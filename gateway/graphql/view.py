"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult

from db.database import Database
from db.storable import is_storable
from gateway.authorization import authorization_header
from gateway.graphql.negotiation import JSON, ResponseMedia, response_media
from gateway.graphql.parameters import checked_parameters
from gateway.graphql.persisted_queries import PersistedQueries, PersistedQueryError
from gateway.graphql.refusals import (
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    NOT_JSON,
    UNSUPPORTED_MEDIA_TYPE,
    Refusal,
    refusal_of,
)
from gateway.graphql.transport import (
    NO_SUB_RESPONSE,
    decode_json,
    encode_json,
    media_type,
    read_body,
)
from gateway.http.refusal import refusal_document
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
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.planned = planned
        self.persisted = PersistedQueries()
        self.graphiql_page = graphiql_page  # None: Strawberry's page, its files from a CDN
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await self._serve(request, send)
        except Refusal as refusal:
            await self._refused(request, refusal)(scope, receive, send)

    async def _serve(self, request: Request, send: Send) -> None:
        scope, receive = request.scope, request.receive
        if scope["method"] not in ("GET", "POST"):
            raise METHOD_NOT_ALLOWED
        media = self._negotiated(request)
        if scope["method"] == "GET":
            await self._run_strawberry(self._resolve_persisted_get(scope), receive, send)
            return
        body = await read_body(receive)
        answered = await self._answer_directly(request, body)
        if isinstance(answered, _Answer):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*media.headers, (b"content-length", b"%d" % len(answered.body))],
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

        await self._run_strawberry(scope, replay, send)

    def _negotiated(self, request: Request) -> ResponseMedia:
        """The response's media type, kept in the scope for Strawberry's half of the work."""
        media = response_media(request.headers.get("accept", ""))
        if media is None:
            if not self.should_render_graphql_ide(request):
                raise NOT_ACCEPTABLE
            media = JSON
        request.scope.setdefault("state", {})[_MEDIA_KEY] = media
        return media

    async def _run_strawberry(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            raise refusal_of(error, scope["method"]) from None
        await response(scope, receive, send)

    async def _answer_directly(self, request: Request, body: bytes) -> _Answer | bytes | None:
        """Refuses malformed requests and answers planned documents itself. Otherwise leaves
        the request to Strawberry: as it came (None), or with the document a persisted-query
        hash stands for written into the body (bytes)."""
        if media_type(request.headers.get("content-type", "")) != "application/json":
            raise UNSUPPORTED_MEDIA_TYPE
        try:
            data = checked_parameters(self.decode_json(body))
        except json.JSONDecodeError:
            raise NOT_JSON from None
        query, operation, extensions = (
            data.get("query"),
            data.get("operationName"),
            data.get("extensions"),
        )
        if isinstance(operation, str) and not is_storable(operation):
            raise Refusal("operationName must be a string of valid UTF-8")
        persisted = False
        if isinstance(extensions, dict) and "persistedQuery" in extensions:
            persisted = True
            try:
                query = self.persisted.resolve(query, extensions["persistedQuery"])
            except PersistedQueryError as error:
                raise Refusal(error.message, error.code, error.status) from None
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

    def _resolve_persisted_get(self, scope: Scope) -> Scope:
        """A GET with a persisted-query hash runs the document the hash stands for."""
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        raw = params.get("extensions", [None])[0]
        if raw is None or "persistedQuery" not in raw:
            return scope
        try:
            persisted = json.loads(raw)["persistedQuery"]
        except (ValueError, TypeError, KeyError):
            return scope  # Strawberry refuses a malformed `extensions` itself
        try:
            query = self.persisted.resolve(params.get("query", [None])[0], persisted)
        except PersistedQueryError as error:
            raise Refusal(error.message, error.code, error.status) from None
        params["query"] = [query]
        return {**scope, "query_string": urlencode(params, doseq=True).encode()}

    def _refused(self, request: Request, refusal: Refusal) -> Response:
        media = request.scope.get("state", {}).get(_MEDIA_KEY, JSON)
        document = refusal_document(
            refusal.message, code=refusal.code, request_id=_request_id(request)
        )
        status = media.request_error_status if refusal.status is None else refusal.status
        headers = {"allow": refusal.allow} if refusal.allow else None
        return Response(self.encode_json(document), status, headers, media.content_type)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Without GraphiQL, a GET without a query is the caller's 400, not Strawberry's 404.
        return self.graphql_ide is not None and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.graphiql_page is None:
            return await super().render_graphql_ide(request)
        return HTMLResponse(self.graphiql_page)

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        # Our resolvers never set headers or a status: no Response per request, only what
        # `create_response` needs, the media type negotiated for this request.
        return request.scope.get("state", {}).get(_MEDIA_KEY, JSON)  # type: ignore[no-any-return]

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media: ResponseMedia = sub_response  # type: ignore[assignment]
        # No `data`: a request error (see process_result), whose status the media decides.
        status = 200 if "data" in response_data else media.request_error_status
        return Response(self.encode_json(response_data), status, media_type=media.content_type)

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
        valid = _document_was_valid(result)
        # A request error (nothing ran) has no `data` entry at all, as the GraphQL spec says.
        response: dict[str, Any] = (
            {} if result.data is None and not valid else {"data": result.data}
        )
        key = request.scope.get("state", {}).get(_LEARN_KEY)
        if key is not None and self.planned is not None and valid:
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
_MEDIA_KEY = "response_media"  # scope state: the ResponseMedia negotiated for the request


def _document_was_valid(result: ExecutionResult) -> bool:
    # Request errors (parse, validation, variable coercion) have no path; field errors do.
    return all(error.path is not None for error in result.errors or ())


def _request_id(request: Request | WebSocket) -> str:
    return current_request_id(request.scope)
