"""A write that sets the values an entity already has changes nothing: not its version, not
its updatedAt (so not its ETag), not who updated it last, and records no history entry, so
the entries' versions have no gaps (issue 18: "an empty or no-op update records nothing").
Both databases, single and bulk writes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import gql, token
from tests.test_history import (
    POOL,
    POOL_HISTORY,
    UPDATE_POOL,
    UPDATE_PROMPTS,
    WELCOME,
    _nodes,
    _prompt_history,
    _update_prompt,
)

STAMPS = """
query ($id: ID!) {
  prompt(id: $id) { ... on Prompt { version updatedAt updatedBy updatedUserName } }
}
"""


def _renamed() -> str:
    """alice under another display name: were she to write, updatedUserName would move."""
    return token("alice", name="Another Name")


async def _stamps(client: httpx.AsyncClient) -> dict[str, Any]:
    body = await gql(client, STAMPS, {"id": WELCOME}, auth=token())
    stamps: dict[str, Any] = body["data"]["prompt"]
    return stamps


async def test_a_prompt_write_of_the_values_it_has_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    # given
    before = await _stamps(client)
    same = {"title": "Welcome", "tags": ["greeting"]}
    # when: the values it has, alone and in a bulk write
    single = await _update_prompt(client, WELCOME, same, auth=_renamed())
    bulk = await gql(
        client, UPDATE_PROMPTS, {"items": [{"id": WELCOME, "input": same}]}, auth=_renamed()
    )
    # then: answered with the prompt as it was, and stored as it was
    assert single["prompt"] == {"version": 1, "updatedAt": before["updatedAt"]}
    assert bulk["data"]["updatePrompts"]["results"] == [{"__typename": "UpdatePromptSuccess"}]
    assert await _stamps(client) == before
    # and the next change is version 2, the first entry of a history without gaps
    await _update_prompt(client, WELCOME, {"title": "Hello"})
    assert [node["version"] for node in _nodes(await _prompt_history(client, WELCOME))] == [2]


async def test_a_pool_write_of_the_values_it_has_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    # when
    same = await gql(
        client,
        UPDATE_POOL,
        {"id": POOL, "input": {"name": "Default", "slug": "default"}},
        auth=token(),
    )
    changed = await gql(
        client, UPDATE_POOL, {"id": POOL, "input": {"name": "Retail"}}, auth=token()
    )
    # then
    assert same["data"]["updateGuardrailPool"]["guardrailPool"] == {"version": 1}
    assert changed["data"]["updateGuardrailPool"]["guardrailPool"] == {"version": 2}
    read = await gql(client, POOL_HISTORY, {"id": POOL}, auth=token())
    edges = read["data"]["guardrailPool"]["history"]["edges"]
    assert [edge["node"]["version"] for edge in edges] == [2]
