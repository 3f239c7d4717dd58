"""The fast path answers exactly what Strawberry answers, for every shape it plans.

Each case runs on an app with the fast path (twice: the first request teaches it the
document, the second is planned) and on an app without it, each time on fresh demo data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from db.database import Database
from db.models import prompts
from db.reads import reads_of
from gateway.app import create_app
from gateway.graphql.view import PatchbayGraphQL
from schema.documents import CachedDocuments, DocumentStore
from schema.prompt import prompt_columns
from tests.conftest import reset_demo_data, settings_for
from tests.factories import token

UPDATE = """
mutation Update($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id name updatedAt } }
    ... on NotFoundError { message }
  }
}
"""
EVERYTHING = """
mutation Everything($id: ID!, $input: UpdatePromptInput!) {
  result: updatePrompt(id: $id, input: $input) {
    __typename
    ...Failure
    ... on ValidationError { fields { field code message } }
    ... on ConflictError { fields { field code } }
    ... on ForbiddenError { requiredScope }
    ... on NotFoundError { resource id }
    ... on UpdatePromptSuccess {
      prompt {
        id orgId ownerId name title description type state assetId fileName content model
        tags createdAt createdBy createdUserName updatedAt updatedBy updatedUserName
        links { self { href } downloadLink { href } }
        again: name
        links { self { kind: __typename } }
      }
    }
  }
}
fragment Failure on Error { code message requestId }
"""
LITERALS = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Hello", tags: ["a", " a ", "b"]}) {
  ... on UpdatePromptSuccess { prompt { title tags } } ... on Error { code } } }
"""
TWO_OPERATIONS = """
query Read { viewer { __typename } }
mutation Write($id: ID!) {
  updatePrompt(id: $id, input: {description: "two"}) {
    __typename ... on UpdatePromptSuccess { prompt { description } } } }
"""
WITH_DIRECTIVE = """
mutation Skip($id: ID!, $full: Boolean!) {
  updatePrompt(id: $id, input: {description: "d"}) {
    __typename ... on UpdatePromptSuccess { prompt { id description @include(if: $full) } } } }
"""
TWO_ROOT_FIELDS = """
mutation Both($id: ID!) {
  a: updatePrompt(id: $id, input: {title: "A"}) { __typename }
  b: updatePrompt(id: $id, input: {title: "B"}) {
    __typename ... on UpdatePromptSuccess { prompt { title } } }
}
"""
POOL = """
mutation Pool($id: ID!, $input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: $id, input: $input) {
    __typename
    ... on UpdateGuardrailPoolSuccess { guardrailPool { id orgId brandId name slug createdAt } }
    ... on Error { code message }
    ... on ConflictError { fields { field code } }
  }
}
"""
PROMPT = """
query One($id: ID!) {
  prompt(id: $id) {
    __typename
    ... on Prompt {
      id orgId ownerId name title description type state assetId fileName content model
      tags createdAt createdBy createdUserName updatedAt updatedBy updatedUserName
      links { self { href } downloadLink { href } }
    }
    ... on Error { code message requestId }
    ... on ForbiddenError { requiredScope }
    ... on NotFoundError { resource id }
  }
}
"""
PROMPTS = """
query Page($first: Int, $after: String) {
  page: prompts(first: $first, after: $after) {
    __typename
    ... on PromptConnection {
      edges { cursor node { id name title type state tags createdAt updatedAt
        links { self { href } downloadLink { href } } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { code message }
  }
}
"""
# Reads of a few columns: the planned read selects only what the writers read (none of
# these may come back null or stale because a column was left out); aliases and fragments
# spread the same fields about; `changed` and `made` are datetimes under names no test masks.
PROMPTS_FEW = """
query Few($first: Int) {
  prompts(first: $first) {
    ... on PromptConnection { edges { node { label: name } } pageInfo { hasNextPage } }
  }
}
"""
PROMPTS_SPREAD = """
query Spread($first: Int, $after: String) {
  prompts(first: $first, after: $after) {
    __typename
    ... on PromptConnection {
      edges { node { ...Names ... on Prompt { kind: type tags } changed: updatedAt } }
      edges { node { made: createdAt t: tags links { downloadLink { href } } } }
    }
  }
}
fragment Names on Prompt { id again: name ownerId orgId state assetId fileName }
"""
PROMPTS_CURSORS = """
query Cursors($first: Int, $after: String) {
  prompts(first: $first, after: $after) {
    ... on PromptConnection {
      edges { cursor node { id tags } again: cursor }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
PROMPT_LINKS_ONLY = """
query Links($id: ID!) {
  prompt(id: $id) { ... on Prompt { links { self { href } downloadLink { href } } } }
}
"""
PROMPT_NO_FIELDS = """
query Absent($id: ID!) {
  prompt(id: $id) { __typename ... on NotFoundError { resource id } }
}
"""
POOL_FEW = """
query PoolFew($id: ID!) { guardrailPool(id: $id) { ... on GuardrailPool { slug made: createdAt } } }
"""
POOLS_FEW = """
{ guardrailPools(first: 10) { ... on GuardrailPoolConnection { edges { node { brandId } } } } }
"""
PROMPTS_DEFAULT = (
    "{ prompts { ... on PromptConnection { pageInfo { endCursor } edges { node { id } } } } }"
)
POOL_ONE = """
query Pool($id: ID!) {
  guardrailPool(id: $id) {
    __typename
    ... on GuardrailPool { id orgId brandId name slug createdAt updatedAt }
    ... on Error { code message }
    ... on NotFoundError { resource id }
  }
}
"""
POOLS = """
query Pools($first: Int, $after: String) {
  guardrailPools(first: $first, after: $after) {
    __typename
    ... on GuardrailPoolConnection {
      pageInfo { endCursor hasNextPage }
      edges { node { __typename id name slug createdAt } cursor }
    }
    ...Failure
  }
}
fragment Failure on Error { code message requestId }
"""
VIEWER = """
{ viewer { __typename ... on Viewer { subject kind name scopes organization { id slug name } }
  ... on UnauthorizedError { code message } } }
"""
BULK = """
mutation Bulk($items: [UpdatePromptItem!]!, $policy: BulkErrorPolicy, $dry: Boolean) {
  updatePrompts(items: $items, errorPolicy: $policy, dryRun: $dry) {
    __typename
    ... on UpdatePromptsPayload {
      writtenCount
      results {
        __typename
        ... on UpdatePromptSuccess { written prompt { id name version } }
        ... on ConflictError { fields { field code } currentVersion currentUpdatedAt }
        ... on Error { code requestId }
      }
    }
    ... on ValidationError { fields { field code } }
  }
}
"""
BULK_POOLS = """
mutation BulkPools($items: [UpdateGuardrailPoolItem!]!) {
  updateGuardrailPools(items: $items, errorPolicy: REJECT_FAILED_ROWS) {
    ... on UpdateGuardrailPoolsPayload {
      writtenCount
      results {
        __typename
        ... on UpdateGuardrailPoolSuccess { written guardrailPool { slug version } }
      }
    }
  }
}
"""
DRY = """
mutation Dry($id: ID!, $input: UpdatePromptInput!, $dry: Boolean) {
  updatePrompt(id: $id, input: $input, dryRun: $dry) {
    __typename
    ... on UpdatePromptSuccess { written prompt { name version } }
    ... on ConflictError { fields { field code } currentVersion currentUpdatedAt }
  }
}
"""
MARKETING = "a1000000-0000-4000-8000-000000000002"
WELCOME = "prm_acme_welcome"
AFTER_HOURS_CURSOR = "azpwcm1fYWNtZV9hZnRlcl9ob3Vycw"  # encode_cursor("prm_acme_after_hours")
DEFAULT_POOL_CURSOR = "azphMTAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDE"
CASES: list[tuple[str, str, dict[str, Any] | None, str | None, str | None]] = [
    # (case, document, variables, credential user, operationName)
    ("success", UPDATE, {"id": WELCOME, "input": {"description": "x"}}, "alice", None),
    (
        "everything",
        EVERYTHING,
        {"id": WELCOME, "input": {"title": "T", "tags": ["x"]}},
        "alice",
        None,
    ),
    (
        "clear fields",
        EVERYTHING,
        {"id": WELCOME, "input": {"title": None, "tags": None}},
        "alice",
        None,
    ),
    (
        "upload",
        EVERYTHING,
        {"id": "prm_acme_after_hours", "input": {"requestId": "req-welcome-v2"}},
        "alice",
        None,
    ),
    (
        "validation",
        EVERYTHING,
        {"id": WELCOME, "input": {"name": None, "title": ""}},
        "alice",
        None,
    ),
    ("unauthorized", EVERYTHING, {"id": WELCOME, "input": {"title": "x"}}, None, None),
    ("no scope", EVERYTHING, {"id": WELCOME, "input": {"title": "x"}}, "reader", None),
    ("not owner", EVERYTHING, {"id": WELCOME, "input": {"title": "x"}}, "bob", None),
    ("other org", EVERYTHING, {"id": WELCOME, "input": {"title": "x"}}, "carol", None),
    ("name taken", EVERYTHING, {"id": WELCOME, "input": {"name": "hold-music"}}, "alice", None),
    (
        "stale",
        EVERYTHING,
        {"id": WELCOME, "input": {"expectedUpdatedAt": "2020-01-01T00:00:00Z"}},
        "alice",
        None,
    ),
    (
        "bad datetime",
        EVERYTHING,
        {"id": WELCOME, "input": {"expectedUpdatedAt": "nope"}},
        "alice",
        None,
    ),
    ("missing variable", UPDATE, {"input": {"title": "x"}}, "alice", None),
    ("unknown input field", UPDATE, {"id": WELCOME, "input": {"bogus": 1}}, "alice", None),
    ("literals", LITERALS, None, "alice", None),
    ("operation name", TWO_OPERATIONS, {"id": WELCOME}, "alice", "Write"),
    ("directive", WITH_DIRECTIVE, {"id": WELCOME, "full": False}, "alice", None),
    ("two root fields", TWO_ROOT_FIELDS, {"id": WELCOME}, "alice", None),
    (
        "pool",
        POOL,
        {"id": MARKETING, "input": {"name": "Campaigns", "slug": "campaigns"}},
        "alice",
        None,
    ),
    ("pool conflict", POOL, {"id": MARKETING, "input": {"slug": "default"}}, "alice", None),
    ("pool null", POOL, {"id": MARKETING, "input": {"slug": None}}, "alice", None),
    (
        "bulk mixed",
        BULK,
        {
            "items": [
                {"id": WELCOME, "input": {"name": "x"}},
                {"id": "prm_acme_after_hours", "input": {"name": "x"}},
                {"id": "prm_acme_hold_music", "input": {"title": "t"}},
                {"id": WELCOME, "input": {"title": "t", "expectedVersion": 1}},
            ],
            "policy": "REJECT_FAILED_ROWS",
        },
        "alice",
        None,
    ),
    ("bulk rejected", BULK, {"items": [{"id": WELCOME, "input": {"name": ""}}]}, "alice", None),
    ("bulk dry", BULK, {"items": [{"id": WELCOME, "input": {}}], "dry": True}, "alice", None),
    ("bulk too many", BULK, {"items": [{"id": WELCOME, "input": {}}] * 101}, "alice", None),
    ("bulk forbidden", BULK, {"items": []}, "reader", None),
    (
        "bulk pools",
        BULK_POOLS,
        {
            "items": [
                {"id": MARKETING, "input": {"slug": "default"}},
                {"id": MARKETING, "input": {}},
            ]
        },
        "alice",
        None,
    ),
    ("dry run", DRY, {"id": WELCOME, "input": {"name": "d"}, "dry": True}, "alice", None),
    ("dry null", DRY, {"id": WELCOME, "input": {"name": "d"}, "dry": None}, "alice", None),
    ("stale version", DRY, {"id": WELCOME, "input": {"expectedVersion": 4}}, "alice", None),
    # reads
    ("prompt", PROMPT, {"id": WELCOME}, "alice", None),
    ("prompt read scope", PROMPT, {"id": "prm_acme_hold_music"}, "reader", None),
    ("prompt other org", PROMPT, {"id": "prm_globex_welcome"}, "alice", None),
    ("prompt unknown id", PROMPT, {"id": "nope"}, "alice", None),
    ("prompt unauthorized", PROMPT, {"id": WELCOME}, None, None),
    ("prompt forbidden", PROMPT, {"id": WELCOME}, "no scopes", None),
    ("prompts", PROMPTS, {"first": 50}, "alice", None),
    ("prompts first 2", PROMPTS, {"first": 2}, "alice", None),
    ("prompts after", PROMPTS, {"first": 2, "after": AFTER_HOURS_CURSOR}, "alice", None),
    ("prompts empty page", PROMPTS, {"first": 0}, "alice", None),
    ("prompts default", PROMPTS_DEFAULT, None, "reader", None),
    ("prompts bad cursor", PROMPTS, {"after": "not-a-cursor"}, "alice", None),
    ("prompts negative first", PROMPTS, {"first": -1}, "alice", None),
    ("prompts unauthorized", PROMPTS, {"first": 2}, None, None),
    ("prompts forbidden", PROMPTS, {"first": 2}, "no scopes", None),
    ("pool read", POOL_ONE, {"id": MARKETING}, "alice", None),
    ("pool not found", POOL_ONE, {"id": "a1000000-0000-4000-8000-000000000009"}, "alice", None),
    ("pool forbidden", POOL_ONE, {"id": MARKETING}, "reader", None),
    ("pools", POOLS, {"first": 50}, "alice", None),
    ("pools after", POOLS, {"first": 1, "after": DEFAULT_POOL_CURSOR}, "alice", None),
    ("pools bad cursor", POOLS, {"after": AFTER_HOURS_CURSOR}, "alice", None),
    ("pools unauthorized", POOLS, {}, None, None),
    ("prompts few columns", PROMPTS_FEW, {"first": 5}, "alice", None),
    ("prompts aliases and fragments", PROMPTS_SPREAD, {"first": 50}, "alice", None),
    ("prompts cursors without links", PROMPTS_CURSORS, {"first": 50}, "alice", None),
    ("prompts cursors after", PROMPTS_CURSORS, {"after": AFTER_HOURS_CURSOR}, "reader", None),
    ("prompts spread after", PROMPTS_SPREAD, {"after": AFTER_HOURS_CURSOR}, "reader", None),
    ("prompt links only", PROMPT_LINKS_ONLY, {"id": WELCOME}, "alice", None),
    ("prompt links draft", PROMPT_LINKS_ONLY, {"id": "prm_acme_after_hours"}, "alice", None),
    ("prompt no fields", PROMPT_NO_FIELDS, {"id": WELCOME}, "alice", None),
    ("prompt no fields missing", PROMPT_NO_FIELDS, {"id": "prm_nope"}, "alice", None),
    ("pool few columns", POOL_FEW, {"id": MARKETING}, "alice", None),
    ("pools few columns", POOLS_FEW, None, "alice", None),
    ("viewer", VIEWER, None, "alice", None),
    ("viewer unauthorized", VIEWER, None, None, None),
    ("viewer garbage", VIEWER, None, "garbage", None),
]
UNPLANNABLE = {WITH_DIRECTIVE, TWO_ROOT_FIELDS}
PRIMERS: dict[str, dict[str, Any] | None] = {  # variables that run each document cleanly
    UPDATE: {"id": WELCOME, "input": {"description": "p"}},
    EVERYTHING: {"id": WELCOME, "input": {"description": "p"}},
    LITERALS: None,
    TWO_OPERATIONS: {"id": WELCOME},
    WITH_DIRECTIVE: {"id": WELCOME, "full": True},
    TWO_ROOT_FIELDS: {"id": WELCOME},
    POOL: {"id": MARKETING, "input": {"name": "p"}},
    BULK: {"items": [{"id": WELCOME, "input": {"title": "p"}}]},
    BULK_POOLS: {"items": [{"id": MARKETING, "input": {"name": "p"}}]},
    DRY: {"id": WELCOME, "input": {"title": "p"}},
    PROMPT: {"id": WELCOME},
    PROMPTS: {"first": 3},
    PROMPTS_DEFAULT: None,
    POOL_ONE: {"id": MARKETING},
    POOLS: {},
    VIEWER: None,
    PROMPTS_FEW: {"first": 1},
    PROMPTS_SPREAD: {"first": 1},
    PROMPTS_CURSORS: {"first": 1},
    PROMPT_LINKS_ONLY: {"id": WELCOME},
    PROMPT_NO_FIELDS: {"id": WELCOME},
    POOL_FEW: {"id": MARKETING},
    POOLS_FEW: None,
}
VOLATILE = {"updatedAt", "requestId", "currentUpdatedAt"}


def _credential(user: str | None) -> dict[str, str]:
    if user is None:
        return {}
    if user == "reader":
        return {"Authorization": f"Bearer {token('alice', scope='prompts:read')}"}
    if user == "no scopes":
        return {"Authorization": f"Bearer {token('alice', scope='')}"}
    if user == "garbage":
        return {"Authorization": "Bearer not-a-token"}
    return {"Authorization": f"Bearer {token(user)}"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _view(app: Starlette) -> PatchbayGraphQL:
    return next(r.app for r in app.routes if isinstance(getattr(r, "app", None), PatchbayGraphQL))


@pytest.fixture(scope="module")
async def apps(database_url: str) -> AsyncIterator[tuple[Starlette, Starlette]]:
    fast = create_app(settings_for(database_url))
    slow = create_app(settings_for(database_url, fast_path=False))
    yield fast, slow
    await fast.state.db.dispose()
    await slow.state.db.dispose()


async def _post(app: Starlette, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://patchbay.test") as client:
        return await client.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("case", "document", "variables", "user", "operation"), CASES, ids=[c[0] for c in CASES]
)
async def test_fast_path_answers_like_strawberry(
    apps: tuple[Starlette, Starlette],
    db: Database,
    case: str,
    document: str,
    variables: dict[str, Any] | None,
    user: str | None,
    operation: str | None,
) -> None:
    fast, slow = apps
    body = {"query": document, "variables": variables, "operationName": operation}
    headers = _credential(user)
    # given: the fast app has run the document once, cleanly
    await _post(fast, {**body, "variables": PRIMERS[document]}, _credential("alice"))
    await reset_demo_data(db)
    # when
    planned = await _post(fast, body, headers)
    await reset_demo_data(db)
    reference = await _post(slow, body, headers)
    # then
    assert planned.status_code == reference.status_code
    assert _stable(planned.json()) == _stable(reference.json())
    was_planned = _view(fast).planned.plan_for(document, operation) is not None  # type: ignore[union-attr]
    assert was_planned == (document not in UNPLANNABLE)


async def test_a_persisted_query_round_trip(
    apps: tuple[Starlette, Starlette], db: Database
) -> None:
    fast, _ = apps
    digest = hashlib.sha256(UPDATE.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    variables = {"id": WELCOME, "input": {"description": "apq"}}
    headers = _credential("alice")
    # when: the hash alone, before the server knows it
    unknown = await _post(fast, {"variables": variables, "extensions": persisted}, headers)
    # then
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # when: the client sends document and hash, then the hash alone (twice: learnt, planned)
    full = await _post(
        fast, {"query": UPDATE, "variables": variables, "extensions": persisted}, headers
    )
    by_hash = [
        await _post(fast, {"variables": variables, "extensions": persisted}, headers)
        for _ in range(2)
    ]
    # then
    for response in (full, *by_hash):
        assert response.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"


async def test_a_persisted_query_with_the_wrong_hash_is_refused(
    apps: tuple[Starlette, Starlette], db: Database
) -> None:
    fast, _ = apps
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = await _post(fast, {"query": UPDATE, "extensions": persisted}, _credential("alice"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    # and the wrong hash was not stored
    again = await _post(fast, {"extensions": persisted}, _credential("alice"))
    assert again.json()["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.mark.parametrize(
    "persisted",
    [1, None, "x", {"version": 2, "sha256Hash": "0" * 64}, {"version": 1}],
    ids=["number", "null", "string", "version-2", "no-hash"],
)
async def test_a_malformed_persisted_query_is_refused_alike_over_post_and_get(
    apps: tuple[Starlette, Starlette], db: Database, persisted: object
) -> None:
    # given: a document beside a persistedQuery extension no client library sends
    fast, _ = apps
    query = "query Me { viewer { __typename } }"
    extensions = {"persistedQuery": persisted}
    transport = httpx.ASGITransport(app=fast)
    async with httpx.AsyncClient(transport=transport, base_url="http://patchbay.test") as client:
        # when
        posted = await _post(fast, {"query": query, "extensions": extensions}, _credential("alice"))
        got = await client.get(
            "/graphql",
            params={"query": query, "extensions": json.dumps(extensions)},
            headers=_credential("alice"),
        )
    # then: refused, the same way, and nothing ran
    assert (posted.status_code, got.status_code) == (400, 400), got.text
    posted_error, got_error = posted.json()["errors"][0], got.json()["errors"][0]
    assert got_error["extensions"]["code"] == posted_error["extensions"]["code"]
    assert got_error["message"] == posted_error["message"]
    assert got.json().get("data") is None


async def test_a_persisted_query_over_get(apps: tuple[Starlette, Starlette], db: Database) -> None:
    # given: Apollo's link with useGETForHashedQueries sends reads as GET
    fast, _ = apps
    query = "query Me { viewer { __typename ... on Viewer { subject } } }"
    extensions = json.dumps(
        {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    )
    transport = httpx.ASGITransport(app=fast)
    async with httpx.AsyncClient(transport=transport, base_url="http://patchbay.test") as client:
        # when
        unknown = await client.get(
            "/graphql", params={"extensions": extensions}, headers=_credential("alice")
        )
        full = await client.get(
            "/graphql",
            params={"query": query, "extensions": extensions},
            headers=_credential("alice"),
        )
        by_hash = await client.get(
            "/graphql", params={"extensions": extensions}, headers=_credential("alice")
        )
    # then
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert (
        full.json()["data"]
        == by_hash.json()["data"]
        == {"viewer": {"__typename": "Viewer", "subject": "alice"}}
    )


async def test_long_documents_are_neither_planned_nor_cached(
    apps: tuple[Starlette, Starlette], db: Database
) -> None:
    # given: a valid mutation made long by an inline literal (one token, ~20 KiB)
    fast, _ = apps
    long_text = "x" * 900
    document = (
        'mutation { updatePrompt(id: "prm_acme_welcome", input: {description: "'
        + long_text
        + '"}) { __typename } }'
        + " " * (20 * 1024)
    )
    store = _document_store(fast)
    before = len(store)
    # when: it runs twice
    answers = [await _post(fast, {"query": document}, _credential("alice")) for _ in range(2)]
    # then: served, but nothing of it was kept
    assert [a.json()["data"]["updatePrompt"]["__typename"] for a in answers] == [
        "UpdatePromptSuccess"
    ] * 2
    assert _view(fast).planned.plan_for(document, None) is None  # type: ignore[union-attr]
    assert len(store) == before and store.valid(document) is None


def _document_store(app: Starlette) -> DocumentStore:
    for extension in _view(app).schema.extensions:
        if getattr(extension, "func", None) is CachedDocuments:
            store: DocumentStore = extension.keywords["store"]  # type: ignore[attr-defined]
            return store
    raise AssertionError("no document store")


async def test_a_planned_read_selects_only_the_columns_it_writes(
    apps: tuple[Starlette, Starlette], db: Database
) -> None:
    # given: a page read asking for one field of each prompt, planned
    fast, _ = apps
    body = {"query": PROMPTS_FEW, "variables": {"first": 2}}
    await _post(fast, body, _credential("alice"))
    plan = _view(fast).planned.plan_for(PROMPTS_FEW, None)  # type: ignore[union-attr]
    assert plan is not None
    # when: it runs from its plan
    answer = await _post(fast, body, _credential("alice"))
    # then: its body fetches the name (and the id, the page's key) and nothing else
    selected = plan.resolve.keywords["selected"]  # type: ignore[attr-defined]
    assert selected["Prompt"] == {"name"}
    assert prompt_columns(selected["Prompt"]) == {"name"}
    sql = str(reads_of(prompts, frozenset({"name"})).first_page.compile())
    assert "prompts.name" in sql and "prompts.content" not in sql
    assert [e["node"]["label"] for e in answer.json()["data"]["prompts"]["edges"]] == [
        "after-hours",
        "hold-music",
    ]


async def test_a_planned_page_writes_tags_of_other_kinds_as_strawberry_does(
    apps: tuple[Starlette, Starlette], db: Database
) -> None:
    # given: tags that are not all strings (JSON text written by something else), and a
    # page that reads them, planned
    fast, slow = apps
    async with db.write() as conn:
        await conn.execute(
            update(prompts).where(prompts.c.id == WELCOME).values(tags=["a", 5, True, 2.5])
        )
    body = {"query": PROMPTS_CURSORS, "variables": {"first": 50}}
    await _post(fast, body, _credential("alice"))
    assert _view(fast).planned.plan_for(PROMPTS_CURSORS, None) is not None  # type: ignore[union-attr]
    # when: the planned app and Strawberry read the page
    planned = await _post(fast, body, _credential("alice"))
    reference = await _post(slow, body, _credential("alice"))
    # then: the same answer, each tag written by the String serializer
    assert planned.json() == reference.json()
    edges = planned.json()["data"]["prompts"]["edges"]
    assert {"a", "5", "true", "2.5"} == set(
        *(e["node"]["tags"] for e in edges if e["node"]["id"] == WELCOME)
    )
