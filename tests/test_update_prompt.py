"""updatePrompt, as a caller sees it: PATCH semantics, rules, errors, audit and races."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from db.database import Database
from db.models import prompts
from db.seed import ACME, SEEDED_AT
from gateway.identity.api_keys import prefix_of
from tests.factories import alices_prompt, api_key, gql, token

PROMPT_FIELDS = """
fragment PromptFields on Prompt {
  id orgId ownerId name title description type state assetId fileName content model tags
  createdAt createdBy createdUserName updatedAt updatedBy updatedUserName
}
"""
RESULT = (
    """
fragment Result on UpdatePromptResult {
  __typename
  ... on UpdatePromptSuccess { prompt { ...PromptFields } }
  ... on Error { code message }
  ... on ValidationError { fields { field code } }
  ... on ConflictError { fields { field code } }
  ... on ForbiddenError { requiredScope }
  ... on NotFoundError { resource id }
}
"""
    + PROMPT_FIELDS
)
UPDATE = (
    """
mutation Update($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) { ...Result }
}
"""
    + RESULT
)
# The input as an inline literal: INPUT is replaced by e.g. `title: null`.
UPDATE_LITERAL = (
    """
mutation UpdateLiteral($id: ID!) {
  updatePrompt(id: $id, input: {INPUT}) { ...Result }
}
"""
    + RESULT
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
PROMPT = (
    """
query Prompt($id: ID!) {
  prompt(id: $id) { __typename ...PromptFields }
}
"""
    + PROMPT_FIELDS
)

ALICE = "Alice Archer"
WELCOME = "prm_acme_welcome"  # alice's, ASSET, PUBLISHED, welcome.mp3, tags ["greeting"]
HOLD_MUSIC = "prm_acme_hold_music"  # bob's
AFTER_HOURS = "prm_acme_after_hours"  # alice's, TTS, DRAFT, no asset
GLOBEX_WELCOME = "prm_globex_welcome"  # carol's
UPLOAD = "req-welcome-v2"  # acme's upload: welcome-v2.mp3 -> asset_acme_welcome_v2
SEEDED = "2026-01-05T09:00:00+00:00"
STALE = "2025-12-31T23:59:59+00:00"
AUDIT = ("updatedAt", "updatedBy", "updatedUserName")
FIELD_TYPES = {"tags": "[String!]", "expectedUpdatedAt": "DateTime"}


# --- plain helpers ---------------------------------------------------------------------------


async def update(
    client: httpx.AsyncClient,
    prompt_id: str,
    changes: dict[str, Any],
    *,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """updatePrompt with the input as a variable; alice (with her display name) by default."""
    credential = token("alice", name=ALICE) if auth is None else auth
    body = await gql(
        client, UPDATE, {"id": prompt_id, "input": changes}, auth=credential, headers=headers
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updatePrompt"]
    return result


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


async def post_raw(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], *, auth: str
) -> httpx.Response:
    """POST escaped JSON, so strings httpx cannot encode (lone surrogates) reach the server."""
    return await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode("ascii"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {auth}"},
    )


async def read(client: httpx.AsyncClient, prompt_id: str, *, user: str = "alice") -> dict[str, Any]:
    body = await gql(client, PROMPT, {"id": prompt_id}, auth=token(user))
    result: dict[str, Any] = body["data"]["prompt"]
    assert result["__typename"] == "Prompt", result
    return result


async def stored(db: Database, prompt_id: str) -> dict[str, Any] | None:
    """The row as the database holds it, or None."""
    async with db.read() as conn:
        row = (await conn.execute(select(prompts).where(prompts.c.id == prompt_id))).first()
    return None if row is None else dict(row._mapping)


def field_codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in result["fields"]]


def without(prompt: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in prompt.items() if key not in keys}


# --- absent, null, value ---------------------------------------------------------------------

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


# --- validation ------------------------------------------------------------------------------

INVALID_INPUTS = [
    pytest.param({"name": ""}, [("name", "TOO_SHORT")], id="name-empty"),
    pytest.param({"name": " \t "}, [("name", "TOO_SHORT")], id="name-whitespace-only"),
    pytest.param({"name": "n" * 101}, [("name", "TOO_LONG")], id="name-101"),
    pytest.param({"name": f"  {'n' * 101}  "}, [("name", "TOO_LONG")], id="name-101-trimmed"),
    pytest.param({"name": "wel\ncome"}, [("name", "INVALID")], id="name-newline"),
    pytest.param({"name": "wel\tcome"}, [("name", "INVALID")], id="name-tab"),
    pytest.param({"name": "wel\x7fcome"}, [("name", "INVALID")], id="name-del"),
    pytest.param({"name": "wel\x1bcome"}, [("name", "INVALID")], id="name-escape"),
    pytest.param({"title": ""}, [("title", "TOO_SHORT")], id="title-empty"),
    pytest.param({"title": "t" * 201}, [("title", "TOO_LONG")], id="title-201"),
    pytest.param({"description": "d" * 1001}, [("description", "TOO_LONG")], id="desc-1001"),
    pytest.param({"content": "c" * 20001}, [("content", "TOO_LONG")], id="content-20001"),
    pytest.param({"model": ""}, [("model", "TOO_SHORT")], id="model-empty"),
    pytest.param({"model": "m" * 101}, [("model", "TOO_LONG")], id="model-101"),
    pytest.param({"tags": [f"tag-{i}" for i in range(21)]}, [("tags", "TOO_MANY")], id="tags-21"),
    pytest.param({"tags": ["ok", ""]}, [("tags.1", "TOO_SHORT")], id="tag-empty"),
    pytest.param({"tags": ["ok", "   "]}, [("tags.1", "TOO_SHORT")], id="tag-whitespace"),
    pytest.param({"tags": ["t" * 51]}, [("tags.0", "TOO_LONG")], id="tag-51"),
    pytest.param({"tags": ["ok", "a\tb"]}, [("tags.1", "INVALID")], id="tag-tab"),
    pytest.param(
        {"tags": ["", "ok", "t" * 51]},
        [("tags.0", "TOO_SHORT"), ("tags.2", "TOO_LONG")],
        id="tags-several",
    ),
    pytest.param({"fileName": ""}, [("fileName", "INVALID")], id="file-empty"),
    pytest.param({"fileName": "audio/hello.mp3"}, [("fileName", "INVALID")], id="file-slash"),
    pytest.param({"fileName": "audio\\hello.mp3"}, [("fileName", "INVALID")], id="file-bslash"),
    pytest.param({"fileName": "hello.txt"}, [("fileName", "INVALID")], id="file-extension"),
    pytest.param({"fileName": "hello"}, [("fileName", "INVALID")], id="file-no-extension"),
    pytest.param({"fileName": "hello.mp3.exe"}, [("fileName", "INVALID")], id="file-double"),
    pytest.param({"fileName": f"{'f' * 252}.mp3"}, [("fileName", "TOO_LONG")], id="file-256"),
    pytest.param({"requestId": ""}, [("requestId", "UNKNOWN")], id="request-empty"),
    pytest.param({"requestId": "req-nope"}, [("requestId", "UNKNOWN")], id="request-unknown"),
    pytest.param({"requestId": "r" * 129}, [("requestId", "UNKNOWN")], id="request-129"),
    pytest.param(
        {"expectedUpdatedAt": "2026-01-05T09:00:00"},
        [("expectedUpdatedAt", "INVALID")],
        id="expected-without-offset",
    ),
    pytest.param(
        {"title": "Late", "expectedUpdatedAt": "0001-01-01T00:00:00+01:00"},
        [("expectedUpdatedAt", "INVALID")],
        id="expected-before-year-1-in-utc",
    ),
    pytest.param(
        {"expectedUpdatedAt": "9999-12-31T23:59:59-01:00"},
        [("expectedUpdatedAt", "INVALID")],
        id="expected-after-year-9999-in-utc",
    ),
    pytest.param(
        {
            "name": " ",
            "title": "",
            "description": "d" * 1001,
            "model": "m" * 101,
            "tags": ["ok", "t" * 51],
            "fileName": "a/b.mp3",
            "expectedUpdatedAt": "2026-01-05T09:00:00",
        },
        [
            ("name", "TOO_SHORT"),
            ("title", "TOO_SHORT"),
            ("description", "TOO_LONG"),
            ("model", "TOO_LONG"),
            ("tags.1", "TOO_LONG"),
            ("fileName", "INVALID"),
            ("expectedUpdatedAt", "INVALID"),
        ],
        id="all-failures-together",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), INVALID_INPUTS)
async def test_a_broken_rule_is_a_validation_error_and_nothing_is_written(
    client: httpx.AsyncClient,
    db: Database,
    changes: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    # given
    before = await stored(db, WELCOME)
    # when
    result = await update(client, WELCOME, changes)
    # then
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "VALIDATION_FAILED"
    assert sorted(field_codes(result)) == sorted(expected)
    assert await stored(db, WELCOME) == before


ACCEPTED_INPUTS = [
    pytest.param({"name": "n" * 100}, {"name": "n" * 100}, id="name-100"),
    pytest.param({"name": f" \t{'n' * 100}  "}, {"name": "n" * 100}, id="name-100-trimmed"),
    pytest.param({"name": "  front door  "}, {"name": "front door"}, id="name-trimmed"),
    pytest.param({"name": "x"}, {"name": "x"}, id="name-1"),
    pytest.param({"name": "accueil-été-🎵"}, {"name": "accueil-été-🎵"}, id="name-unicode"),
    pytest.param({"title": "t" * 200}, {"title": "t" * 200}, id="title-200"),
    pytest.param({"title": "t"}, {"title": "t"}, id="title-1"),
    pytest.param({"description": "d" * 1000}, {"description": "d" * 1000}, id="desc-1000"),
    pytest.param({"description": ""}, {"description": ""}, id="desc-empty"),
    pytest.param({"content": "c" * 20000}, {"content": "c" * 20000}, id="content-20000"),
    pytest.param({"content": ""}, {"content": ""}, id="content-empty"),
    pytest.param({"model": "m" * 100}, {"model": "m" * 100}, id="model-100"),
    pytest.param({"model": "m"}, {"model": "m"}, id="model-1"),
    pytest.param({"tags": []}, {"tags": []}, id="tags-empty-list"),
    pytest.param(
        {"tags": [f"tag-{i}" for i in range(20)]},
        {"tags": [f"tag-{i}" for i in range(20)]},
        id="tags-20",
    ),
    pytest.param(
        {"tags": [*(f"tag-{i}" for i in range(20)), "tag-3", " tag-7 "]},
        {"tags": [f"tag-{i}" for i in range(20)]},
        id="tags-20-distinct-of-22",
    ),
    pytest.param({"tags": ["t" * 50]}, {"tags": ["t" * 50]}, id="tag-50"),
    pytest.param(
        {"tags": ["  b ", "a", "b", " a", "c"]}, {"tags": ["b", "a", "c"]}, id="tags-dedup"
    ),
    pytest.param({"fileName": f"{'f' * 251}.mp3"}, {"fileName": f"{'f' * 251}.mp3"}, id="file-255"),
    pytest.param({"fileName": "hello.ogg"}, {"fileName": "hello.ogg"}, id="file-ogg"),
    pytest.param({"fileName": "hello.wav"}, {"fileName": "hello.wav"}, id="file-wav"),
]


@pytest.mark.parametrize(("changes", "expected"), ACCEPTED_INPUTS)
async def test_values_at_the_limits_are_accepted_and_stored_normalised(
    client: httpx.AsyncClient, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = await update(client, WELCOME, changes)
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert result["prompt"] | expected == result["prompt"]
    after = await read(client, WELCOME)
    assert after | expected == after


# --- NUL bytes and lone surrogates -----------------------------------------------------------

UNSTORABLE_FIELDS = [
    ("name", "wel{}come", "name", "INVALID"),
    ("title", "Wel{}come", "title", "INVALID"),
    ("description", "a{}b", "description", "INVALID"),
    ("content", "a{}b", "content", "INVALID"),
    ("model", "tts{}", "model", "INVALID"),
    ("tags", ["ok", "a{}b"], "tags.1", "INVALID"),
    ("fileName", "hel{}lo.mp3", "fileName", "INVALID"),
    ("requestId", "req-welcome-v2{}", "requestId", "UNKNOWN"),  # the contract's only code
]


def poisoned(value: Any, bad: str) -> Any:
    if isinstance(value, list):
        return [item.format(bad) for item in value]
    return value.format(bad)


@pytest.mark.parametrize(
    ("field", "template", "error_field", "code"),
    UNSTORABLE_FIELDS,
    ids=[f[0] for f in UNSTORABLE_FIELDS],
)
async def test_a_nul_byte_in_a_field_is_a_validation_error(
    client: httpx.AsyncClient,
    db: Database,
    field: str,
    template: Any,
    error_field: str,
    code: str,
) -> None:
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {field: poisoned(template, "\x00")})
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [(error_field, code)]
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize(
    ("field", "template", "error_field", "code"),
    UNSTORABLE_FIELDS,
    ids=[f[0] for f in UNSTORABLE_FIELDS],
)
async def test_a_lone_surrogate_in_a_field_is_a_validation_error(
    client: httpx.AsyncClient,
    db: Database,
    field: str,
    template: Any,
    error_field: str,
    code: str,
) -> None:
    # given: JSON "\ud800", which no UTF-8 string can hold
    before = await stored(db, WELCOME)
    # when
    response = await post_raw(
        client,
        UPDATE,
        {"id": WELCOME, "input": {field: poisoned(template, "\ud800")}},
        auth=token("alice"),
    )
    # then
    assert response.status_code == 200, response.text
    result = response.json()["data"]["updatePrompt"]
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [(error_field, code)]
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize(
    "prompt_id",
    [
        pytest.param("p" * 300, id="300-chars"),
        pytest.param(f"{WELCOME}\x00", id="nul"),
        pytest.param("\x00", id="only-nul"),
        pytest.param(f"{WELCOME}\n", id="newline"),
        pytest.param("", id="empty"),
        pytest.param("prm_does_not_exist", id="unknown"),
        pytest.param(WELCOME.upper(), id="other-case"),
    ],
)
async def test_a_malformed_or_unknown_id_is_not_found(
    client: httpx.AsyncClient, db: Database, prompt_id: str
) -> None:
    before = await stored(db, WELCOME)
    result = await update(client, prompt_id, {"title": "Hello"})
    assert result["__typename"] == "NotFoundError", result
    assert (result["code"], result["message"], result["resource"], result["id"]) == (
        "NOT_FOUND",
        "prompt not found",
        "prompt",
        prompt_id,
    )
    assert await stored(db, WELCOME) == before


async def test_an_id_with_a_lone_surrogate_is_not_found(client: httpx.AsyncClient) -> None:
    response = await post_raw(
        client, UPDATE, {"id": "prm_\ud800", "input": {"title": "Hello"}}, auth=token("alice")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result = body["data"]["updatePrompt"]
    assert (result["__typename"], result["resource"], result["id"]) == (
        "NotFoundError",
        "prompt",
        "prm_\ud800",
    )


async def test_a_huge_list_of_tags_is_refused_quickly(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: 100,000 distinct tags, a body still under the 1 MiB limit
    tags = [str(i) for i in range(100_000)]
    before = await stored(db, WELCOME)
    # when
    started = time.perf_counter()
    result = await update(client, WELCOME, {"tags": tags})
    # then: one linear pass, not a quadratic duplicate search (that took minutes)
    assert time.perf_counter() - started < 5
    assert field_codes(result) == [("tags", "TOO_MANY")]
    assert await stored(db, WELCOME) == before


# --- authorization ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer not-a-token", id="garbage"),
        pytest.param(f"Bearer {token('alice', ttl=-3600)}", id="expired"),
        pytest.param(f"Bearer {token('alice', secret='x' * 40)}", id="wrong-secret"),
        pytest.param("Bearer am_live_notARealKeyAtAllButLongEnough", id="unknown-api-key"),
    ],
)
async def test_without_a_valid_credential_the_caller_is_unauthorized(
    client: httpx.AsyncClient, db: Database, authorization: str | None
) -> None:
    before = await stored(db, WELCOME)
    headers = {} if authorization is None else {"Authorization": authorization}
    body = await gql(client, UPDATE, {"id": WELCOME, "input": {"title": "Hacked"}}, headers=headers)
    result = body["data"]["updatePrompt"]
    assert (result["__typename"], result["code"]) == ("UnauthorizedError", "UNAUTHORIZED")
    assert result["message"] == "authentication failed"
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize("scope", ["prompts:read", "org:admin:write", ""])
async def test_a_token_without_prompts_write_is_forbidden(
    client: httpx.AsyncClient, db: Database, scope: str
) -> None:
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {"title": "Hacked"}, auth=token("alice", scope=scope))
    assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert result["requiredScope"] == "prompts:write"
    assert await stored(db, WELCOME) == before


async def test_an_api_key_without_prompts_write_is_forbidden(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, scope="prompts:read")
    result = await update(client, WELCOME, {"title": "Hacked"}, auth=key)
    assert (result["__typename"], result["requiredScope"]) == ("ForbiddenError", "prompts:write")


async def test_a_user_cannot_update_someone_elses_prompt(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: bob, with every scope, and alice's prompt
    before = await stored(db, WELCOME)
    # when
    result = await update(client, WELCOME, {"title": "Bob was here"}, auth=token("bob"))
    # then
    assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert result["requiredScope"] is None
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize("prompt_id", [WELCOME, HOLD_MUSIC])  # alice's and bob's
async def test_an_api_key_updates_any_prompt_of_its_organization(
    client: httpx.AsyncClient, db: Database, prompt_id: str
) -> None:
    # given
    key = await api_key(db, scope="prompts:write", name="deploy-bot")
    before = await read(client, prompt_id)
    # when
    result = await update(client, prompt_id, {"title": "Set by a robot"}, auth=key)
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, prompt_id)
    assert after["title"] == "Set by a robot"
    assert (after["updatedBy"], after["updatedUserName"]) == (prefix_of(key), "deploy-bot")
    assert (after["ownerId"], after["createdBy"], after["createdUserName"]) == (
        before["ownerId"],
        before["createdBy"],
        before["createdUserName"],
    )


async def test_another_organizations_prompt_answers_exactly_like_a_random_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: carol is in globex, prm_acme_welcome belongs to acme
    headers = {"X-Request-ID": "same-request"}
    before = await stored(db, WELCOME)
    # when
    theirs = await update(client, WELCOME, {"title": "Mine"}, auth=token("carol"), headers=headers)
    random = await update(
        client, "prm_acme_nope", {"title": "Mine"}, auth=token("carol"), headers=headers
    )
    # then
    assert theirs["__typename"] == "NotFoundError"
    assert theirs["id"] == WELCOME
    assert {**theirs, "id": None} == {**random, "id": None}
    assert await stored(db, WELCOME) == before


async def test_another_organizations_api_key_does_not_find_the_prompt(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, org="globex", scope="prompts:write")
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {"title": "Mine"}, auth=key)
    assert result["__typename"] == "NotFoundError"
    assert await stored(db, WELCOME) == before


async def test_an_upload_of_another_organization_is_unknown(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: req-welcome-v2 is acme's upload; carol updates her own globex prompt
    before = await stored(db, GLOBEX_WELCOME)
    # when
    result = await update(client, GLOBEX_WELCOME, {"requestId": UPLOAD}, auth=token("carol"))
    # then
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [("requestId", "UNKNOWN")]
    assert await stored(db, GLOBEX_WELCOME) == before


@pytest.mark.parametrize(
    ("caller", "prompt_id", "winner"),
    [
        pytest.param({"user": "alice", "ttl": -3600}, WELCOME, "UnauthorizedError", id="expired"),
        pytest.param({"scope": "prompts:read"}, WELCOME, "ForbiddenError", id="read-only"),
        pytest.param({"user": "bob"}, WELCOME, "ForbiddenError", id="not-owner"),
        pytest.param({"user": "carol"}, WELCOME, "NotFoundError", id="other-org"),
        pytest.param({"user": "alice"}, "p" * 300, "NotFoundError", id="malformed-id"),
    ],
)
async def test_an_empty_input_is_still_checked_for_access(
    client: httpx.AsyncClient, caller: dict[str, Any], prompt_id: str, winner: str
) -> None:
    result = await update(client, prompt_id, {}, auth=token(**caller))
    assert result["__typename"] == winner, result
    assert "prompt" not in result


# --- which error wins ------------------------------------------------------------------------

ORDER = [
    pytest.param(
        {"user": "alice", "scope": "prompts:read", "ttl": -3600},
        "prm_nope",
        {"name": ""},
        "UnauthorizedError",
        id="unauthorized-before-missing-scope",
    ),
    pytest.param(
        {"user": "alice", "scope": "prompts:read"},
        "prm_nope",
        {"name": ""},
        "ForbiddenError",
        id="missing-scope-before-invalid-input",
    ),
    pytest.param(
        {"user": "alice"},
        "prm_nope",
        {"name": "", "requestId": "req-nope"},
        "ValidationError",
        id="invalid-input-before-not-found",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"name": "", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="invalid-input-before-not-owner",
    ),
    pytest.param(
        {"user": "carol"},
        WELCOME,
        {"title": "Mine"},
        "NotFoundError",
        id="not-found-before-not-owner",
    ),
    pytest.param(
        {"user": "carol"},
        WELCOME,
        {"requestId": "req-nope"},
        "NotFoundError",
        id="not-found-before-unknown-request",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"requestId": "req-nope"},
        "ForbiddenError",
        id="not-owner-before-unknown-request",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"name": "hold-music", "expectedUpdatedAt": STALE},
        "ForbiddenError",
        id="not-owner-before-conflict",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"requestId": "req-nope", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="unknown-request-before-stale",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"requestId": "req-nope", "name": "hold-music"},
        "ValidationError",
        id="unknown-request-before-name-taken",
    ),
    pytest.param(
        {"user": "bob"},
        AFTER_HOURS,
        {"fileName": "late.mp3"},
        "ForbiddenError",
        id="not-owner-before-file-without-asset",
    ),
    pytest.param(
        {"user": "alice"},
        AFTER_HOURS,
        {"fileName": "late.mp3", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="file-without-asset-before-stale",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"name": "hold-music", "expectedUpdatedAt": STALE},
        "ConflictError",
        id="conflict-last",
    ),
]


@pytest.mark.parametrize(("caller", "prompt_id", "changes", "winner"), ORDER)
async def test_the_earlier_rule_wins_when_an_input_breaks_two(
    client: httpx.AsyncClient,
    db: Database,
    caller: dict[str, Any],
    prompt_id: str,
    changes: dict[str, Any],
    winner: str,
) -> None:
    before = await stored(db, prompt_id)
    result = await update(client, prompt_id, changes, auth=token(**caller))
    assert result["__typename"] == winner, result
    assert await stored(db, prompt_id) == before


async def test_the_order_reports_the_expected_details(client: httpx.AsyncClient) -> None:
    # scope before input: the missing scope is named
    scope = await update(client, "prm_nope", {"name": ""}, auth=token(scope="prompts:read"))
    assert scope["requiredScope"] == "prompts:write"
    # input before id: the input rule is listed, not the unknown upload
    invalid = await update(client, "prm_nope", {"name": "", "requestId": "req-nope"})
    assert field_codes(invalid) == [("name", "TOO_SHORT")]
    # owner before upload: no scope is named, it is about ownership
    owner = await update(client, WELCOME, {"requestId": "req-nope"}, auth=token("bob"))
    assert owner["requiredScope"] is None
    # upload before version
    upload = await update(client, WELCOME, {"requestId": "req-nope", "expectedUpdatedAt": STALE})
    assert field_codes(upload) == [("requestId", "UNKNOWN")]
    # version last
    stale = await update(client, WELCOME, {"title": "Late", "expectedUpdatedAt": STALE})
    assert (stale["__typename"], field_codes(stale)) == (
        "ConflictError",
        [("expectedUpdatedAt", "STALE")],
    )


# --- name uniqueness -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["welcome", "  welcome "])
async def test_a_name_taken_in_the_organization_is_a_conflict(
    client: httpx.AsyncClient, db: Database, name: str
) -> None:
    # given: acme's prm_acme_welcome is named "welcome"
    before = await stored(db, AFTER_HOURS)
    # when
    result = await update(client, AFTER_HOURS, {"name": name, "title": "Also changed"})
    # then
    assert (result["__typename"], result["code"]) == ("ConflictError", "CONFLICT")
    assert field_codes(result) == [("name", "TAKEN")]
    assert await stored(db, AFTER_HOURS) == before


async def test_a_name_of_another_organization_is_free(client: httpx.AsyncClient) -> None:
    # given: "hold-music" exists in acme only
    result = await update(client, GLOBEX_WELCOME, {"name": "hold-music"}, auth=token("carol"))
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert (await read(client, GLOBEX_WELCOME, user="carol"))["name"] == "hold-music"
    assert (await read(client, HOLD_MUSIC))["name"] == "hold-music"


async def test_renaming_a_prompt_to_its_own_name_succeeds(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"name": " welcome "})
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert result["prompt"]["name"] == "welcome"


async def test_a_freed_name_can_be_taken(client: httpx.AsyncClient) -> None:
    assert (await update(client, WELCOME, {"name": "welcome-old"}))["__typename"] == (
        "UpdatePromptSuccess"
    )
    result = await update(client, AFTER_HOURS, {"name": "welcome"})
    assert result["__typename"] == "UpdatePromptSuccess", result


# --- requestId and fileName ------------------------------------------------------------------


async def test_a_request_id_attaches_the_uploaded_audio(client: httpx.AsyncClient) -> None:
    # given: after-hours is a TTS prompt without audio
    # when
    result = await update(client, AFTER_HOURS, {"requestId": UPLOAD})
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, AFTER_HOURS)
    assert (after["assetId"], after["type"], after["fileName"]) == (
        "asset_acme_welcome_v2",
        "ASSET",
        "welcome-v2.mp3",
    )
    assert after["content"] == result["prompt"]["content"] is not None  # left as it was


async def test_a_file_name_sent_with_a_request_id_wins(client: httpx.AsyncClient) -> None:
    result = await update(client, AFTER_HOURS, {"requestId": UPLOAD, "fileName": "late.wav"})
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, AFTER_HOURS)
    assert (after["assetId"], after["type"], after["fileName"]) == (
        "asset_acme_welcome_v2",
        "ASSET",
        "late.wav",
    )


async def test_a_file_name_alone_renames_the_audio_file(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"fileName": "welcome-final.ogg"})
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, WELCOME)
    assert (after["assetId"], after["fileName"]) == ("asset_acme_welcome", "welcome-final.ogg")


async def test_a_file_name_needs_an_asset_or_a_request_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored(db, AFTER_HOURS)
    result = await update(client, AFTER_HOURS, {"fileName": "late.mp3", "title": "Late"})
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [("fileName", "INVALID")]
    assert await stored(db, AFTER_HOURS) == before


# --- expectedUpdatedAt -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected",
    [SEEDED, "2026-01-05T09:00:00Z", "2026-01-05T10:00:00+01:00", "2026-01-05T09:00:00.000000Z"],
)
async def test_the_stored_updated_at_lets_the_update_through(
    client: httpx.AsyncClient, expected: str
) -> None:
    assert (await read(client, WELCOME))["updatedAt"] == SEEDED
    result = await update(client, WELCOME, {"title": "Guarded", "expectedUpdatedAt": expected})
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert (await read(client, WELCOME))["title"] == "Guarded"


async def test_the_updated_at_of_a_previous_update_can_guard_the_next(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: an update with a fresh (sub-second) timestamp, as read back
    first = await update(client, WELCOME, {"title": "First"})
    version = (await read(client, WELCOME))["updatedAt"]
    assert version == first["prompt"]["updatedAt"]
    # when
    second = await update(client, WELCOME, {"title": "Second", "expectedUpdatedAt": version})
    # then
    assert second["__typename"] == "UpdatePromptSuccess", second
    before = await stored(db, WELCOME)
    third = await update(client, WELCOME, {"title": "Third", "expectedUpdatedAt": version})
    assert field_codes(third) == [("expectedUpdatedAt", "STALE")]
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"title": "Too late", "tags": ["late"]}, id="change"),
        pytest.param({}, id="no-change"),
        pytest.param({"requestId": UPLOAD}, id="attach"),
        pytest.param({"name": "hold-music"}, id="taken-name"),
    ],
)
async def test_a_stale_updated_at_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, changes: dict[str, Any]
) -> None:
    # given
    before = await stored(db, WELCOME)
    # when
    result = await update(client, WELCOME, {**changes, "expectedUpdatedAt": STALE})
    # then
    assert (result["__typename"], result["code"]) == ("ConflictError", "CONFLICT")
    assert field_codes(result) == [("expectedUpdatedAt", "STALE")]
    assert await stored(db, WELCOME) == before


async def test_a_null_updated_at_guard_is_no_guard(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"title": "Unguarded", "expectedUpdatedAt": None})
    assert result["__typename"] == "UpdatePromptSuccess", result


@pytest.mark.parametrize(
    ("variables", "query"),
    [
        pytest.param({"input": {"expectedUpdatedAt": "yesterday"}}, UPDATE, id="word"),
        pytest.param({"input": {"expectedUpdatedAt": ""}}, UPDATE, id="empty"),
        pytest.param({"input": {"expectedUpdatedAt": "2026-13-45T09:00:00Z"}}, UPDATE, id="13"),
        pytest.param({"input": {"expectedUpdatedAt": 1767603600}}, UPDATE, id="number"),
        pytest.param({"input": {"expectedUpdatedAt": f"{SEEDED}\x00"}}, UPDATE, id="nul"),
        pytest.param({"input": {"tags": ["ok", None]}}, UPDATE, id="null-tag"),
        pytest.param({"input": {"title": 42}}, UPDATE, id="number-title"),
        pytest.param({"input": {"ownerId": "bob"}}, UPDATE, id="unknown-field"),
        pytest.param({"input": None}, UPDATE, id="null-input"),
        pytest.param(
            {},
            UPDATE_LITERAL.replace("INPUT", 'expectedUpdatedAt: "yesterday"'),
            id="literal-word",
        ),
    ],
)
async def test_a_malformed_variable_is_a_graphql_validation_error(
    client: httpx.AsyncClient, db: Database, variables: dict[str, Any], query: str
) -> None:
    before = await stored(db, WELCOME)
    body = await gql(client, query, {"id": WELCOME, **variables}, auth=token("alice"))
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert await stored(db, WELCOME) == before


# --- audit -----------------------------------------------------------------------------------


async def test_a_change_is_stamped_with_who_and_when(client: httpx.AsyncClient) -> None:
    # given: bob's prompt, created by bob at the seed time
    started = datetime.now(UTC)
    auth = token("bob", name="Robert B.")
    # when
    result = await update(client, HOLD_MUSIC, {"description": "Loops forever"}, auth=auth)
    # then
    after = await read(client, HOLD_MUSIC)
    assert after == {"__typename": "Prompt", **result["prompt"]}
    assert after["updatedAt"].endswith("+00:00")
    assert started <= datetime.fromisoformat(after["updatedAt"]) <= datetime.now(UTC)
    assert (after["updatedBy"], after["updatedUserName"]) == ("bob", "Robert B.")
    assert (after["createdAt"], after["createdBy"], after["createdUserName"]) == (
        SEEDED,
        "bob",
        "Bob Baker",
    )


async def test_the_creation_stamp_never_changes(client: httpx.AsyncClient, db: Database) -> None:
    key = await api_key(db, scope="prompts:write", name="deploy-bot")
    await update(client, WELCOME, {"title": "One"})
    await update(client, WELCOME, {"requestId": UPLOAD}, auth=key)
    await update(client, WELCOME, {"name": "welcome-2", "tags": None})
    row = await stored(db, WELCOME)
    assert row is not None
    assert (row["created_at"], row["created_by"], row["created_user_name"]) == (
        SEEDED_AT,
        "alice",
        ALICE,
    )
    assert (row["owner_id"], row["org_id"], row["state"]) == ("alice", ACME, "PUBLISHED")


async def test_each_change_moves_updated_at_forward(client: httpx.AsyncClient) -> None:
    stamps = [(await read(client, WELCOME))["updatedAt"]]
    for title in ("One", "Two", "Three"):
        result = await update(client, WELCOME, {"title": title})
        stamps.append(result["prompt"]["updatedAt"])
    parsed = [datetime.fromisoformat(stamp) for stamp in stamps]
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)
    assert all(stamp.endswith("+00:00") for stamp in stamps)


# --- concurrency -----------------------------------------------------------------------------


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


async def test_twenty_racing_renames_to_one_name_give_one_success(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: twenty prompts of alice
    ids = [f"prm_race_{i:02d}" for i in range(20)]
    async with db.write() as conn:
        await conn.execute(insert(prompts), [alices_prompt(prompt_id) for prompt_id in ids])
    # when: all of them are renamed to the same name at once
    results = await asyncio.gather(*(update(client, i, {"name": "the-one"}) for i in ids))
    # then
    assert Counter(r["__typename"] for r in results) == {
        "UpdatePromptSuccess": 1,
        "ConflictError": 19,
    }
    conflicts = [r for r in results if r["__typename"] == "ConflictError"]
    assert all(field_codes(r) == [("name", "TAKEN")] for r in conflicts)
    async with db.read() as conn:
        named = await conn.execute(
            select(func.count()).select_from(prompts).where(prompts.c.name == "the-one")
        )
        assert named.scalar_one() == 1
