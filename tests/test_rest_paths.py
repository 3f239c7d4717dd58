"""Paths under the REST front's prefixes that no route serves are answered in that route's
own error body (its seed page's dialect), with the request id, never Starlette's text/plain
page; a prompt id holding a `/` is reached percent-encoded (`%2F`), as the seed pages allow
any string as a prompt id."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import insert
from starlette.routing import Route

from db.database import Database
from db.models import prompts
from gateway.rest.paths import IdRoute
from tests.factories import alices_prompt, token
from tests.rest_requests import (
    ALICES,
    AUDIO_PROMPTS,
    POOL,
    POOLS,
    PROMPTS,
    REQUEST_ID,
    bearer,
    patch,
    stored_prompt,
)

UNMATCHED = [
    ("GET", PROMPTS),
    ("GET", f"{PROMPTS}/"),
    ("GET", f"{PROMPTS}/{ALICES}/versions"),
    ("PATCH", f"{PROMPTS}/a/b"),
    ("GET", f"{PROMPTS}/{ALICES}/"),
    ("GET", AUDIO_PROMPTS),
    ("GET", f"{AUDIO_PROMPTS}/"),
    ("PATCH", f"{AUDIO_PROMPTS}/a/b/c"),
    ("GET", POOLS),
    ("POST", f"{POOLS}/"),
    ("GET", f"{POOLS}/{POOL}/members"),
]


def _code_and_request_id(path: str, body: dict[str, object]) -> tuple[object, object]:
    if path.startswith(POOLS):  # {"success": false, "error": {"code", "request_id"}}
        error = body["error"]
        assert isinstance(error, dict) and body["success"] is False
        return error["code"], error["request_id"]
    if path.startswith(AUDIO_PROMPTS):  # snake_case: no request id in the body
        return body["code"], REQUEST_ID
    return body["code"], body["requestId"]  # camelCase


@pytest.mark.parametrize(("method", "path"), UNMATCHED)
async def test_a_path_no_route_serves_is_a_404_in_the_routes_dialect(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=bearer(token()), json={})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == REQUEST_ID
    assert _code_and_request_id(path, response.json()) == ("NOT_FOUND", REQUEST_ID)


@pytest.mark.parametrize("path", [f"{PROMPTS}/{ALICES}", f"{AUDIO_PROMPTS}/x", f"{POOLS}/{POOL}"])
@pytest.mark.parametrize("method", ["DELETE", "PUT", "POST"])
async def test_another_method_is_a_405_in_the_routes_dialect(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=bearer(token()))
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert set(response.headers["allow"].split(", ")) >= {"GET", "PATCH"}
    assert _code_and_request_id(path, response.json()) == ("METHOD_NOT_ALLOWED", REQUEST_ID)


async def test_a_prompt_id_with_a_slash_is_reached_percent_encoded(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a prompt whose id holds a slash (any string is a prompt id)
    prompt_id = f"folder/{uuid.uuid4().hex[:8]}"
    async with db.write() as conn:
        await conn.execute(insert(prompts).values(alices_prompt(prompt_id)))
    encoded = prompt_id.replace("/", "%2F")
    # when: read and updated through both prompt fronts, the slash sent as %2F
    read = await client.get(f"{PROMPTS}/{encoded}", headers=bearer(token()))
    audio = await client.get(f"{AUDIO_PROMPTS}/{encoded.lower()}", headers=bearer(token()))
    updated = await patch(client, f"{PROMPTS}/{encoded}", {"title": "Slashed"}, token())
    # and: the same path with the slash as sent (two segments) is no prompt
    two_segments = await client.get(f"{PROMPTS}/{prompt_id}", headers=bearer(token()))
    # then
    assert read.status_code == 200 and read.json()["_id"] == prompt_id
    assert audio.status_code == 200
    # and: the links name the prompt by the path that reaches it
    self_link = audio.json()["_links"]["self"]["href"]
    assert self_link.endswith(f"/{encoded}")
    followed = await client.get(
        self_link.replace(str(client.base_url), ""), headers=bearer(token())
    )
    assert followed.status_code == 200 and followed.json()["id"] == prompt_id
    assert updated.status_code == 200, updated.text
    assert (await stored_prompt(db, prompt_id))["title"] == "Slashed"
    assert two_segments.status_code == 404
    assert two_segments.json()["code"] == "NOT_FOUND"


async def test_an_unknown_id_with_a_slash_is_the_routes_own_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PROMPTS}/no%2Fsuch", headers=bearer(token()))
    pool = await client.get(f"{POOLS}/a%2Fb", headers=bearer(token()))
    assert response.status_code == 404
    assert response.json()["message"] == "prompt not found"  # the resolver's, not a route miss
    assert pool.status_code == 404
    assert pool.json()["error"]["code"] == "NOT_FOUND"


MATCHED_OR_NOT = [
    ("PATCH", "/v1/prompts/prm_1", ""),
    ("GET", "/v1/prompts/prm_1", ""),
    ("HEAD", "/v1/prompts/prm_1", ""),
    ("POST", "/v1/prompts/prm_1", ""),
    ("PATCH", "/v1/prompts/", ""),
    ("PATCH", "/v1/prompts", ""),
    ("PATCH", "/v1/prompts/a/b", ""),
    ("PATCH", "/v1/prompts/prm_1/", ""),
    ("PATCH", "/v1/prompts/line\n", ""),
    ("PATCH", "/v1/prompts/ä ö", ""),
    ("PATCH", "/v1/promptsX/prm_1", ""),
    ("PATCH", "/api/v1/prompts/prm_1", "/api"),
    ("PATCH", "/v1/prompts/prm_1", "/v1"),
]


@pytest.mark.parametrize(("method", "path", "root_path"), MATCHED_OR_NOT)
def test_an_id_route_matches_as_starlettes_route_does(
    method: str, path: str, root_path: str
) -> None:
    # given: a resource's route, and Starlette's own route of the same path
    async def endpoint(_: object) -> None: ...

    ours = IdRoute("/v1/prompts/{id}", endpoint, methods=["GET", "PATCH"])
    starlettes = Route("/v1/prompts/{id}", endpoint, methods=["GET", "PATCH"])
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
    scope["raw_path"] = path.encode()
    # when / then: ours (which skips Starlette's regular expression) matches alike
    assert ours.matches(dict(scope)) == starlettes.matches(dict(scope))
