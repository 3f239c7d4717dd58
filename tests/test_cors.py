"""CORS as a browser on another origin meets it: preflights, exposed headers, refusals."""

from __future__ import annotations

import httpx

from db.database import Database
from tests.conftest import settings_for
from tests.factories import client_for

APP = "https://app.example.test"
OTHER = "https://evil.example.test"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
}
TYPENAME = {"query": "{ __typename }"}


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})


async def test_a_preflight_from_an_allowed_origin_is_answered(
    database_url: str, db: Database
) -> None:
    # given
    settings = settings_for(database_url, cors_origins=f"{APP}, https://admin.example.test")
    async with client_for(settings) as client:
        # when
        response = await preflight(client, APP)
    # then
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert {"authorization", "content-type", "x-request-id", "if-match"} <= listed(
        response.headers["access-control-allow-headers"]
    )
    assert listed(response.headers["access-control-allow-methods"]) == {"get", "post", "patch"}
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["x-request-id"]


async def test_a_post_from_an_allowed_origin_exposes_the_request_id(
    database_url: str, db: Database
) -> None:
    # given
    settings = settings_for(database_url, cors_origins=APP)
    async with client_for(settings) as client:
        # when
        response = await client.post(
            "/graphql", json=TYPENAME, headers={"Origin": APP, "X-Request-ID": "cors-test"}
        )
    # then
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}
    assert response.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in listed(response.headers["access-control-expose-headers"])
    assert response.headers["x-request-id"] == "cors-test"


async def test_a_body_refused_as_too_large_still_carries_the_cors_headers(
    database_url: str, db: Database
) -> None:
    # given: the browser can read the 413 only with CORS headers on it
    settings = settings_for(database_url, cors_origins=APP, max_body_bytes=64)
    async with client_for(settings) as client:
        # when
        response = await client.post(
            "/graphql", json={"query": "{ __typename }" + " " * 100}, headers={"Origin": APP}
        )
    # then
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["x-request-id"]


async def test_an_origin_not_listed_gets_no_access_control_allow_origin(
    database_url: str, db: Database
) -> None:
    # given
    settings = settings_for(database_url, cors_origins=APP)
    async with client_for(settings) as client:
        # when
        refused = await preflight(client, OTHER)
        posted = await client.post("/graphql", json=TYPENAME, headers={"Origin": OTHER})
    # then
    assert refused.status_code != 200
    assert "access-control-allow-origin" not in refused.headers
    assert posted.status_code == 200
    assert "access-control-allow-origin" not in posted.headers


async def test_without_cors_origins_nothing_changes(database_url: str, db: Database) -> None:
    # given
    settings = settings_for(database_url, cors_origins="")
    async with client_for(settings) as client:
        # when
        refused = await preflight(client, APP)
        posted = await client.post("/graphql", json=TYPENAME, headers={"Origin": APP})
    # then
    assert refused.status_code == 405
    assert posted.status_code == 200
    for response in (refused, posted):
        assert not any(name.startswith("access-control-") for name in response.headers)


async def test_a_star_allows_any_origin(database_url: str, db: Database) -> None:
    # given
    settings = settings_for(database_url, cors_origins="*")
    async with client_for(settings) as client:
        # when
        answered = await preflight(client, OTHER)
        posted = await client.post("/graphql", json=TYPENAME, headers={"Origin": OTHER})
    # then
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == "*"
    assert posted.headers["access-control-allow-origin"] == "*"


def test_cors_origins_are_split_on_commas_and_spaces() -> None:
    settings = settings_for(
        "sqlite+aiosqlite://", cors_origins=" https://a.test,https://b.test  c ,"
    )
    assert settings.cors_origin_list == ("https://a.test", "https://b.test", "c")
