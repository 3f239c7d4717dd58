"""Version history: one entry per write that changes something, in the write's transaction,
read newest first through Prompt.history and GuardrailPool.history (both databases)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from db.database import Database
from db.models import history_entries
from db.seed import ACME, ACME_DEFAULT_POOL, GLOBEX
from gateway.cli import main
from resolvers.errors import Forbidden
from resolvers.history import PROMPT, history_of
from resolvers.pagination import encode_cursor
from resolvers.principal import Principal, PrincipalKind
from tests.factories import TEST_SECRET, api_key, gql, token

WELCOME = "prm_acme_welcome"  # alice's: title "Welcome", tags ["greeting"], version 1
AFTER_HOURS = "prm_acme_after_hours"  # alice's
CAROLS = "prm_globex_welcome"
POOL = str(ACME_DEFAULT_POOL)  # name "Default", slug "default"

ENTRY = "version changes { field before after } actor { subject kind name } requestId recordedAt"
PROMPT_HISTORY = f"""
query ($id: ID!, $first: Int, $after: String) {{
  prompt(id: $id) {{
    __typename
    ... on Prompt {{
      version updatedAt
      history(first: $first, after: $after) {{
        edges {{ cursor node {{ {ENTRY} }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    ... on Error {{ code }}
  }}
}}
"""
POOL_HISTORY = f"""
query ($id: ID!) {{
  guardrailPool(id: $id) {{
    __typename
    ... on GuardrailPool {{ version history {{ edges {{ node {{ {ENTRY} }} }} }} }}
    ... on Error {{ code }}
  }}
}}
"""
UPDATE_PROMPT = """
mutation ($id: ID!, $input: UpdatePromptInput!, $dryRun: Boolean) {
  updatePrompt(id: $id, input: $input, dryRun: $dryRun) {
    __typename
    ... on UpdatePromptSuccess { prompt { version updatedAt } }
    ... on Error { code }
  }
}
"""
UPDATE_POOL = """
mutation ($id: ID!, $input: UpdateGuardrailPoolInput!, $dryRun: Boolean) {
  updateGuardrailPool(id: $id, input: $input, dryRun: $dryRun) {
    __typename
    ... on UpdateGuardrailPoolSuccess { guardrailPool { version } }
    ... on Error { code }
  }
}
"""
UPDATE_PROMPTS = """
mutation ($items: [UpdatePromptItem!]!, $policy: BulkErrorPolicy, $dryRun: Boolean) {
  updatePrompts(items: $items, errorPolicy: $policy, dryRun: $dryRun) {
    __typename
    ... on UpdatePromptsPayload { writtenCount results { __typename } }
  }
}
"""


async def _update_prompt(
    client: httpx.AsyncClient,
    prompt_id: str,
    changes: dict[str, Any],
    *,
    auth: str | None = None,
    dry_run: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    headers = {"X-Request-ID": request_id} if request_id else None
    variables = {"id": prompt_id, "input": changes, "dryRun": dry_run}
    body = await gql(client, UPDATE_PROMPT, variables, auth=auth or token(), headers=headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updatePrompt"]
    return result


async def _prompt_history(
    client: httpx.AsyncClient,
    prompt_id: str,
    *,
    auth: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    variables = {"id": prompt_id, "first": first, "after": after}
    body = await gql(client, PROMPT_HISTORY, variables, auth=auth or token())
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["prompt"]
    return result


def _nodes(prompt: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in prompt["history"]["edges"]]


async def _stored_count(db: Database) -> int:
    async with db.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(history_entries))).scalar_one()
        )


async def test_a_changing_write_records_one_entry_with_exact_values_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    # given
    changes = {"title": "Hello", "tags": ["greeting", "new"]}
    # when
    written = await _update_prompt(client, WELCOME, changes, request_id="req-history-1")
    # then
    assert written["__typename"] == "UpdatePromptSuccess"
    prompt = await _prompt_history(client, WELCOME)
    assert _nodes(prompt) == [
        {
            "version": 2,
            "changes": [
                {"field": "tags", "before": ["greeting"], "after": ["greeting", "new"]},
                {"field": "title", "before": "Welcome", "after": "Hello"},
            ],
            "actor": {"subject": "alice", "kind": "USER", "name": "Alice"},
            "requestId": "req-history-1",
            "recordedAt": written["prompt"]["updatedAt"],
        }
    ]
    assert prompt["version"] == 2


async def test_an_attached_upload_records_the_columns_its_subqueries_set(
    client: httpx.AsyncClient,
) -> None:
    # given: after-hours is a TTS prompt without audio; the upload's columns are set by the
    # UPDATE's own subqueries, not by values the caller sent
    # when
    written = await _update_prompt(client, AFTER_HOURS, {"requestId": "req-welcome-v2"})
    # then: the entry holds each column the write changed, as on the other database
    assert written["__typename"] == "UpdatePromptSuccess"
    [entry] = _nodes(await _prompt_history(client, AFTER_HOURS))
    assert entry["changes"] == [
        {"field": "assetId", "before": None, "after": "asset_acme_welcome_v2"},
        {"field": "fileName", "before": None, "after": "welcome-v2.mp3"},
        {"field": "type", "before": "TTS", "after": "ASSET"},
    ]


async def test_a_pool_rename_records_its_entry(client: httpx.AsyncClient, db: Database) -> None:
    # given
    key = await api_key(db, name="deployer")
    # when
    body = await gql(client, UPDATE_POOL, {"id": POOL, "input": {"name": "Retail"}}, auth=key)
    # then
    assert body["data"]["updateGuardrailPool"]["__typename"] == "UpdateGuardrailPoolSuccess"
    read = await gql(client, POOL_HISTORY, {"id": POOL}, auth=token())
    (node,) = [edge["node"] for edge in read["data"]["guardrailPool"]["history"]["edges"]]
    assert node["version"] == 2
    assert node["changes"] == [{"field": "name", "before": "Default", "after": "Retail"}]
    assert node["actor"]["kind"] == "API_KEY"
    assert node["actor"]["name"] == "deployer"


async def test_empty_and_unchanged_writes_record_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    # when: an empty input, and a title set to the one it has
    empty = await _update_prompt(client, WELCOME, {})
    same = await _update_prompt(client, WELCOME, {"title": "Welcome"})
    pool = await gql(client, UPDATE_POOL, {"id": POOL, "input": {}}, auth=token())
    # then
    assert empty["__typename"] == same["__typename"] == "UpdatePromptSuccess"
    assert pool["data"]["updateGuardrailPool"]["__typename"] == "UpdateGuardrailPoolSuccess"
    assert _nodes(await _prompt_history(client, WELCOME)) == []
    assert await _stored_count(db) == 0


async def test_dry_runs_record_nothing(client: httpx.AsyncClient, db: Database) -> None:
    # when
    single = await _update_prompt(client, WELCOME, {"title": "Dry"}, dry_run=True)
    pool = await gql(
        client, UPDATE_POOL, {"id": POOL, "input": {"name": "Dry"}, "dryRun": True}, auth=token()
    )
    bulk = await gql(
        client,
        UPDATE_PROMPTS,
        {"items": [{"id": WELCOME, "input": {"title": "Dry"}}], "dryRun": True},
        auth=token(),
    )
    # then: each answered as the write would be, and nothing stayed
    assert single["prompt"]["version"] == 2
    assert pool["data"]["updateGuardrailPool"]["guardrailPool"]["version"] == 2
    assert bulk["data"]["updatePrompts"]["results"] == [{"__typename": "UpdatePromptSuccess"}]
    assert await _stored_count(db) == 0


async def test_a_failed_write_records_nothing(client: httpx.AsyncClient, db: Database) -> None:
    # when: a name another prompt has, and a stale version
    taken = await _update_prompt(client, WELCOME, {"name": "after-hours"})
    stale = await _update_prompt(client, WELCOME, {"title": "x", "expectedVersion": 7})
    # then
    assert (taken["code"], stale["code"]) == ("CONFLICT", "CONFLICT")
    assert await _stored_count(db) == 0


async def test_bulk_writes_record_one_entry_per_written_item(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    items = [
        {"id": WELCOME, "input": {"title": "One"}},
        {"id": AFTER_HOURS, "input": {"title": ""}},  # invalid
        {"id": AFTER_HOURS, "input": {"model": "tts-premium"}},
    ]
    # when: a rejected batch, then the same batch keeping the good rows
    rejected = await gql(client, UPDATE_PROMPTS, {"items": items}, auth=token())
    kept = await gql(
        client, UPDATE_PROMPTS, {"items": items, "policy": "REJECT_FAILED_ROWS"}, auth=token()
    )
    # then
    assert rejected["data"]["updatePrompts"]["writtenCount"] == 0
    assert kept["data"]["updatePrompts"]["writtenCount"] == 2
    assert await _stored_count(db) == 2
    (welcome,) = _nodes(await _prompt_history(client, WELCOME))
    assert welcome["changes"] == [{"field": "title", "before": "Welcome", "after": "One"}]
    (after_hours,) = _nodes(await _prompt_history(client, AFTER_HOURS))
    assert after_hours["changes"] == [
        {"field": "model", "before": "tts-standard", "after": "tts-premium"}
    ]


async def test_rest_writes_and_idempotent_retries_record_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    headers = {"Authorization": f"Bearer {token()}", "X-Request-ID": "rest-history"}
    graphql = {"Authorization": f"Bearer {token()}", "Idempotency-Key": "history-key"}
    mutation = {"query": UPDATE_PROMPT, "variables": {"id": WELCOME, "input": {"title": "Kept"}}}
    # when
    rest = await client.patch(f"/v1/guardrails/pools/{POOL}", json={"name": "R"}, headers=headers)
    first = await client.post("/graphql", json=mutation, headers=graphql)
    retry = await client.post("/graphql", json=mutation, headers=graphql)
    # then
    assert rest.status_code == 200, rest.text
    assert first.content == retry.content
    read = await gql(client, POOL_HISTORY, {"id": POOL}, auth=token())
    (node,) = [edge["node"] for edge in read["data"]["guardrailPool"]["history"]["edges"]]
    assert (node["requestId"], node["changes"][0]["after"]) == ("rest-history", "R")
    assert len(_nodes(await _prompt_history(client, WELCOME))) == 1


async def test_history_pages_newest_first(client: httpx.AsyncClient) -> None:
    # given
    for title in ("a", "b", "c"):
        await _update_prompt(client, WELCOME, {"title": title})
    # when
    first = await _prompt_history(client, WELCOME, first=2)
    rest = await _prompt_history(
        client, WELCOME, first=2, after=first["history"]["pageInfo"]["endCursor"]
    )
    # then
    assert [n["version"] for n in _nodes(first)] == [4, 3]
    assert first["history"]["pageInfo"]["hasNextPage"] is True
    assert [n["version"] for n in _nodes(rest)] == [2]
    assert [(c["before"], c["after"]) for c in _nodes(rest)[0]["changes"]] == [("Welcome", "a")]
    assert rest["history"]["pageInfo"]["hasNextPage"] is False


async def test_a_foreign_cursor_is_a_typed_error(client: httpx.AsyncClient) -> None:
    body = await gql(
        client, PROMPT_HISTORY, {"id": WELCOME, "after": "bm90LWEtY3Vyc29y"}, auth=token()
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "version", ["99999999999999999999", "3000000000", "0", "-1", " 5 ", "1_0", "\u0663", "\u00b2"]
)
async def test_a_crafted_cursor_is_a_typed_error_not_a_failure(
    client: httpx.AsyncClient, version: str
) -> None:
    # a cursor in this API's own encoding, holding what no page ever hands out: a version
    # beyond the integer column (PostgreSQL and SQLite refused it with a 500), or one that
    # int() would take (signs, spaces, underscores, other scripts' digits)
    crafted = encode_cursor(version)
    body = await gql(client, PROMPT_HISTORY, {"id": WELCOME, "after": crafted}, auth=token())
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_another_organization_never_reaches_the_history(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    await _update_prompt(client, WELCOME, {"title": "Acme only"})
    # when: carol asks for acme's prompt, and for history under acme's id directly
    carol = await _prompt_history(client, WELCOME, auth=token("carol"))
    carols = Principal("carol", GLOBEX, frozenset({"prompts:read"}), None, PrincipalKind.USER)
    page = await history_of(
        db=db, principal=carols, kind=PROMPT, entity_id=WELCOME, first=None, after=None
    )
    # then
    assert carol == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
    assert list(page.rows) == []


async def test_history_needs_the_entitys_read_scope(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    await _update_prompt(client, WELCOME, {"title": "Scoped"})
    admin_only = Principal("alice", ACME, frozenset({"org:admin:read"}), None, PrincipalKind.USER)
    # when
    reader = await _prompt_history(client, WELCOME, auth=token(scope="prompts:read"))
    outsider = await _prompt_history(client, WELCOME, auth=token(scope="org:admin:read"))
    # then
    assert len(_nodes(reader)) == 1
    assert outsider == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}
    with pytest.raises(Forbidden):
        await history_of(
            db=db, principal=admin_only, kind=PROMPT, entity_id=WELCOME, first=None, after=None
        )


async def test_prune_removes_only_entries_older_than_the_days_given(
    client: httpx.AsyncClient,
    db: Database,
    database_url: str,
    no_patchbay_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given: two entries, the first made ten days old
    await _update_prompt(client, WELCOME, {"title": "old"})
    await _update_prompt(client, WELCOME, {"title": "new"})
    async with db.write() as conn:
        await conn.execute(
            update(history_entries)
            .where(history_entries.c.version == 2)
            .values(recorded_at=datetime.now(UTC) - timedelta(days=10))
        )
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)
    capsys.readouterr()
    # when
    code = await asyncio.to_thread(main, ["history", "prune", "--older-than", "7"])
    done = capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["history", "prune", "--older-than", "-1"])
    refusal = capsys.readouterr()
    # then
    assert code == 0, done.err
    assert "1 history entries removed" in done.err
    assert [n["version"] for n in _nodes(await _prompt_history(client, WELCOME))] == [3]
    assert refused.value.code == 2
    assert "DAYS must be a positive number" in refusal.err


async def test_concurrent_writes_chain_their_entries_without_a_gap(
    client: httpx.AsyncClient,
) -> None:
    # when: ten writers at once on one prompt
    titles = [f"t{n}" for n in range(10)]
    await asyncio.gather(*(_update_prompt(client, WELCOME, {"title": t}) for t in titles))
    # then: each entry's "before" is the previous entry's "after" (the row the UPDATE changed)
    nodes = list(reversed(_nodes(await _prompt_history(client, WELCOME, first=20))))
    assert [n["version"] for n in nodes] == list(range(2, 12))
    chain = [(n["changes"][0]["before"], n["changes"][0]["after"]) for n in nodes]
    assert chain[0][0] == "Welcome"
    assert all(chain[i][1] == chain[i + 1][0] for i in range(len(chain) - 1))
    assert sorted(after for _, after in chain) == sorted(titles)
