"""The tracer provider, its exporter and the instrumentation of the server and the database,
built once per app when tracing is on. OpenTelemetry's SDK reads the rest of its standard
variables itself: endpoint, headers, timeout and compression (OTEL_EXPORTER_OTLP_*), sampler
(OTEL_TRACES_SAMPLER), batching (OTEL_BSP_*), resource (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES); the propagator (OTEL_PROPAGATORS, W3C `traceparent` by default)
is OpenTelemetry's global one."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.util.http import get_excluded_urls
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from gateway.tracing.statements import StatementSpans

TRACER = "patchbay"
# Span names carry the route, never a caller's arbitrary path (one name per unknown path).
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)


class Tracing:
    def __init__(self, exporter: str) -> None:
        self.provider = TracerProvider(resource=_resource())
        self.provider.add_span_processor(BatchSpanProcessor(_exporter(exporter)))
        self.tracer = self.provider.get_tracer(TRACER)

    def middleware(self) -> list[Middleware]:
        """The server span of every HTTP request (none for each ASGI message it sends), and
        the spans of the statements run under it."""
        return [
            Middleware(
                OpenTelemetryMiddleware,
                tracer_provider=self.provider,
                meter_provider=NoOpMeterProvider(),  # /metrics has the request metrics already
                exclude_spans=["receive", "send"],
                # OTEL_PYTHON_ASGI_EXCLUDED_URLS (or OTEL_PYTHON_EXCLUDED_URLS): e.g. probes
                excluded_urls=get_excluded_urls("ASGI"),
                default_span_details=_span_details,
            ),
            Middleware(StatementSpans, tracer=self.tracer),
        ]

    def instrument(self, engine: AsyncEngine) -> None:
        """A span per SQL statement the engine runs (its text, never its parameters)."""
        unused = NoOpMeterProvider().get_meter(TRACER).create_up_down_counter("unused")
        EngineTracer(self.provider.get_tracer(TRACER), engine.sync_engine, unused)  # type: ignore[no-untyped-call]

    @staticmethod
    def current_trace_id() -> str | None:
        """The trace id of the request being answered, as 32 hex digits."""
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    def shutdown(self) -> None:
        self.provider.shutdown()  # exports what the batch still holds


def _resource() -> Resource:
    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "patchbay"}))
    return resource


def _exporter(name: str) -> SpanExporter:
    return ConsoleSpanExporter() if name == "console" else OTLPSpanExporter()


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method = scope.get("method", "")
    method = method if method in METHODS else "HTTP"
    path = scope.get("path", "")
    return (f"{method} {path}" if path in ROUTES else method), {}
