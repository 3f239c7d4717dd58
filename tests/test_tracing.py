"""OpenTelemetry tracing, received by a real OTLP/HTTP receiver started by the test.

Switched on by the standard variables only (an OTLP endpoint here). An `updatePrompt` gives
one trace: the server span (a child of the caller's `traceparent`), one span for the
operation with its name, document hash, principal kind and result types, and the database
statements under it; no span per field. The access line carries the trace id. With tracing
off, OpenTelemetry is not even imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.tracing.switch import TracingMisconfigured, tracing_requested
from tests.conftest import reset_demo_data, settings_for
from tests.factories import TEST_SECRET, asgi_client, token
from tests.http_edge import SEEDED_TITLE
from tests.live_server import PATCHBAY
from tests.otlp_receiver import Received, attributes, otlp_receiver

RENAME = """
mutation Rename($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) {
    __typename ... on UpdatePromptSuccess { prompt { title tags } }
  }
}
"""
TRACE_IDS = ("4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c")
PARENT_SPAN_ID = "00f067aa0ba902b7"
OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PYTHON_ASGI_EXCLUDED_URLS",
    "OTEL_PYTHON_EXCLUDED_URLS",
)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    """A receiver, and the standard variables pointing the gateway's exporter at it."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with otlp_receiver() as (endpoint, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        yield received


@pytest.fixture
async def traced_app(receiver: Received, database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(settings_for(database_url))
    await reset_demo_data(app.state.db)
    yield app
    await app.state.db.dispose()
    app.state.tracing.shutdown()


async def _rename(app: Starlette, title: str, traceparent: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token('alice')}"}
    if traceparent is not None:
        headers["traceparent"] = traceparent
    async with asgi_client(app) as client:
        return await client.post(
            "/graphql", json={"query": RENAME, "variables": {"title": title}}, headers=headers
        )


def _trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [span for span in spans if span.trace_id.hex() == trace_id]


def _access_line(caplog: pytest.LogCaptureFixture, request_id: str) -> dict[str, Any]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "patchbay.access"]
    found = [line for line in lines if line["request_id"] == request_id]
    assert len(found) == 1, lines
    return found[0]


async def test_an_update_prompt_gives_one_trace_of_server_operation_and_statements(
    traced_app: Starlette, receiver: Received, caplog: pytest.LogCaptureFixture
) -> None:
    # when: twice, so that Strawberry answers the first and the planned executor the second
    responses = [
        await _rename(traced_app, f"Traced {n}", f"00-{trace_id}-{PARENT_SPAN_ID}-01")
        for n, trace_id in enumerate(TRACE_IDS)
    ]
    traced_app.state.tracing.shutdown()  # exports what the batch holds
    # then
    for response, trace_id in zip(responses, TRACE_IDS, strict=True):
        assert response.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"
        spans = _trace(receiver.spans(), trace_id)
        server = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
        assert [s.name for s in server] == ["POST /graphql"], spans
        assert server[0].parent_span_id.hex() == PARENT_SPAN_ID  # traceparent honoured
        operation = [s for s in spans if s.parent_span_id == server[0].span_id]
        assert [s.name for s in operation] == ["graphql Rename"], spans
        assert attributes(operation[0]) == {
            "graphql.operation.name": "Rename",
            "graphql.document.sha256": hashlib.sha256(RENAME.encode()).hexdigest(),
            "patchbay.principal.kind": "USER",
            "patchbay.results": ["UpdatePromptSuccess"],
        }
        statements = [s for s in spans if s.parent_span_id == operation[0].span_id]
        assert statements, spans
        assert all(s.kind == Span.SPAN_KIND_CLIENT for s in statements)
        texts = [_statement(s) for s in statements]
        # the write: an UPDATE, or on PostgreSQL the CTE that also records its history
        assert any(
            text.lstrip().upper().startswith(("UPDATE", "WITH")) and "UPDATE" in text.upper()
            for text in texts
        ), texts
        assert all("Traced" not in text for text in texts)  # parameters are not exported
        # no span per field, nor per ASGI message: the three kinds above are all there is
        assert len(spans) == 2 + len(statements), [s.name for s in spans]
        # the access line names the same trace
        line = _access_line(caplog, response.headers["x-request-id"])
        assert line["trace_id"] == trace_id
    assert receiver.service_names() == {"patchbay"}


async def test_without_a_traceparent_a_trace_starts_and_the_access_line_names_it(
    traced_app: Starlette, receiver: Received, caplog: pytest.LogCaptureFixture
) -> None:
    # when
    response = await _rename(traced_app, "Untraced caller", None)
    traced_app.state.tracing.shutdown()
    # then
    trace_id = _access_line(caplog, response.headers["x-request-id"])["trace_id"]
    assert trace_id is not None
    assert trace_id not in TRACE_IDS
    spans = _trace(receiver.spans(), trace_id)
    server = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert len(server) == 1
    assert server[0].parent_span_id == b""


async def test_a_refused_request_is_traced_without_an_operation(
    traced_app: Starlette, receiver: Received
) -> None:
    # when: a body that is not JSON
    async with asgi_client(traced_app) as client:
        response = await client.post(
            "/graphql",
            content=b"{not json",
            headers={
                "Content-Type": "application/json",
                "traceparent": f"00-{TRACE_IDS[0]}-{PARENT_SPAN_ID}-01",
            },
        )
    traced_app.state.tracing.shutdown()
    # then
    assert response.status_code == 400
    names = sorted(s.name for s in _trace(receiver.spans(), TRACE_IDS[0]))
    assert names == ["POST /graphql", "graphql"]


async def test_the_standard_sampler_variable_is_honoured(
    receiver: Received, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: nothing sampled
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    app = create_app(settings_for(database_url))
    try:
        # when
        response = await _rename(app, SEEDED_TITLE, f"00-{TRACE_IDS[0]}-{PARENT_SPAN_ID}-01")
    finally:
        await app.state.db.dispose()
        app.state.tracing.shutdown()
    # then: answered as ever, and nothing exported
    assert response.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"
    assert receiver.spans() == []


async def test_probes_can_be_left_untraced_by_the_standard_variable(
    receiver: Received, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "healthz,readyz")
    app = create_app(settings_for(database_url))
    try:
        async with asgi_client(app) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await app.state.db.dispose()
        app.state.tracing.shutdown()
    assert [s.name for s in receiver.spans() if s.kind == Span.SPAN_KIND_SERVER] == ["GET /metrics"]


def test_with_tracing_off_opentelemetry_is_not_even_imported(database_url: str) -> None:
    """No OTel call per request while off: the request path never loads the library."""
    script = f"""
import asyncio, sys, logging
from tests.conftest import settings_for
from tests.factories import asgi_client
from gateway.app import create_app

async def main():
    app = create_app(settings_for({database_url!r}))
    async with asgi_client(app) as client:
        response = await client.post("/graphql", json={{"query": "{{ __typename }}"}})
    await app.state.db.dispose()
    assert response.json()["data"] == {{"__typename": "Query"}}, response.text
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    assert loaded == [], loaded
    assert app.state.tracing is None

asyncio.run(main())
"""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "patchbay"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_only_the_standard_variables_switch_tracing_on(environ: dict[str, str], on: bool) -> None:
    assert tracing_requested(environ) is on


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
    ],
)
def test_an_exporter_patchbay_does_not_ship_is_refused_at_start_in_one_line(
    receiver: Received,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(TracingMisconfigured) as refused:
        create_app(settings_for(database_url))
    assert value in str(refused.value)
    assert "\n" not in str(refused.value)


def _statement(span: Span) -> str:
    found = attributes(span)
    text = found.get("db.statement", found.get("db.query.text", ""))
    assert isinstance(text, str)
    return text


async def test_with_tracing_off_the_access_line_has_a_null_trace_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"traceparent": f"00-{TRACE_IDS[0]}-{PARENT_SPAN_ID}-01"},
    )
    assert _access_line(caplog, response.headers["x-request-id"])["trace_id"] is None


def test_patchbay_serve_refuses_an_unshipped_exporter_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    # when
    result = subprocess.run(
        [PATCHBAY, "serve", "--port", "0"],
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "PATCHBAY_DATABASE_URL": database_url,
            "PATCHBAY_JWT_SECRET": TEST_SECRET,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("patchbay: cannot serve: OTLP protocol grpc is not supported")
    )
