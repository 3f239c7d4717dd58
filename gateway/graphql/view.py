"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

import json
from collections.abc import Callable
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
from strawberry.types import ExecutionResult

from db.database import Database
from db.storable import is_storable
from gateway.authorization import authorization_header
from gateway.graphql.admission import Admission, Gate
from gateway.graphql.persisted_queries import NOT_FOUND, PersistedQueries, PersistedQueryError
from gateway.graphql.transport import (
    JSON_HEADERS,
    NO_SUB_RESPONSE,
    decode_json,
    encode_json,
    media_type,
    read_body,
)
from gateway.graphql.trusted_documents import TrustedDocuments
from gateway.http.request_id import current_request_id
from gateway.identity.authenticator import Authenticator
from gateway.observe.observed import STATE_KEY
from resolvers.access import GRAPHQL_FREEFORM
from schema.admission import NotAdmitted
from schema.context import Context
from schema.planned.executor import PlannedExecutor
from schema.request_errors import format_error
from schema.schema import PatchbaySchema


class PatchbayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: PatchbaySchema,
        *,
        db: Database,
        authenticator: Authenticator,
        prompts_url: str,
        graphiql: bool,
        graphiql_page: str | None = None,
        planned: PlannedExecutor | None = None,
        admission: Admission | None = None,
        trusted: TrustedDocuments | None = None,
        on_untrusted: Callable[[str | None], None] = lambda _: None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.documents = schema  # the document store and costings (BaseSchema for Strawberry)
        self.planned = planned
        self.admission = admission if admission is not None and admission.active else None
        self.trusted = trusted or TrustedDocuments()
        self.on_untrusted = on_untrusted
        self.persisted = PersistedQueries()
        self.graphiql_page = graphiql_page  # None: Strawberry's page, its files from a CDN
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.admission is not None:
            gate = self._context(Request(scope)).gate
            assert gate is not None
            send = gate.wrap(send)  # the refusal's status, RateLimit headers, refunds
        if scope["type"] == "http" and scope["method"] == "GET":
            resolved = await self._resolve_persisted_get(scope)
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
        persisted, trusted = False, False
        if "documentId" in data:
            trusted = persisted = True
            query = self._trusted_body(query, data["documentId"])
            if isinstance(query, PersistedQueryError):
                return self._refused(request, query.message, code=query.code, status=query.status)
        elif isinstance(extensions, dict) and "persistedQuery" in extensions:
            persisted = True
            try:
                query, trusted = self._resolve_persisted(query, extensions["persistedQuery"])
            except PersistedQueryError as error:
                return self._refused(request, error.message, code=error.code, status=error.status)
        if isinstance(query, str):
            refusal = await self._admit_document(request, query, operation, trusted=trusted)
            if refusal is not None:
                return refusal
        planned = await self._run_planned(request, data, query, operation)
        if planned is not None:
            return planned
        return self.encode_json({**data, "query": query}) if persisted else None

    async def _run_planned(
        self, request: Request, data: dict[str, Any], query: Any, operation: str | None
    ) -> _Answer | Response | None:
        """The response of a planned document (or its refusal); None when Strawberry must
        answer."""
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
        context = self._context(request)
        gate, cost = context.gate, None
        if gate is not None:
            cost = self.documents.costs.known(query, operation)
            if cost is None:
                return None  # Strawberry's path works the costing out again
            try:
                await gate.admit(cost.requested(variables))
            except NotAdmitted as refusal:
                return self._not_admitted(request, refusal)
        result = await self.planned.execute(plan, context, variables)
        if result is None:
            return None
        self._count_untrusted(request, context)
        if gate is not None and cost is not None:
            result["extensions"] = {"cost": gate.cost(cost.actual(result.get("data")))}
        return _Answer(self.encode_json(result))

    async def _resolve_persisted_get(self, scope: Scope) -> Scope | Response:
        """A GET with a document id or a persisted-query hash runs the document it stands
        for; any GET document meets the trusted-documents policy and the rate limit."""
        scope.setdefault("state", {})
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        query: Any = params.get("query", [None])[0]
        operation = params.get("operationName", [None])[0]
        raw = params.get("extensions", [None])[0]
        trusted, resolved = False, False
        if "documentId" in params:
            trusted = resolved = True
            query = self._trusted_body(query, params["documentId"][0])
        elif raw is not None and "persistedQuery" in raw:
            try:
                persisted = json.loads(raw)["persistedQuery"]
            except (ValueError, TypeError, KeyError):
                return scope  # Strawberry answers a malformed `extensions` itself
            try:
                query, trusted = self._resolve_persisted(query, persisted)
                resolved = True
            except PersistedQueryError as error:
                query = error
        if isinstance(query, PersistedQueryError):
            return self._refused(
                Request(scope), query.message, code=query.code, status=query.status
            )
        if isinstance(query, str):
            refusal = await self._admit_document(Request(scope), query, operation, trusted=trusted)
            if refusal is not None:
                return refusal
        if not resolved:
            return scope
        params.pop("documentId", None)
        params["query"] = [query]
        return {**scope, "query_string": urlencode(params, doseq=True).encode()}

    def _trusted_body(self, query: Any, document_id: Any) -> str | PersistedQueryError:
        """The trusted document a `documentId` names."""
        if query is not None:
            return PersistedQueryError("send either `query` or `documentId`", "BAD_REQUEST", 400)
        body = self.trusted.body_of(document_id) if isinstance(document_id, str) else None
        if body is None:
            return PersistedQueryError(
                "No trusted document has this documentId", "TRUSTED_DOCUMENT_NOT_FOUND", 400
            )
        return body

    def _resolve_persisted(self, query: Any, persisted: Any) -> tuple[str, bool]:
        """Apollo's persisted-query extension: a trusted document by its hash first, then
        the automatic store, which learns nothing where only trusted documents run."""
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if query is None and isinstance(digest, str):
            body = self.trusted.body_of(digest)
            if body is not None:
                return body, True
        if self.trusted.policy == "enforce":
            if query is None:
                self.persisted.check(persisted)
                raise PersistedQueryError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200)
            return self.persisted.verify(query, persisted), False
        return self.persisted.resolve(query, persisted), False

    async def _admit_document(
        self, request: Request, query: str, operation: str | None, *, trusted: bool
    ) -> Response | None:
        """The trusted-documents policy, then the rate limit's look before parsing."""
        policy = self.trusted.policy
        if policy != "off" and not trusted and not self.trusted.trusts(query):
            if policy == "log":
                request.scope["state"][_UNTRUSTED_KEY] = query  # counted once it has run
            else:
                principal = await self._context(request).principal()
                if principal is None or GRAPHQL_FREEFORM not in principal.scopes:
                    return self._refused(
                        request,
                        "Only trusted documents run here: send a documentId, or use a "
                        f"credential with the {GRAPHQL_FREEFORM} scope",
                        code="TRUSTED_DOCUMENTS_ONLY",
                        status=403,
                    )
        gate = self._context(request).gate
        if gate is None:
            return None
        known = (
            self.planned is not None and self.planned.plan_for(query, operation) is not None
        ) or self.documents.documents.knows(query)
        refusal = await gate.before_parsing(query, known)
        return self._not_admitted(request, refusal) if refusal is not None else None

    def _count_untrusted(self, request: Request, context: Context) -> None:
        """An untrusted document that ran (policy `log`): counted by its operation's name,
        and logged the first time."""
        query = request.scope["state"].pop(_UNTRUSTED_KEY, None)
        if query is not None:
            self.on_untrusted(context.operation)
            self.trusted.log_once(query, context.operation)

    def _not_admitted(self, request: Request, refusal: NotAdmitted) -> Response:
        extensions = {"code": refusal.code, "requestId": _request_id(request), **refusal.extensions}
        body = {"errors": [{"message": refusal.message, "extensions": extensions}]}
        return Response(
            self.encode_json(body), status_code=refusal.status, media_type="application/json"
        )

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
        return self._context(request)

    def _context(self, request: Request | WebSocket) -> Context:
        """The request's one context, made the first time something asks for it."""
        state = request.scope.setdefault("state", {})
        context: Context | None = state.get(STATE_KEY)
        if context is not None:
            return context
        context = Context(
            request_id=_request_id(request),
            db=self.db,
            prompts_url=self.prompts_url,
            authenticate=partial(
                self.authenticator.authenticate, authorization_header(request.scope["headers"])
            ),
        )
        if self.admission is not None:
            client = request.scope.get("client")
            context.gate = self.admission.gate(context.principal, client[0] if client else None)
            context.admit = context.gate.admit
        # The access log reads it after the response: operation, results, principal.
        state[STATE_KEY] = context
        return context

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: dict[str, Any] = {"data": result.data}
        context = request.scope.get("state", {}).get(STATE_KEY)
        gate: Gate | None = getattr(context, "gate", None)
        if gate is not None and any(_not_admitted(e) for e in result.errors or ()):
            del response["data"]  # a request error: nothing ran
        if isinstance(context, Context):
            self._count_untrusted(request, context)
        key = request.scope.get("state", {}).get(_LEARN_KEY)
        if key is not None and self.planned is not None and _document_was_valid(result):
            self.planned.learn(*key)
        if result.errors:
            request_id = _request_id(request)
            response["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        if gate is not None:
            actual = context.actual_cost if isinstance(context, Context) else None
            response["extensions"] = {**(result.extensions or {}), "cost": gate.cost(actual)}
        return response  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class _Answer:
    """A planned document's 200 JSON response body, sent without a Response object."""

    body: bytes


_DICT_OR_NONE = (dict, type(None))
_LEARN_KEY = "planned_executor_learns"  # scope state: the document to plan if it runs
_UNTRUSTED_KEY = "untrusted_document"  # scope state: an untrusted document let through


def _not_admitted(error: Any) -> bool:
    return isinstance(getattr(error, "original_error", None), NotAdmitted)


def _document_was_valid(result: ExecutionResult) -> bool:
    # Request errors (parse, validation, variable coercion) have no path; field errors do.
    return all(error.path is not None for error in result.errors or ())


def _request_id(request: Request | WebSocket) -> str:
    return current_request_id(request.scope)
