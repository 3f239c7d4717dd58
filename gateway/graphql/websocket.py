"""graphql-transport-ws through the HTTP front's gate (docs/history.md, "WebSocket").

Strawberry's handler, with what Patchbay adds to each `subscribe` message:

- a context of its own: a request id (logs, history), the credential authenticated again
  (an expired or revoked one closes the connection with 4403), a gate of its own (the
  operation-cost cap and the client's rate-limit charge, settled when the operation ends);
- the payload's parameters checked as an HTTP request's (gateway/graphql/parameters.py), with
  the same refusals: `variables` that are not an object, an `operationName` that is not a
  string, ...;
- the trusted-documents policy, as over HTTP: `documentId`, `extensions.persistedQuery`, and
  free-form documents under `enforce` only with the `graphql:freeform` scope;
- subscriptions only: a query or mutation is refused (BAD_REQUEST; HTTP serves those);
- a refusal is an `error` message with the code and extensions HTTP gives, and the
  connection stays open;
- one access line and one metrics observation per operation, when it ends.

And to the connection: at most `connections_per_principal` open per principal in this
process, event streams included (connections.py; one more is closed with 4029).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.types import Scope
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,  # what its pre-execution error handler raises once it closed 4400
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from db.errors import DatabaseUnavailable
from db.history import REQUEST_ID
from gateway.graphql.parameters import checked_parameters
from gateway.graphql.refusals import NO_QUERY, Refusal
from gateway.http.refusal import refusal_document
from gateway.observe.observed import STATE_KEY
from schema.admission import NotAdmitted
from schema.context import Context
from schema.request_errors import format_error

if TYPE_CHECKING:
    from gateway.graphql.view import PatchbayGraphQL

# Close codes of ours (docs/history.md); 4400, 4401, 4406, 4408, 4409 and 4429 are
# Strawberry's, from the protocol.
CREDENTIAL_ENDED = (4403, "credential missing, expired or revoked")
TOO_MANY_CONNECTIONS = (4029, "too many connections for this principal")
UNAVAILABLE = (1013, "service unavailable, retry shortly")
SUBSCRIPTIONS_ONLY = Refusal(
    "Only subscriptions run over WebSocket: send queries and mutations over HTTP"
)
UNAVAILABLE_REFUSAL = Refusal(UNAVAILABLE[1], "SERVICE_UNAVAILABLE", 503)
# (scope, status, seconds): the access line and the metrics (gateway/http/edge.py's Finished)
Finished = Callable[[Scope, int, float], None]


class _CredentialEnded(Exception):
    pass


class GatedOperation(Operation[Context, None]):
    """Strawberry's operation, with the subscribe message's payload (documentId and
    extensions) and its own context."""

    __slots__ = ("context", "payload")

    def __init__(
        self,
        handler: GatedTransportWS,
        id: str,
        payload: dict[str, Any],
        context: Context,
    ) -> None:
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        super().__init__(handler, id, query, variables, operation_name)  # type: ignore[arg-type]
        self.payload = payload
        self.context = context

    async def send_initial_errors(self, errors: list[Any]) -> None:
        formatted = [format_error(error, self.context.request_id) for error in errors]
        await self.send_operation_message(_message(self.id, "error", formatted))

    async def send_next(self, execution_result: ExecutionResult) -> None:
        payload: dict[str, Any] = {"data": execution_result.data}
        if execution_result.errors:
            request_id = self.context.request_id
            payload["errors"] = [format_error(e, request_id) for e in execution_result.errors]
        if execution_result.extensions:
            payload["extensions"] = execution_result.extensions
        await self.send_operation_message(_message(self.id, "next", payload))


class GatedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    view: PatchbayGraphQL
    _claimed: tuple[Any, str] | None = None

    async def handle_message(self, message: Message) -> None:
        """Strawberry's, for messages that are JSON objects with a string `id` (if any): it
        would index anything else, and a list, a number or an unhashable id raised out of
        the handler (the connection dropped, 1006, with a traceback)."""
        raw: object = message
        if not isinstance(raw, dict) or not isinstance(raw.get("id", ""), str):
            await self.handle_invalid_message("Failed to parse message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Strawberry's, with authentication (connection_init's `Authorization`, else the
        upgrade's header) and the connections-per-principal limit before the ack."""
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload")
        if payload is None:  # the protocol's payload is optional, and may be null
            payload = {}
        if not isinstance(payload, dict):
            await self.websocket.close(4400, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(4429, "Too many initialisation requests")
            return
        self.connection_init_received = True
        self.context.connection_params = payload
        header = payload.get("Authorization")
        if isinstance(header, str):
            self.context.authenticate = partial(self.view.authenticator.authenticate, header)
        try:
            principal = await self.context.authenticate()
        except DatabaseUnavailable:
            await self.websocket.close(*UNAVAILABLE)
            return
        if principal is None:
            await self.websocket.close(*CREDENTIAL_ENDED)
            return
        key = (principal.org_id, principal.subject)
        if not self.view.connections.claim(key):
            await self.websocket.close(*TOO_MANY_CONNECTIONS)
            return
        self._claimed = key
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._claimed is not None:
            self.view.connections.release(self._claimed)
            self._claimed = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(4401, "Unauthorized")
            return
        if message["id"] in self.operations:
            await self.websocket.close(4409, f"Subscriber for {message['id']} already exists")
            return
        payload: Any = message["payload"]
        if not isinstance(payload, dict):
            raise KeyError("payload")  # Strawberry's "Failed to parse message" (4400)
        context = self._operation_context()
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            refusal = Refusal(
                f"At most {limit} operations per connection", "TOO_MANY_SUBSCRIPTIONS"
            )
            await self.send_message(_error(message["id"], refusal, context.request_id))
            self._finished(context, 429, 0.0)
            return
        operation = GatedOperation(self, message["id"], payload, context)
        operation.task = self._start(operation)
        self.operations[message["id"]] = operation

    def _start(self, operation: GatedOperation) -> asyncio.Task[None]:
        task = asyncio.create_task(self.run_operation(operation))
        task.add_done_callback(self._task_done)
        return task

    def _operation_context(self) -> Context:
        connection = self.context
        context = Context(
            request_id=os.urandom(16).hex(),
            db=connection.db,
            prompts_url=connection.prompts_url,
            authenticate=connection.authenticate,  # each operation authenticates again
            changes=connection.changes,
            connection_params=connection.connection_params,
            close=connection.close,
        )
        admission = self.view.admission
        if admission is not None:
            client = self.websocket.ws.scope.get("client")  # type: ignore[attr-defined]
            context.gate = admission.gate(context.principal, client[0] if client else None)
            context.admit = context.gate.admit
        return context

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        assert isinstance(operation, GatedOperation)
        context = operation.context
        REQUEST_ID.set(context.request_id)  # this task's own: history entries, logs
        started = time.perf_counter()
        status = 200
        try:
            try:
                query, untrusted = await self._admitted(operation)
            except (Refusal, NotAdmitted) as refusal:
                status = refusal.status or 400
                await operation.send_operation_message(
                    _error(operation.id, refusal, context.request_id)
                )
                return
            except _CredentialEnded:
                status = 401
                self.operations.pop(operation.id, None)
                await self.websocket.close(*CREDENTIAL_ENDED)
                return
            except DatabaseUnavailable:
                status = 503
                await operation.send_operation_message(
                    _error(operation.id, UNAVAILABLE_REFUSAL, context.request_id)
                )
                return
            source = await self.schema.stream(
                query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=(OperationType.SUBSCRIPTION,),
            )
            async with aclosing(source):
                status = await self._stream(operation, source, untrusted)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
            if context.credential_ended:
                self.operations.pop(operation.id, None)
                await self.websocket.close(*CREDENTIAL_ENDED)
        except _OperationStreamClosed:  # a document that cannot run: closed 4400, as Strawberry
            status = 400
            return
        except Exception as error:
            status = 500
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            await self._settle(context)
            self._finished(context, status, time.perf_counter() - started)

    async def _admitted(self, operation: GatedOperation) -> tuple[str, bool]:
        """The document to run, once the credential, the trusted-documents policy and the
        rate limit's look before parsing have let it through; and whether it is an
        untrusted one let through (policy `log`)."""
        context, payload, view = operation.context, operation.payload, self.view
        if await context.principal() is None:
            raise _CredentialEnded
        checked_parameters(payload)  # graphql-core would crash on `variables: [1]`, say
        query = payload.get("query")
        extensions = payload.get("extensions")
        trusted = False
        if "documentId" in payload:
            query, trusted = view.trusted_body(query, payload["documentId"]), True
        elif isinstance(extensions, dict) and "persistedQuery" in extensions:
            query, trusted = await view.resolve_persisted(query, extensions["persistedQuery"])
        if not isinstance(query, str):  # checked_parameters made sure there is one
            raise NO_QUERY
        untrusted = await view.admit_document(context, query, operation.operation_name, trusted)
        operation.query = query
        return query, untrusted

    async def _stream(self, operation: GatedOperation, source: Any, untrusted: bool) -> int:
        """Sends each result; the status the access line reports."""
        first = True
        async for result in source:
            if first and isinstance(result, PreExecutionError):
                assert result.errors
                error = result.errors[0]
                if isinstance(error.original_error, InvalidOperationTypeError):
                    await operation.send_operation_message(
                        _error(operation.id, SUBSCRIPTIONS_ONLY, operation.context.request_id)
                    )
                    return 400
                await self._handle_pre_execution_error(operation, result)
                gate = operation.context.gate
                return gate.status if gate is not None and gate.status else 400
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return 400
            refused = _refusal_in(result) if first else None
            if refused is not None:  # the cost cap or the rate limit (schema/admission.py)
                request_id = operation.context.request_id
                await operation.send_operation_message(_error(operation.id, refused, request_id))
                return refused.status
            if first and untrusted:  # counted once it has run, as over HTTP
                self.view.count_untrusted(operation.query, operation.context.operation)
            await operation.send_next(result)
            first = False
        return 200

    async def _settle(self, context: Context) -> None:
        gate = context.gate
        if gate is None:
            return
        if gate.requested is not None:
            gate.cost(gate.requested)  # a subscription keeps what it was charged: no give-back
        # settled, never held: a refused subscribe's task would sleep beside the connection,
        # uncounted (its operation is gone); over HTTP the hold slows the client's next request
        with suppress(DatabaseUnavailable):
            await gate.settle()

    def _finished(self, context: Context, status: int, seconds: float) -> None:
        finished = self.view.on_websocket_operation
        if finished is None:
            return
        scope = self.websocket.ws.scope  # type: ignore[attr-defined]
        state = {"request_id": context.request_id, STATE_KEY: context}
        finished(
            {"type": "websocket", "method": "WS", "path": scope["path"], "state": state},
            status,
            seconds,
        )


def _error(id: str, refusal: Refusal | NotAdmitted, request_id: str) -> Any:
    document = refusal_document(refusal.message, code=refusal.code, request_id=request_id)
    if isinstance(refusal, NotAdmitted):
        document["errors"][0]["extensions"].update(refusal.extensions)
    return {"id": id, "type": "error", "payload": document["errors"]}


def _refusal_in(result: ExecutionResult) -> NotAdmitted | None:
    for error in result.errors or ():
        if isinstance(error.original_error, NotAdmitted):
            return error.original_error
    return None


def _message(id: str, kind: str, payload: Any) -> Any:
    return {"id": id, "type": kind, "payload": payload}
