"""Strawberry's ASGI view with Patchbay's context and error format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import suppress
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from db.database import Database
from db.errors import DatabaseUnavailable
from gateway.authorization import authorization_header
from gateway.graphql.admission import Admission, Gate
from gateway.graphql.connections import TOO_MANY_CONNECTIONS, Connections, CountedStream
from gateway.graphql.event_stream import SubscriptionsOnly, wants_event_stream
from gateway.graphql.idempotency import Idempotency
from gateway.graphql.negotiation import JSON, ResponseMedia, response_media
from gateway.graphql.parameters import checked_parameters
from gateway.graphql.persisted_queries import NOT_FOUND, PersistedQueries, PersistedQueryError
from gateway.graphql.refusals import (
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    NOT_JSON,
    UNSUPPORTED_MEDIA_TYPE,
    Refusal,
    refusal_of,
)
from gateway.graphql.transport import (
    BODY_DECODED,
    PERSISTED_QUERY_MISSED,
    decode_json,
    encode_json,
)
from gateway.graphql.trusted_documents import TrustedDocuments
from gateway.graphql.websocket import Finished, GatedTransportWS
from gateway.http.media_type import utf8_media_type
from gateway.http.refusal import refusal_document
from gateway.http.request_body import BODY_READ, header, read_body
from gateway.http.request_id import current_request_id
from gateway.identity.authenticator import Authenticator
from gateway.observe.observed import STATE_KEY
from resolvers.access import GRAPHQL_FREEFORM
from schema.admission import NotAdmitted
from schema.context import Context
from schema.planned.executor import PlannedExecutor
from schema.request_errors import MASKED_MESSAGES, format_error
from schema.schema import PatchbaySchema


class _TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames, which clients expect (encode_json
    gives bytes, for HTTP bodies)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(json.dumps(message, separators=(",", ":")))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        # A close frame's reason holds 123 bytes of UTF-8: Strawberry's reasons quote the
        # client's text (an unknown operation's name, a syntax error's token), and one too
        # long, or a lone surrogate, made the server drop the connection (1006) instead.
        await super().close(code, close_reason(reason))


class PatchbayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = _TextFrames
    graphql_transport_ws_handler_class = GatedTransportWS
    stream_transport_classes_by_protocol = {GRAPHQL_SSE_PROTOCOL: SubscriptionsOnly}
    # Each WebSocket operation's access line and metrics, when it ends (app.py sets it)
    on_websocket_operation: Finished | None = None

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
        persisted: PersistedQueries | None = None,
        idempotency_ttl_seconds: float = 86_400.0,
        changes: Any = None,  # the process's change feed (gateway/changes/): subscriptions
        subscriptions_per_connection: int = 20,
        connections_per_principal: int = 10,
        connection_init_seconds: float = 10.0,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            # graphql-transport-ws only: the legacy graphql-ws protocol stays off
            # and GraphQL over SSE (event_stream.py)
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
            max_subscriptions_per_connection=subscriptions_per_connection,
            connection_init_wait_timeout=timedelta(seconds=connection_init_seconds),
        )
        self.changes = changes
        self.connections = Connections(connections_per_principal)
        self.documents = schema  # the document store and costings (BaseSchema for Strawberry)
        self.planned = planned
        self.admission = admission if admission is not None and admission.active else None
        throttle = None if self.admission is None else self.admission.throttle
        # The cost cap alone adds no headers, and only a refusal on Strawberry's path (a
        # result, not a raise) needs its status set: only Strawberry's answers are wrapped
        self._caps_alone = (
            throttle is None and self.admission is not None and self.admission.max_cost is not None
        )
        # The clients refused moments ago, read without a call: empty (false) nearly always
        self._refusals = throttle.refused if throttle is not None else {}
        self._limits_rate = throttle is not None
        self.trusted = trusted or TrustedDocuments()
        self.on_untrusted = on_untrusted
        self.persisted = persisted if persisted is not None else PersistedQueries()
        self.idempotency = Idempotency(
            db=db,
            authenticator=authenticator,
            ttl_seconds=idempotency_ttl_seconds,
            persisted=self.persisted,
            trusted=self.trusted,
        )
        self.graphiql_page = graphiql_page  # None: Strawberry's page, its files from a CDN
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        """The coroutine that answers: where no refusal is looked for first, the next
        layer's own, with no frame of this method kept for the whole request."""
        if scope["type"] != "http":
            return super().__call__(scope, receive, send)
        request = Request(scope, receive)
        if self._limits_rate:
            gate = self._context(request).gate
            assert gate is not None
            # Outermost: a refusal's status and hold, the RateLimit headers and give-backs
            # apply to the answer as it leaves, after any transaction of an idempotent request.
            send = gate.wrap(send)
            if self._refusals:
                return self._admitted_first(request, gate, send)
        return self._answering(request, send)

    async def _admitted_first(self, request: Request, gate: Gate, send: Send) -> None:
        scope, receive = request.scope, request.receive
        try:
            refused = await gate.refusing()  # before the body is read or any claim
        except DatabaseUnavailable:
            await self._refused(request, UNAVAILABLE)(scope, receive, send)
            return
        if refused is not None:
            await self._not_admitted(request, refused)(scope, receive, send)
            return
        await self._answering(request, send)

    def _answering(self, request: Request, send: Send) -> Coroutine[Any, Any, None]:
        scope, receive = request.scope, request.receive
        # A POST with an Idempotency-Key (or @idempotent) is answered once per key: idempotency.py
        if scope["method"] == "POST" and not wants_event_stream(header(request, b"accept") or ""):
            return self.idempotency(scope, receive, send, self._handle)
        return self._handle(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            await self._serve(request, send)
        except Refusal as refusal:
            await self._refused(request, refusal)(scope, receive, send)
        except NotAdmitted as refusal:
            await self._not_admitted(request, refusal)(scope, receive, send)
        except DatabaseUnavailable:  # authenticating, or an organization's own rate limit
            await self._refused(request, UNAVAILABLE)(scope, receive, send)

    async def _serve(self, request: Request, send: Send) -> None:
        scope, receive = request.scope, request.receive
        if scope["method"] not in ("GET", "POST"):
            raise METHOD_NOT_ALLOWED
        media = self._negotiated(request)
        if scope["method"] == "GET":
            await self._run_strawberry(await self._resolve_persisted_get(scope), receive, send)
            return
        body = scope["state"].pop(BODY_READ, None)  # read by idempotency.py: most requests
        if body is None:
            body = await read_body(receive)
        answered = await self._answer_directly(request, body)
        if isinstance(answered, _Answer):
            gate = answered.gate
            if getattr(send, "__self__", None) is gate and gate is not None:  # its wrapper
                length = (b"content-length", b"%d" % len(answered.body))
                await gate.answer([*media.headers, length], answered.body)
                return
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
        accept = header(request, b"accept") or ""
        streams = wants_event_stream(accept)
        media = JSON if streams else response_media(accept)  # refusals: JSON
        if streams and (gate := self._context(request).gate) is not None:
            gate.keep = True  # a subscription keeps its charge
        if media is None:
            if not self.should_render_graphql_ide(request):
                raise NOT_ACCEPTABLE
            media = JSON
        request.scope.setdefault("state", {})[_MEDIA_KEY] = media
        return media

    async def _run_strawberry(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._caps_alone:
            gate = self._context(request).gate
            assert gate is not None  # every request has one with admission on
            send = gate.wrap(send)
        try:
            response = await self.run(request)
        except HTTPException as error:
            raise refusal_of(error, scope["method"]) from None
        await response(scope, receive, send)

    async def _answer_directly(self, request: Request, body: bytes) -> _Answer | bytes | None:
        """Refuses malformed requests and answers planned documents itself. Otherwise leaves
        the request to Strawberry: as it came (None), or with the document a persisted-query
        hash stands for written into the body (bytes)."""
        # (the body is read as JSON in UTF-8: another charset is refused, not misread)
        if utf8_media_type(header(request, b"content-type") or "") != "application/json":
            raise UNSUPPORTED_MEDIA_TYPE
        decoded = request.scope["state"].pop(BODY_DECODED, None)  # by idempotency.py
        try:
            data = checked_parameters(decoded if decoded is not None else self.decode_json(body))
        except json.JSONDecodeError:
            raise NOT_JSON from None
        query, operation, extensions = (
            data.get("query"),
            data.get("operationName"),
            data.get("extensions"),
        )
        persisted, trusted = False, False
        if "documentId" in data:
            trusted = persisted = True
            query = self.trusted_body(query, data["documentId"])
        elif isinstance(extensions, dict) and "persistedQuery" in extensions:
            persisted = True
            missed = request.scope["state"].pop(PERSISTED_QUERY_MISSED, False)
            query, trusted = await self.resolve_persisted(
                query, extensions["persistedQuery"], missed=missed
            )
        if isinstance(query, str):
            planned = await self._run_planned(request, data, query, operation, trusted)
            if planned is not None:
                return planned
        if not persisted:
            return None
        data = {k: v for k, v in data.items() if k != "documentId"}
        return self.encode_json({**data, "query": query})

    async def _run_planned(
        self,
        request: Request,
        data: dict[str, Any],
        query: str,
        operation: str | None,
        trusted: bool,
    ) -> _Answer | None:
        """Admits the document; then the response of a planned one, or None when Strawberry
        must answer."""
        variables, plan, looked = data.get("variables"), None, False
        if (
            self.planned is not None
            and isinstance(variables, _DICT_OR_NONE)
            and isinstance(data.get("extensions"), _DICT_OR_NONE)
            # any case (RFC 9110 8.3.1): what Strawberry and the event stream's test read
            and "multipart" not in (accept := (header(request, b"accept") or "").lower())
            and "event-stream" not in accept
        ):
            plan, looked = self.planned.plan_for(query, operation), True
            if plan is None:
                request.scope["state"][_LEARN_KEY] = (query, operation)  # learn it if it runs
        planned = plan is not None if looked else None  # None: admit_document looks
        await self._admit_document(request, query, operation, trusted=trusted, planned=planned)
        if plan is None:
            return None
        assert self.planned is not None  # the plan came from it
        context = self._context(request)
        gate, cost = context.gate, None
        if gate is not None:
            cost = self.documents.costs.known(query, operation)
            if cost is None:
                return None  # Strawberry's path works the costing out again
            requested = cost.fixed if cost.fixed is not None else cost.requested(variables)
            await gate.admit(requested)  # raises NotAdmitted
        result = await self.planned.execute(plan, context, variables)
        if result is None:
            return None
        self._count_untrusted(request, context)
        if gate is not None and cost is not None:
            # with an error, what ran is not in the data: nothing is given back
            actual = gate.requested if "errors" in result else cost.actual(result.get("data"))
            result["extensions"] = {"cost": gate.cost(actual)}
        return _Answer(self.encode_json(result), gate)

    async def _resolve_persisted_get(self, scope: Scope) -> Scope:
        """A GET with a document id or a persisted-query hash runs the document it stands
        for; any GET document meets the trusted-documents policy and the rate limit. The
        parameters are read once, as Starlette reads them (a repeated one is refused), and
        Strawberry gets exactly those: what was checked is what runs."""
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        params: dict[str, str] = {}
        for name, value in pairs:
            if name in params and name in GET_PARAMETERS:
                raise Refusal(f"`{name}` is given more than once")
            params.setdefault(name, value)
        query: Any = params.get("query")
        operation, raw = params.get("operationName"), params.get("extensions")
        trusted = False
        if "documentId" in params:
            trusted = True
            query = self.trusted_body(query, params.pop("documentId"))
        elif raw is not None and (persisted := _persisted_of(raw)) is not _ABSENT:
            query, trusted = await self.resolve_persisted(query, persisted)
        if isinstance(query, str):
            await self._admit_document(Request(scope), query, operation, trusted=trusted)
            params["query"] = query
        return {**scope, "query_string": urlencode(params).encode()}

    def trusted_body(self, query: Any, document_id: Any) -> str:
        """The trusted document a `documentId` names."""
        if query is not None:
            raise Refusal("Send either `query` or `documentId`, not both")
        body = self.trusted.body_of(document_id) if isinstance(document_id, str) else None
        if body is None:
            raise Refusal("No trusted document has this documentId", "TRUSTED_DOCUMENT_NOT_FOUND")
        return body

    async def resolve_persisted(
        self, query: Any, persisted: Any, *, missed: bool = False
    ) -> tuple[str, bool]:
        """Apollo's persisted-query extension: a trusted document by its hash first, then
        the automatic store, which learns nothing where only trusted documents run.
        `missed`: the store was asked for this hash in vain already (idempotency.py)."""
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        try:
            if query is None and isinstance(digest, str):
                body = self.trusted.body_of(digest)
                if body is not None:
                    return body, True
            if self.trusted.policy == "enforce":
                if query is None:
                    self.persisted.check(persisted)
                    raise PersistedQueryError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200)
                return self.persisted.verify(query, persisted), False
            if missed and query is None:
                raise PersistedQueryError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200)
            return await self.persisted.resolve(query, persisted), False
        except PersistedQueryError as error:
            raise Refusal(error.message, error.code, error.status) from None

    async def _admit_document(
        self,
        request: Request,
        query: str,
        operation: str | None,
        *,
        trusted: bool,
        planned: bool | None = None,
    ) -> None:
        if await self.admit_document(self._context(request), query, operation, trusted, planned):
            request.scope["state"][_UNTRUSTED_KEY] = query  # counted once it has run

    async def admit_document(
        self,
        context: Context,
        query: str,
        operation: str | None,
        trusted: bool,
        planned: bool | None = None,
    ) -> bool:
        """The trusted-documents policy, then the rate limit's look before parsing: raises
        Refusal or NotAdmitted. True: an untrusted document let through (policy `log`),
        to be counted once it has run. (HTTP and WebSocket, gateway/graphql/websocket.py.)
        `planned`: whether a plan of the document was found (one is, of a valid document
        only); None: not looked up yet."""
        policy = self.trusted.policy
        untrusted = False
        if policy != "off" and not trusted and not self.trusted.trusts(query):
            if policy == "log":
                untrusted = True
            else:
                principal = await context.principal()
                if principal is None or GRAPHQL_FREEFORM not in principal.scopes:
                    raise Refusal(
                        "Only trusted documents run here: send a documentId, or use a "
                        f"credential with the {GRAPHQL_FREEFORM} scope",
                        "TRUSTED_DOCUMENTS_ONLY",
                        403,
                    )
        gate = context.gate
        if gate is None or not self._limits_rate:  # only the rate limit looks before parsing
            return untrusted
        if planned is None:
            planner = self.planned
            planned = planner is not None and planner.plan_for(query, operation) is not None
        known = planned or self.documents.documents.knows_valid(query)
        if known and not self._refusals:
            return untrusted  # what before_parsing would find, without its coroutine
        refusal = await gate.before_parsing(query, known)
        if refusal is not None:
            raise refusal
        return untrusted

    def _count_untrusted(self, request: Request, context: Context) -> None:
        query = request.scope["state"].pop(_UNTRUSTED_KEY, None)
        if query is not None:
            self.count_untrusted(query, context.operation)

    def count_untrusted(self, query: str, operation: str | None) -> None:
        """An untrusted document that ran (policy `log`): counted by its operation's name,
        and logged the first time."""
        self.on_untrusted(operation)
        self.trusted.log_once(query, operation)

    def _not_admitted(self, request: Request, refusal: NotAdmitted) -> Response:
        media = request.scope.get("state", {}).get(_MEDIA_KEY, JSON)
        document = refusal_document(
            refusal.message, code=refusal.code, request_id=_request_id(request)
        )
        document["errors"][0]["extensions"].update(refusal.extensions)
        return Response(self.encode_json(document), refusal.status, media_type=media.content_type)

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

    async def create_streaming_response(
        self,
        request: Request | WebSocket,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        # GraphQL over SSE (event_stream.py); `sub_response` is our ResponseMedia. A stream
        # is one of its principal's connections, as a WebSocket is (connections.py).
        assert isinstance(request, Request)
        principal = await self._context(request).principal()
        return CountedStream(
            stream(),
            headers,
            connections=self.connections,
            key=None if principal is None else (principal.org_id, principal.subject),
            refusal=self._refused(request, TOO_MANY_CONNECTIONS),
        )

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
        context.changes = self.changes  # subscriptions: WebSocket and SSE (a POST refuses them)
        if isinstance(request, WebSocket):
            context.close = partial(_close, request)
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
        valid = _document_was_valid(result)
        # A request error (nothing ran) has no `data` entry at all, as the GraphQL spec says.
        response: dict[str, Any] = (
            {} if result.data is None and not valid else {"data": result.data}
        )
        context = request.scope.get("state", {}).get(STATE_KEY)
        if isinstance(context, Context):
            self._count_untrusted(request, context)
        key = request.scope.get("state", {}).get(_LEARN_KEY)
        if key is not None and self.planned is not None and valid:
            self.planned.learn(*key)
        if result.errors:
            request_id = _request_id(request)
            response["errors"] = [format_error(error, request_id) for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        gate: Gate | None = getattr(context, "gate", None)
        if gate is not None:
            actual = context.actual_cost if isinstance(context, Context) else None
            if gate.keep:  # a stream over SSE keeps its charge: it reports it as used
                actual = gate.requested
            response["extensions"] = {**(result.extensions or {}), "cost": gate.cost(actual)}
        return response  # type: ignore[return-value]


class _Answer(NamedTuple):
    """A planned document's 200 JSON response body, sent without a Response object."""

    body: bytes
    gate: Gate | None  # the request's, when it has one


_DICT_OR_NONE = (dict, type(None))
_LEARN_KEY = "planned_executor_learns"  # scope state: the document to plan if it runs
_MEDIA_KEY = "response_media"  # scope state: the ResponseMedia negotiated for the request
_UNTRUSTED_KEY = "untrusted_document"  # scope state: an untrusted document let through


MAX_CLOSE_REASON_BYTES = 123  # RFC 6455, 5.5: a control frame's 125 bytes, less the code
UNAVAILABLE = Refusal(MASKED_MESSAGES["SERVICE_UNAVAILABLE"], "SERVICE_UNAVAILABLE", 503)
GET_PARAMETERS = frozenset({"query", "operationName", "variables", "extensions", "documentId"})


_ABSENT = object()  # a GET's `extensions` names no persistedQuery


def _persisted_of(raw: str) -> Any:
    """`extensions.persistedQuery` of a GET's `extensions` parameter, whatever it holds (a
    malformed one is refused as over POST); _ABSENT when there is none (Strawberry then
    refuses a malformed `extensions` itself)."""
    try:
        extensions = decode_json(raw)
    except ValueError:  # (decode_json's one error: too deep nesting too, not a 500)
        return _ABSENT
    return extensions.get("persistedQuery", _ABSENT) if isinstance(extensions, dict) else _ABSENT


def _document_was_valid(result: ExecutionResult) -> bool:
    # Request errors (parse, validation, variable coercion) have no path; field errors do.
    return all(error.path is not None for error in result.errors or ())


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with suppress(RuntimeError):  # closed already
        await websocket.close(code, reason)


def close_reason(reason: str) -> str:
    """`reason` cut to what a close frame holds, at a character's boundary."""
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return encoded.decode()
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


def _request_id(request: Request | WebSocket) -> str:
    return current_request_id(request.scope)
