"""updatePrompt is a PATCH: a value replaces its field, null clears what may be cleared,
an absent field (or omitted variable) stays as it is, and concurrent changes of different
fields all survive."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import gql, token
from tests.updating_prompts import (
    AFTER_HOURS,
    ALICE,
    RESULT,
    SEEDED,
    UPDATE_LITERAL,
    UPLOAD,
    WELCOME,
    field_codes,
    read,
    stored,
    update,
)

# One input field bound to its own variable: FIELD and TYPE are replaced.
UPDATE_FIELD_VARIABLE = (
    """
mutation UpdateField($id: ID!, $value: TYPE) {
  updatePrompt(id: $id, input: {FIELD: $value}) { ...Result }
}
"""
    + RESULT
)

AUDIT = ("updatedAt", "updatedBy", "updatedUserName")
FIELD_TYPES = {"tags": "[String!]", "expectedUpdatedAt": "DateTime"}


async def update_literal(client: httpx.AsyncClient, prompt_id: str, literal: str) -> dict[str, Any]:
    query = UPDATE_LITERAL.replace("INPUT", literal)
    body = await gql(client, query, {"id": prompt_id}, auth=token("alice", name=ALICE))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updatePrompt"]
    return result


async def update_field_variable(
    client: httpx.AsyncClient, prompt_id: str, field: str, variables: dict[str, Any]
) -> dict[str, Any]:
    query = UPDATE_FIELD_VARIABLE.replace("FIELD", field).replace(
        "TYPE", FIELD_TYPES.get(field, "String")
    )
    body = await gql(client, query, {"id": prompt_id, **variables}, auth=token("alice"))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updatePrompt"]
    return result


async def send_null(
    client: httpx.AsyncClient, prompt_id: str, field: str, way: str
) -> dict[str, Any]:
    """Send `field: null` as an inline literal, inside the input variable, or as its own."""
    if way == "literal":
        return await update_literal(client, prompt_id, f"{field}: null")
    if way == "input variable":
        return await update(client, prompt_id, {field: None})
    return await update_field_variable(client, prompt_id, field, {"value": None})


def without(prompt: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in prompt.items() if key not in keys}


CHANGES = [
    ("name", "greeting", {"name": "greeting"}),
    ("title", "Hello there", {"title": "Hello there"}),
    ("description", "Played first", {"description": "Played first"}),
    ("content", "Hello and welcome", {"content": "Hello and welcome"}),
    ("model", "tts-neural", {"model": "tts-neural"}),
    ("tags", ["intro", "main"], {"tags": ["intro", "main"]}),
    (
        "requestId",
        UPLOAD,
        {"assetId": "asset_acme_welcome_v2", "fileName": "welcome-v2.mp3", "type": "ASSET"},
    ),
    ("fileName", "welcome-final.wav", {"fileName": "welcome-final.wav"}),
]


@pytest.mark.parametrize(("field", "value", "expected"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_a_value_replaces_its_field_and_absent_fields_stay_unchanged(
    client: httpx.AsyncClient, field: str, value: Any, expected: dict[str, Any]
) -> None:
    # given
    before = await read(client, WELCOME)
    # when
    result = await update(client, WELCOME, {field: value})
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert without(result["prompt"], *AUDIT) == without(before, *AUDIT, "__typename") | expected
    assert await read(client, WELCOME) == {"__typename": "Prompt", **result["prompt"]}


CLEARABLE: list[tuple[str, Any, Any]] = [
    ("title", "A title", None),
    ("description", "A description", None),
    ("content", "Some content", None),
    ("model", "tts-neural", None),
    ("tags", ["a", "b"], []),
]
WAYS = ["literal", "input variable", "field variable"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("field", "value", "cleared"), CLEARABLE, ids=[c[0] for c in CLEARABLE])
async def test_null_clears_a_clearable_field(
    client: httpx.AsyncClient, field: str, value: Any, cleared: Any, way: str
) -> None:
    # given
    assert (await update(client, WELCOME, {field: value}))["__typename"] == "UpdatePromptSuccess"
    # when
    result = await send_null(client, WELCOME, field, way)
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert result["prompt"][field] == cleared
    assert (await read(client, WELCOME))[field] == cleared


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("field", ["name", "fileName", "requestId"])
async def test_null_is_required_where_a_field_cannot_be_cleared(
    client: httpx.AsyncClient, db: Database, field: str, way: str
) -> None:
    before = await stored(db, WELCOME)
    result = await send_null(client, WELCOME, field, way)
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert field_codes(result) == [(field, "REQUIRED")]
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize("field", ["name", "title", "tags", "fileName", "expectedUpdatedAt"])
async def test_an_omitted_variable_is_an_absent_field_not_null(
    client: httpx.AsyncClient, db: Database, field: str
) -> None:
    # given: `input: {<field>: $value}` and no value for $value
    before = await stored(db, WELCOME)
    # when
    result = await update_field_variable(client, WELCOME, field, {})
    # then: nothing is cleared, nothing is required, nothing is written
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert result["prompt"]["updatedAt"] == SEEDED
    assert await stored(db, WELCOME) == before


async def test_an_empty_input_returns_the_prompt_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {})
    assert result["__typename"] == "UpdatePromptSuccess"
    assert {"__typename": "Prompt", **result["prompt"]} == await read(client, WELCOME)
    assert result["prompt"]["updatedAt"] == SEEDED
    assert result["prompt"]["updatedBy"] == "alice"
    assert await stored(db, WELCOME) == before


async def test_concurrent_updates_of_different_fields_all_survive(
    client: httpx.AsyncClient,
) -> None:
    # given
    changes: list[dict[str, Any]] = [
        {"title": "Concurrent title"},
        {"description": "Concurrent description"},
        {"content": "Concurrent content"},
        {"model": "concurrent-model"},
        {"tags": ["concurrent"]},
    ]
    # when
    results = await asyncio.gather(*(update(client, AFTER_HOURS, c) for c in changes))
    # then
    assert [r["__typename"] for r in results] == ["UpdatePromptSuccess"] * len(changes)
    after = await read(client, AFTER_HOURS)
    for change in changes:
        assert after | change == after
