"""Idempotency-Key on the REST PATCH endpoints, as on GraphQL's mutations, on both databases:
a retry gets the first answer and never writes twice."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from db.database import Database
from tests.factories import token
from tests.rest_requests import (
    ALICES,
    AUDIO_PROMPTS,
    CAROLS,
    POOL,
    POOLS,
    PROMPTS,
    patch,
    stored_pool,
    stored_prompt,
)

PATHS = {
    "prompts": (f"{PROMPTS}/{ALICES}", {"title": "Once"}),
    "v1-prompts": (f"{AUDIO_PROMPTS}/{ALICES}", {"description": "Once"}),
    "v1-pools": (f"{POOLS}/{POOL}", {"name": "Once"}),
}
EACH = pytest.mark.parametrize("endpoint", list(PATHS))


async def version(db: Database, endpoint: str) -> int:
    row = await (stored_pool(db, POOL) if endpoint == "v1-pools" else stored_prompt(db, ALICES))
    return int(row["version"])


def new_key() -> str:
    return f"rest-{uuid.uuid4()}"


@EACH
async def test_a_retry_gets_the_first_answer_without_a_second_write(
    client: httpx.AsyncClient, db: Database, endpoint: str
) -> None:
    path, body = PATHS[endpoint]
    key, before = new_key(), await version(db, endpoint)
    first = await patch(client, path, body, token("alice"), **{"Idempotency-Key": key})
    retry = await patch(client, path, body, token("alice"), **{"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content  # byte for byte
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await version(db, endpoint) == before + 1  # one write


async def test_the_same_key_for_another_request_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    path, body = PATHS["v1-prompts"]
    key = new_key()
    await patch(client, path, body, token("alice"), **{"Idempotency-Key": key})
    before = await version(db, "v1-prompts")
    reused = await patch(
        client, path, {"description": "Other"}, token("alice"), **{"Idempotency-Key": key}
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await version(db, "v1-prompts") == before


async def test_a_documented_failure_is_kept_and_replayed_like_a_success(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = new_key()
    path = f"{AUDIO_PROMPTS}/{CAROLS}"  # another organization's: 404 for alice
    first = await patch(client, path, {"name": "x"}, token("alice"), **{"Idempotency-Key": key})
    retry = await patch(client, path, {"name": "x"}, token("alice"), **{"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 404
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"


async def test_keys_are_the_callers_own(client: httpx.AsyncClient, db: Database) -> None:
    path, body = PATHS["prompts"]
    key = new_key()
    alice = await patch(client, path, body, token("alice"), **{"Idempotency-Key": key})
    # bob may not edit alice's prompt: his request with the same key runs (and is refused)
    bob = await patch(client, path, body, token("bob"), **{"Idempotency-Key": key})
    assert alice.status_code == 200
    assert bob.status_code == 403
    assert "idempotent-replayed" not in bob.headers


async def test_a_malformed_key_is_400(client: httpx.AsyncClient, db: Database) -> None:
    path, body = PATHS["v1-pools"]
    before = await version(db, "v1-pools")
    refused = await patch(client, path, body, token("alice"), **{"Idempotency-Key": "x" * 256})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert await version(db, "v1-pools") == before


async def test_a_graphql_key_is_not_a_rest_key(client: httpx.AsyncClient, db: Database) -> None:
    key = new_key()
    graphql = await client.post(
        "/graphql",
        json={
            "query": 'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "G"}) '
            "{ __typename } }"
        },
        headers={"Authorization": f"Bearer {token('alice')}", "Idempotency-Key": key},
    )
    assert graphql.status_code == 200
    rest = await patch(client, *PATHS["prompts"], token("alice"), **{"Idempotency-Key": key})
    assert rest.status_code == 422


async def test_twenty_copies_at_once_write_once(client: httpx.AsyncClient, db: Database) -> None:
    path, body = PATHS["v1-prompts"]
    key, before = new_key(), await version(db, "v1-prompts")
    answers = await asyncio.gather(
        *(patch(client, path, body, token("alice"), **{"Idempotency-Key": key}) for _ in range(20))
    )
    statuses = {answer.status_code for answer in answers}
    assert statuses <= {200, 409, 503}, statuses  # a twin may wait past its turn: 409/503
    assert 200 in statuses
    assert await version(db, "v1-prompts") == before + 1
    bodies = {answer.content for answer in answers if answer.status_code == 200}
    assert len(bodies) == 1


async def test_without_a_credential_a_malformed_key_is_still_401_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    path, body = PATHS["prompts"]
    answer = await patch(client, path, body, None, **{"Idempotency-Key": "x" * 300})
    assert answer.status_code == 401
