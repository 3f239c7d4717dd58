"""What operators see of REST requests: one access line each, naming the operation, its
result and the principal; a metric per route and status; X-Request-ID on every response."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import settings_for
from tests.factories import client_for, token
from tests.rest_requests import ALICES, AUDIO_PROMPTS, BOBS, POOL, POOLS, PROMPTS, bearer, patch

ROUTES = "patchbay_rest_request_duration_seconds_count"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "patchbay.access"]


async def test_each_request_has_one_line_with_operation_results_and_principal(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # when
    ok = await client.patch(
        f"{AUDIO_PROMPTS}/{ALICES}",
        json={"description": "x"},
        headers={"Authorization": f"Bearer {token()}", "X-Request-ID": "rest-ok"},
    )
    refused = await client.get(f"{POOLS}/{POOL}", headers={"X-Request-ID": "rest-refused"})
    # then
    assert (ok.status_code, refused.status_code) == (200, 401)
    lines = {line["request_id"]: line for line in access_lines(caplog)}
    assert lines["rest-ok"]["operation"] == "updateAudioPrompt"
    assert lines["rest-ok"]["results"] == ["AudioPrompt"]
    assert lines["rest-ok"]["principal"] == {"subject": "alice", "kind": "USER"}
    assert (lines["rest-ok"]["method"], lines["rest-ok"]["status"]) == ("PATCH", 200)
    assert lines["rest-refused"]["operation"] == "getGuardrailPool"
    assert lines["rest-refused"]["results"] == ["UNAUTHORIZED"]
    assert lines["rest-refused"]["principal"] is None


async def test_metrics_count_requests_by_route_template_and_status(database_url: str) -> None:
    # given
    plan = [
        (3, "PATCH", f"{PROMPTS}/{ALICES}", token(), 200),
        (2, "PATCH", f"{PROMPTS}/{BOBS}", token(), 403),
        (1, "PATCH", f"{AUDIO_PROMPTS}/prm_nope", token(), 404),
        (2, "GET", f"{POOLS}/{POOL}", None, 401),
    ]
    made: Counter[tuple[str, str]] = Counter()
    async with client_for(settings_for(database_url)) as client:
        # when
        for count, method, path, credential, status in plan:
            for _ in range(count):
                body = {"description": "x"} if method == "PATCH" else None
                response = await client.request(method, path, headers=bearer(credential), json=body)
                assert response.status_code == status, response.text
                template = path.rsplit("/", 1)[0] + "/{id}"
                made[(f"{method} {template}", str(status))] += 1
        scrape = await client.get("/metrics")
    # then: ids never become labels; each (route, status) counts what was sent
    found = {
        (s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(scrape.text)
        for s in family.samples
        if s.name == ROUTES
    }
    assert found == made


@pytest.mark.parametrize(
    ("method", "path", "headers", "content", "status"),
    [
        ("GET", f"{PROMPTS}/{ALICES}", {}, None, 401),
        ("PATCH", f"{PROMPTS}/{ALICES}", {"Content-Type": "text/plain"}, b"x", 401),
        (
            "PATCH",
            f"{PROMPTS}/{ALICES}",
            {"Content-Type": "text/plain", "Authorization": ""},
            b"x",
            415,
        ),
        ("PATCH", f"{POOLS}/{POOL}", {"Content-Type": "application/json"}, b"{" * 2**21, 413),
        ("DELETE", f"{POOLS}/{POOL}", {}, None, 405),
        ("GET", "/openapi.json", {}, None, 200),
    ],
)
async def test_every_response_carries_the_request_id(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes | None,
    status: int,
) -> None:
    if "Authorization" in headers:  # a credential, so that the body's own failure shows
        headers = {**headers, "Authorization": f"Bearer {token()}"}
    response = await client.request(
        method, path, headers={"X-Request-ID": "every-1", **headers}, content=content
    )
    assert response.status_code == status
    assert response.headers["x-request-id"] == "every-1"


async def test_an_error_body_carries_the_request_id(client: httpx.AsyncClient) -> None:
    generated = await patch(client, f"{POOLS}/{POOL}", {"slug": "marketing"}, token())
    body = generated.json()
    assert body["error"]["request_id"] == generated.headers["x-request-id"]
