"""Health and readiness, GraphiQL and introspection: on by default, switchable off, and a
database that cannot be reached makes the service not ready."""

from __future__ import annotations

import httpx

from gateway.settings import Settings
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, client_for, token
from tests.http_edge import VIEWER, post, post_json, send, top_level_codes

INTROSPECTION = "{ __schema { types { name } } }"


async def test_healthz_is_ok_and_readyz_is_ready(client: httpx.AsyncClient) -> None:
    # when
    healthz = await send(client, "GET", "/healthz")
    readyz = await send(client, "GET", "/readyz")
    # then
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})


async def test_unreachable_database_is_not_ready_and_unavailable() -> None:
    # given: nothing listens on port 1
    settings = Settings(
        database_url="postgresql+asyncpg://patchbay@127.0.0.1:1/patchbay",
        database_timeout_seconds=2,
        jwt_secret=TEST_SECRET,
    )
    async with client_for(settings) as client:
        # when
        readyz = await send(client, "GET", "/readyz")
        graphql = await post(client, VIEWER, auth=token())
    # then
    assert (readyz.status_code, readyz.json()) == (503, {"status": "unavailable"})
    assert graphql.status_code == 200
    error = graphql.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["requestId"] == graphql.headers["X-Request-ID"]


async def test_graphiql_is_served_to_browsers_by_default(client: httpx.AsyncClient) -> None:
    # when
    response = await send(client, "GET", "/graphql", headers={"Accept": "text/html"})
    # then
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_can_be_switched_off(database_url: str) -> None:
    # given
    async with client_for(settings_for(database_url, graphiql=False)) as client:
        # when
        page = await send(client, "GET", "/graphql", headers={"Accept": "text/html"})
        query = await send(client, "GET", "/graphql", params={"query": "{ __typename }"})
    # then
    assert 400 <= page.status_code < 500
    assert not page.headers["Content-Type"].startswith("text/html")
    assert "graphiql" not in page.text.lower()
    assert query.json()["data"] == {"__typename": "Query"}


async def test_introspection_works_by_default(client: httpx.AsyncClient) -> None:
    # when
    body = await post_json(client, INTROSPECTION)
    # then
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "UpdatePromptResult", "UnauthorizedError"} <= names


async def test_introspection_can_be_switched_off(database_url: str) -> None:
    # given
    async with client_for(settings_for(database_url, introspection=False)) as client:
        # when
        schema = await post_json(client, INTROSPECTION)
        single_type = await post_json(client, '{ __type(name: "Query") { name } }')
        typename = await post_json(client, "{ __typename }")
    # then
    for body in (schema, single_type):
        assert "data" not in body
        assert set(top_level_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection" in body["errors"][0]["message"].lower()
    assert typename["data"] == {"__typename": "Query"}
