"""Versions: every write that changes a prompt or a pool moves its version by one, and
expectedVersion guards an update without a clock (both databases)."""

from __future__ import annotations

from typing import Any

import httpx

from db.database import Database
from tests.factories import gql, token

ACME_DEFAULT_POOL = "a1000000-0000-4000-8000-000000000001"
WELCOME = "prm_acme_welcome"

UPDATE_PROMPT = """
mutation ($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { written prompt { version updatedAt title } }
    ... on ConflictError { code fields { field code } currentVersion currentUpdatedAt }
    ... on ValidationError { fields { field code } }
  }
}
"""
UPDATE_POOL = """
mutation ($id: ID!, $input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: $id, input: $input) {
    __typename
    ... on UpdateGuardrailPoolSuccess { written guardrailPool { version updatedAt name } }
    ... on ConflictError { code fields { field code } currentVersion currentUpdatedAt }
  }
}
"""
READ = """
query {
  prompt(id: "prm_acme_welcome") { ... on Prompt { version } }
  guardrailPool(id: "a1000000-0000-4000-8000-000000000001") { ... on GuardrailPool { version } }
}
"""


async def _prompt(client: httpx.AsyncClient, changes: dict[str, Any]) -> dict[str, Any]:
    body = await gql(client, UPDATE_PROMPT, {"id": WELCOME, "input": changes}, auth=token())
    result: dict[str, Any] = body["data"]["updatePrompt"]
    return result


async def _pool(client: httpx.AsyncClient, changes: dict[str, Any]) -> dict[str, Any]:
    variables = {"id": ACME_DEFAULT_POOL, "input": changes}
    body = await gql(client, UPDATE_POOL, variables, auth=token())
    result: dict[str, Any] = body["data"]["updateGuardrailPool"]
    return result


async def test_rows_start_at_version_1_and_each_change_adds_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: the seeded rows
    read = await gql(client, READ, auth=token())
    assert read["data"] == {"prompt": {"version": 1}, "guardrailPool": {"version": 1}}
    # when: two updates of each
    first, second = await _prompt(client, {"title": "a"}), await _prompt(client, {"title": "b"})
    pools = [await _pool(client, {"name": "One"}), await _pool(client, {"name": "Two"})]
    # then
    assert [first["prompt"]["version"], second["prompt"]["version"]] == [2, 3]
    assert [p["guardrailPool"]["version"] for p in pools] == [2, 3]
    assert first["written"] is True


async def test_an_empty_input_moves_no_version(client: httpx.AsyncClient, db: Database) -> None:
    assert (await _prompt(client, {}))["prompt"]["version"] == 1
    assert (await _pool(client, {}))["guardrailPool"]["version"] == 1


async def test_expected_version_guards_a_prompt_update(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: version 2
    moved = await _prompt(client, {"title": "moved"})
    # when: a writer that read version 1, then one that read version 2
    stale = await _prompt(client, {"title": "late", "expectedVersion": 1})
    fresh = await _prompt(client, {"title": "fresh", "expectedVersion": 2})
    # then: the stale one learns the current version and updatedAt without another request
    assert stale == {
        "__typename": "ConflictError",
        "code": "CONFLICT",
        "fields": [{"field": "expectedVersion", "code": "STALE"}],
        "currentVersion": 2,
        "currentUpdatedAt": moved["prompt"]["updatedAt"],
    }
    assert fresh["prompt"] == {**fresh["prompt"], "version": 3, "title": "fresh"}


async def test_expected_version_guards_a_pool_update(
    client: httpx.AsyncClient, db: Database
) -> None:
    moved = await _pool(client, {"name": "Moved"})
    stale = await _pool(client, {"name": "Late", "expectedVersion": 1})
    assert stale["fields"] == [{"field": "expectedVersion", "code": "STALE"}]
    assert stale["currentVersion"] == 2
    assert stale["currentUpdatedAt"] == moved["guardrailPool"]["updatedAt"]
    assert (await _pool(client, {"name": "Fresh", "expectedVersion": 2}))["guardrailPool"][
        "version"
    ] == 3


async def test_a_stale_updated_at_guard_reports_the_current_version_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    await _prompt(client, {"title": "moved"})
    stale = await _prompt(client, {"title": "late", "expectedUpdatedAt": "2020-01-01T00:00:00Z"})
    assert stale["fields"] == [{"field": "expectedUpdatedAt", "code": "STALE"}]
    assert stale["currentVersion"] == 2


async def test_a_name_conflict_has_no_current_version(
    client: httpx.AsyncClient, db: Database
) -> None:
    taken = await _prompt(client, {"name": "after-hours"})
    assert taken["fields"] == [{"field": "name", "code": "TAKEN"}]
    assert taken["currentVersion"] is None
    assert taken["currentUpdatedAt"] is None


async def test_an_empty_input_with_a_stale_version_is_a_conflict(
    client: httpx.AsyncClient, db: Database
) -> None:
    assert (await _prompt(client, {"expectedVersion": 7}))["__typename"] == "ConflictError"
    assert (await _pool(client, {"expectedVersion": 7}))["__typename"] == "ConflictError"


async def test_a_version_below_1_is_a_validation_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    refused = await _prompt(client, {"title": "x", "expectedVersion": 0})
    assert refused["fields"] == [{"field": "expectedVersion", "code": "INVALID"}]
