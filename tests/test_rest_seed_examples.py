"""Each seed page's own request example, sent to its REST endpoint (ids adapted to the demo
data), answers with the page's documented status and shape; on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from db.database import Database
from tests.factories import api_key, token
from tests.rest_requests import (
    ALICES,
    ALICES_TTS,
    AUDIO_PROMPTS,
    POOL,
    POOLS,
    PROMPTS,
    REQUEST_ID,
    patch,
    stored_pool,
    stored_prompt,
)

# 001: "Update a prompt by ID", its request example (prompt2 of user2 -> alice's TTS prompt)
PAGE_001_BODY = {
    "title": "Updated title",
    "content": "Updated prompt content.",
    "model": "ChatGPT",
    "tags": ["updated", "tags"],
}
PAGE_001_FIELDS = {"_id", "ownerId", "title", "content", "model", "tags", "createdAt", "updatedAt"}
# 000: "Update a Prompt" (audio), its body example; the request id is the demo's upload
PAGE_000_BODY = {
    "request_id": "req-welcome-v2",
    "name": "Welcome",
    "file_name": "test.mp3",
    "description": "this is test",
}
PAGE_000_FIELDS = {
    "id",
    "name",
    "description",
    "type",
    "asset_id",
    "created_at",
    "created_by",
    "created_user_name",
    "updated_at",
    "updated_by",
    "updated_user_name",
    "_links",
}
POOL_FIELDS = {"id", "org_id", "brand_id", "name", "slug", "created_at", "updated_at"}


async def test_page_001_example_updates_the_owners_prompt(
    client: httpx.AsyncClient, db: Database
) -> None:
    # when
    response = await patch(client, f"{PROMPTS}/{ALICES_TTS}", PAGE_001_BODY, token("alice"))
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= PAGE_001_FIELDS
    assert body["_id"] == ALICES_TTS
    assert body["ownerId"] == "alice"
    assert {k: body[k] for k in PAGE_001_BODY} == PAGE_001_BODY
    assert body["createdAt"] == "2026-01-05T09:00:00Z"
    assert body["updatedAt"].endswith("Z") and body["updatedAt"] > body["createdAt"]
    stored = await stored_prompt(db, ALICES_TTS)
    assert stored["title"] == "Updated title" and stored["tags"] == ["updated", "tags"]


async def test_page_000_example_attaches_the_upload_and_renames(
    client: httpx.AsyncClient, db: Database
) -> None:
    # when
    response = await patch(client, f"{AUDIO_PROMPTS}/{ALICES}", PAGE_000_BODY, token("alice"))
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= PAGE_000_FIELDS
    assert body["name"] == "Welcome" and body["description"] == "this is test"
    assert body["type"] == "asset"  # lower case, as the page lists it
    assert body["asset_id"] == "asset_acme_welcome_v2"
    assert body["updated_by"] == "alice" and body["created_by"] == "alice"
    assert body["_links"] == {
        "self": {"href": f"/v1/prompts/{ALICES}"},
        "download_link": {"href": f"/v1/prompts/{ALICES}/download-link"},
    }
    stored = await stored_prompt(db, ALICES)
    assert (stored["file_name"], stored["asset_id"]) == ("test.mp3", "asset_acme_welcome_v2")


async def test_page_000_draft_has_no_download_link(client: httpx.AsyncClient) -> None:
    response = await patch(
        client, f"{AUDIO_PROMPTS}/{ALICES_TTS}", {"description": "x"}, token("alice")
    )
    assert response.status_code == 200, response.text
    assert response.json()["_links"] == {"self": {"href": f"/v1/prompts/{ALICES_TTS}"}}


async def test_page_004_example_with_an_api_key(client: httpx.AsyncClient, db: Database) -> None:
    # given: the page's caller, an organization's API key, and its curl example's body `{}`
    key = await api_key(db, scope="org:admin:write")
    before = await stored_pool(db, POOL)
    # when
    response = await patch(client, f"{POOLS}/{POOL}", {}, key)
    # then: an empty object changes nothing and answers the pool in the envelope
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert set(body["data"]) == POOL_FIELDS
    assert body["data"]["id"] == POOL and body["data"]["slug"] == "default"
    assert await stored_pool(db, POOL) == before


async def test_page_004_rename_and_new_slug_keep_the_id_and_brand(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored_pool(db, POOL)
    response = await patch(
        client, f"{POOLS}/{POOL}", {"name": "Main", "slug": "main"}, token("alice")
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["id"], data["brand_id"]) == (POOL, str(before["brand_id"]))
    assert (data["name"], data["slug"]) == ("Main", "main")
    assert data["updated_at"] > data["created_at"]


async def test_page_004_error_envelope_is_the_pages(client: httpx.AsyncClient) -> None:
    response = await patch(client, f"{POOLS}/{POOL}", {"name": "x"}, None)
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": {
            "code": "UNAUTHORIZED",
            "message": "authentication failed",
            "request_id": REQUEST_ID,
        },
    }
