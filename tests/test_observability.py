"""The access log's JSON line and Prometheus `/metrics`: what operators see of each request."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from db.database import Database
from gateway.app import create_app
from gateway.observe.metrics import MAX_OPERATION_NAMES, RequestMetrics
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, api_key, asgi_client, client_for, token

METRICS_TOKEN = "metrics-scraper-token-0123456789"
RENAME = """
mutation Rename($id: ID!, $title: String) {
  updatePrompt(id: $id, input: {title: $title}) { __typename }
}
"""
RENAME_POOL = """
mutation RenamePool($name: String) {
  updateGuardrailPool(id: "a1000000-0000-4000-8000-000000000002", input: {name: $name}) {
    __typename
  }
}
"""
READ = 'query Read { prompt(id: "prm_acme_welcome") { __typename } }'
VIEWER_AND_MISSING = '{ viewer { __typename } prompt(id: "prm_nope") { __typename } }'
HISTOGRAM = "patchbay_graphql_request_duration_seconds"
RESULTS = "patchbay_graphql_results_total"


# --- helpers --------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "patchbay.access"
    ]


def line_of(caplog: pytest.LogCaptureFixture, request_id: str) -> dict[str, Any]:
    lines = [line for line in access_lines(caplog) if line["request_id"] == request_id]
    assert len(lines) == 1, lines
    return lines[0]


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    auth: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {auth}"} if auth is not None else {}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def samples(text: str, name: str) -> dict[tuple[str, str], float]:
    """The (operation, result) -> value samples of one metric in an exposition."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[(sample.labels["operation"], sample.labels["result"])] = sample.value
    return found


def gauge(text: str, name: str) -> float:
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]
    assert len(values) == 1, values
    return values[0]


@pytest.fixture
async def own_app(database_url: str, db: Database) -> AsyncIterator[Starlette]:
    """An app of this test's own: its metrics registry counts only this test's requests."""
    app = create_app(settings_for(database_url))
    yield app
    await app.state.db.dispose()


@pytest.fixture
async def own_client(own_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(own_app) as client:
        yield client


# --- the access log line --------------------------------------------------------------------


async def test_one_json_line_per_request_with_operation_results_and_principal(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    alice = token("alice")
    # when
    response = await post(client, RENAME, {"id": "prm_acme_welcome", "title": "Hi"}, auth=alice)
    # then
    line = line_of(caplog, response.headers["X-Request-ID"])
    assert line["method"] == "POST"
    assert line["path"] == "/graphql"
    assert line["status"] == 200
    assert line["operation"] == "Rename"
    assert line["results"] == ["UpdatePromptSuccess"]
    assert line["principal"] == {"subject": "alice", "kind": "USER"}
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["time"].endswith("+00:00")


async def test_every_request_has_exactly_one_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    alice = token("alice")
    # when
    responses = [
        await post(client, READ, auth=alice),
        await post(client, VIEWER_AND_MISSING, auth=alice),
        await post(client, "{ nope }"),
        await client.post("/graphql", json=[{"query": "{ __typename }"}]),
        await client.get("/healthz"),
    ]
    # then
    ids = [response.headers["X-Request-ID"] for response in responses]
    assert sorted(line["request_id"] for line in access_lines(caplog)) == sorted(ids)
    read, two_fields, invalid, batch, health = (line_of(caplog, id_) for id_ in ids)
    assert (read["operation"], read["results"]) == ("Read", ["Prompt"])
    assert (two_fields["operation"], two_fields["results"]) == (None, ["NotFoundError", "Viewer"])
    assert (invalid["results"], invalid["principal"]) == ([], None)
    assert batch["status"] == 400
    assert (health["path"], health["operation"], health["results"]) == ("/healthz", None, None)


@pytest.mark.parametrize("operation_cost", [True, False])
async def test_a_replayed_answer_is_logged_alike_whatever_the_cost_setting(
    database_url: str, db: Database, caplog: pytest.LogCaptureFixture, operation_cost: bool
) -> None:
    """A replay is answered from the stored response, before GraphQL: its line names no
    operation and no results, with cost reporting on (the default) as with it off."""
    # given
    app = create_app(settings_for(database_url, operation_cost=operation_cost))
    keyed = {
        "Authorization": f"Bearer {token('alice')}",
        "Idempotency-Key": f"replay-{operation_cost}",
    }
    body = {"query": RENAME, "variables": {"id": "prm_acme_welcome", "title": "Once"}}
    try:
        async with asgi_client(app) as client:
            # when
            first = await client.post("/graphql", json=body, headers=keyed)
            replay = await client.post("/graphql", json=body, headers=keyed)
    finally:
        await app.state.db.dispose()
    # then
    assert replay.headers["Idempotent-Replayed"] == "true"
    ran = line_of(caplog, first.headers["X-Request-ID"])
    replayed = line_of(caplog, replay.headers["X-Request-ID"])
    assert (ran["operation"], ran["results"]) == ("Rename", ["UpdatePromptSuccess"])
    assert (replayed["operation"], replayed["results"], replayed["status"]) == (None, None, 200)


async def test_an_api_key_is_logged_by_its_prefix_and_never_in_full(
    client: httpx.AsyncClient, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    secret = await api_key(db, name="billing-sync")
    # when
    response = await post(
        client, RENAME, {"id": "prm_acme_welcome", "title": "By key"}, auth=secret
    )
    # then
    line = line_of(caplog, response.headers["X-Request-ID"])
    assert line["results"] == ["UpdatePromptSuccess"]
    assert line["principal"]["kind"] == "API_KEY"
    assert secret.startswith(line["principal"]["subject"])
    assert len(line["principal"]["subject"]) < len(secret)
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_no_authorization_value_reaches_any_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a valid token, a forged one signed with another secret, and a junk header
    valid = token("alice")
    forged = token("alice", secret="another-secret-that-is-32-bytes-long!!")
    credentials = [valid, forged, "not-a-token-but-secret-looking-value"]
    # when
    for credential in credentials:
        await post(client, READ, auth=credential)
    await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    # then
    lines = [record.getMessage() for record in caplog.records]
    assert len(access_lines(caplog)) == len(credentials) + 1
    for line in lines:
        assert "Bearer" not in line
        assert "authorization" not in line.lower()
        assert all(credential not in line for credential in [*credentials, METRICS_TOKEN])
        assert TEST_SECRET not in line


async def test_a_callers_long_operation_name_or_path_keeps_the_line_short(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    name = "Op" + "x" * 5000
    path = "/" + "y" * 5000
    # when
    named = await post(client, f"query {name} {{ viewer {{ __typename }} }}")
    missing = await client.get(path)
    # then
    line = line_of(caplog, named.headers["X-Request-ID"])
    assert line["operation"] == name[:100]
    assert line["results"] == ["UnauthorizedError"]
    not_found = line_of(caplog, missing.headers["X-Request-ID"])
    assert (not_found["status"], not_found["path"]) == (404, path[:200])


# --- /metrics -------------------------------------------------------------------------------


async def test_a_scrape_counts_each_result_type_as_the_requests_made(
    own_client: httpx.AsyncClient, db: Database
) -> None:
    # given: requests whose result types the test knows
    alice, bob, carol = token("alice"), token("bob"), token("carol")
    reader = token("alice", scope="prompts:read")
    key = await api_key(db)
    welcome = "prm_acme_welcome"
    plan: list[tuple[int, str, dict[str, Any] | None, str | None, tuple[str, str]]] = [
        (4, RENAME, {"id": welcome, "title": "New"}, alice, ("Rename", "UpdatePromptSuccess")),
        (1, RENAME, {"id": welcome, "title": "By key"}, key, ("Rename", "UpdatePromptSuccess")),
        (3, RENAME, {"id": welcome, "title": "x"}, carol, ("Rename", "NotFoundError")),
        (1, RENAME, {"id": welcome, "title": "x"}, bob, ("Rename", "ForbiddenError")),
        (1, RENAME, {"id": welcome, "title": "x"}, reader, ("Rename", "ForbiddenError")),
        (1, RENAME, {"id": welcome, "title": ""}, alice, ("Rename", "ValidationError")),
        (2, RENAME, {"id": welcome, "title": "x"}, None, ("Rename", "UnauthorizedError")),
        (1, RENAME_POOL, {"name": "Ads"}, alice, ("RenamePool", "UpdateGuardrailPoolSuccess")),
        (2, READ, None, alice, ("Read", "Prompt")),
        (1, "{ nope }", None, alice, ("(anonymous)", "(none)")),
    ]
    made: Counter[tuple[str, str]] = Counter()
    # when
    for count, query, variables, auth, expected in plan:
        for _ in range(count):
            response = await post(own_client, query, variables, auth=auth)
            assert response.status_code == 200
            made[expected] += 1
    await own_client.post("/graphql", json=[{"query": "{ __typename }"}])  # refused: a batch
    made[("(none)", "(http 400)")] += 1
    scrape = await own_client.get("/metrics")
    # then: the request count of each (operation, result) is exactly what was sent
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert samples(scrape.text, f"{HISTOGRAM}_count") == made
    per_field = {key: n for key, n in made.items() if not key[1].startswith("(")}
    assert samples(scrape.text, RESULTS) == per_field
    sums = samples(scrape.text, f"{HISTOGRAM}_sum")
    assert all(seconds > 0 for seconds in sums.values())


async def test_a_request_with_several_root_fields_counts_each_field(
    own_client: httpx.AsyncClient,
) -> None:
    # when
    await post(own_client, VIEWER_AND_MISSING, auth=token("alice"))
    scrape = await own_client.get("/metrics")
    # then
    assert samples(scrape.text, f"{HISTOGRAM}_count") == {("(anonymous)", "(mixed)"): 1}
    assert samples(scrape.text, RESULTS) == {
        ("(anonymous)", "Viewer"): 1,
        ("(anonymous)", "NotFoundError"): 1,
    }


async def test_each_app_counts_only_its_own_requests(
    own_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    # given: the shared app has served other tests' requests
    await post(client, READ, auth=token("alice"))
    # when
    await post(own_client, READ, auth=token("alice"))
    scrape = await own_client.get("/metrics")
    # then
    assert samples(scrape.text, f"{HISTOGRAM}_count") == {("Read", "Prompt"): 1}


async def test_the_pool_gauges_are_read_at_scrape_time(
    own_app: Starlette, own_client: httpx.AsyncClient, is_postgres: bool
) -> None:
    # given
    database: Database = own_app.state.db
    # when: one connection is held while the scrape runs
    async with database.read():
        busy = (await own_client.get("/metrics")).text
    idle = (await own_client.get("/metrics")).text
    # then
    assert gauge(busy, "patchbay_db_pool_size") == (10 if is_postgres else 5)
    assert gauge(busy, "patchbay_db_pool_checked_out") == 1
    assert gauge(idle, "patchbay_db_pool_checked_out") == 0
    assert gauge(idle, "patchbay_db_pool_idle") >= 1


async def test_metrics_can_be_switched_off(database_url: str) -> None:
    # given
    settings = settings_for(database_url, metrics=False)
    # when
    async with client_for(settings) as client:
        response = await client.get("/metrics")
    # then
    assert response.status_code == 404


async def test_production_serves_no_metrics_without_a_token(database_url: str) -> None:
    # given
    settings = settings_for(database_url, env="production")
    # when
    async with client_for(settings) as client:
        response = await client.get("/metrics")
    # then
    assert not settings.metrics_enabled
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        (f"Bearer {METRICS_TOKEN}x", 401),
        (f"Bearer {METRICS_TOKEN[:-1]}", 401),
        (METRICS_TOKEN, 401),
        (f"Basic {METRICS_TOKEN}", 401),
        (f"Bearer {METRICS_TOKEN}", 200),
        (f"bearer {METRICS_TOKEN}", 200),
    ],
    ids=["none", "wrong", "longer", "shorter", "no-scheme", "basic", "right", "lowercase-scheme"],
)
async def test_with_a_token_only_its_bearer_may_scrape(
    database_url: str, authorization: str | None, status: int
) -> None:
    # given
    settings = settings_for(database_url, env="production", metrics_token=METRICS_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    # when
    async with client_for(settings) as client:
        response = await client.get("/metrics", headers=headers)
    # then
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "patchbay_" not in response.text
    else:
        assert "patchbay_db_pool_size" in response.text


@pytest.mark.parametrize(
    "overrides",
    [{"metrics": True}, {"metrics": True, "metrics_token": "short"}, {"metrics_token": "short"}],
    ids=["on-without-token", "short-token", "short-token-implied"],
)
def test_production_refuses_metrics_without_a_strong_token(overrides: dict[str, Any]) -> None:
    # when / then
    with pytest.raises(ValueError, match="PATCHBAY_METRICS_TOKEN"):
        settings_for("sqlite+aiosqlite:///unused.db", env="production", **overrides)


def test_operation_names_are_a_bounded_set_of_labels() -> None:
    # given
    metrics = RequestMetrics(CollectorRegistry())
    names = [f"Op{i}" for i in range(MAX_OPERATION_NAMES + 20)]
    # when
    for name in [*names, "not a GraphQL name", "Op0"]:
        metrics.observe(name, ["Viewer"], 200, 0.001)
    # then
    labels = Counter(operation for operation, _ in metrics._request_children)
    assert len(labels) == MAX_OPERATION_NAMES + 1
    assert labels["(other)"] == 1
    assert metrics.duration.labels("Op0", "Viewer")._sum.get() == pytest.approx(0.002)
    assert metrics.duration.labels("(other)", "Viewer")._sum.get() == pytest.approx(0.021)


async def test_the_access_log_can_be_silenced_without_losing_metrics(
    own_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING, logger="patchbay.access")
    # when
    await post(own_client, READ, auth=token("alice"))
    scrape = await own_client.get("/metrics")
    # then
    assert access_lines(caplog) == []
    assert samples(scrape.text, f"{HISTOGRAM}_count") == {("Read", "Prompt"): 1}


@pytest.mark.parametrize("order", ["right-first", "right-last"])
async def test_two_authorization_headers_may_not_scrape(database_url: str, order: str) -> None:
    # given: the right token and another, in either order
    settings = settings_for(database_url, env="production", metrics_token=METRICS_TOKEN)
    pair = [("Authorization", f"Bearer {METRICS_TOKEN}"), ("Authorization", "Bearer other")]
    headers = pair if order == "right-first" else pair[::-1]
    # when
    async with client_for(settings) as client:
        response = await client.get("/metrics", headers=headers)
    # then
    assert response.status_code == 401
