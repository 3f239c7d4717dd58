"""updatePrompt refuses input that breaks a field's rules with a ValidationError that names
every broken field, writes nothing, and accepts and normalises values at the limits."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import gql, token
from tests.updating_prompts import (
    SEEDED,
    UPDATE,
    UPDATE_LITERAL,
    WELCOME,
    field_codes,
    read,
    stored,
    update,
)


async def post_raw(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], *, auth: str
) -> httpx.Response:
    """POST escaped JSON, so strings httpx cannot encode (lone surrogates) reach the server."""
    return await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode("ascii"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {auth}"},
    )


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
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert await stored(db, WELCOME) == before


async def test_a_flood_of_tags_is_answered_with_one_issue(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        'mutation Tags($tags: [String!]) { updatePrompt(id: "prm_acme_welcome", '
        "input: {tags: $tags}) { ... on ValidationError { fields { field code } } } }",
        {"tags": [" "] * 50_000},
        auth=token("alice"),
    )
    assert body["data"]["updatePrompt"]["fields"] == [{"field": "tags", "code": "TOO_MANY"}]
