"""A span for each statement the request path runs directly on the database driver
(db/statements.py): those skip SQLAlchemy's execution, so its instrumentation sees only the
rest. Set per request, as a context variable, by the ASGI layer below."""

from __future__ import annotations

from contextlib import AbstractContextManager

from opentelemetry.trace import SpanKind, Tracer
from starlette.types import ASGIApp, Receive, Scope, Send

from db.statements import STATEMENT_SPAN


class StatementSpans:
    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = STATEMENT_SPAN.set(self.span)
        try:
            await self.app(scope, receive, send)
        finally:
            STATEMENT_SPAN.reset(token)

    def span(self, sql: str, system: str) -> AbstractContextManager[object]:
        # The statement's text with its placeholders: the values never leave the process.
        return self.tracer.start_as_current_span(
            sql.split(None, 1)[0].upper() if sql.strip() else "SQL",
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": sql},
        )
