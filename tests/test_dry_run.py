"""Dry runs: every check runs (the uniqueness constraint by running the real statement and
rolling it back), the answer is what a real call would give now, and nothing is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.database import Database
from db.models import guardrail_pools, prompts
from tests.factories import gql, token

WELCOME = "prm_acme_welcome"  # alice's
HOLD_MUSIC = "prm_acme_hold_music"  # bob's
ACME_DEFAULT_POOL = "a1000000-0000-4000-8000-000000000001"

DRY_PROMPT = """
mutation ($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input, dryRun: true) {
    __typename
    ... on UpdatePromptSuccess { written prompt { name title version updatedBy } }
    ... on Error { code }
    ... on ValidationError { fields { field code } }
    ... on ConflictError { fields { field code } }
  }
}
"""
DRY_POOL = """
mutation ($id: ID!, $input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: $id, input: $input, dryRun: true) {
    __typename
    ... on UpdateGuardrailPoolSuccess { written guardrailPool { slug version } }
    ... on Error { code }
    ... on ConflictError { fields { field code } }
  }
}
"""


async def _rows(db: Database) -> list[Any]:
    """Every column of every prompt and pool, as stored."""
    async with db.write() as conn:
        found = (await conn.execute(select(prompts).order_by(prompts.c.id))).all()
        found += (await conn.execute(select(guardrail_pools).order_by(guardrail_pools.c.id))).all()
    return [tuple(row) for row in found]


PROMPT_CASES = {
    "success": (WELCOME, {"title": "would be", "name": "would-be"}, "UpdatePromptSuccess"),
    "validation": (WELCOME, {"name": ""}, "ValidationError"),
    "not found": ("prm_nobody", {"title": "x"}, "NotFoundError"),
    "owner": (HOLD_MUSIC, {"title": "x"}, "ForbiddenError"),
    "upload": (WELCOME, {"requestId": "req-nobody"}, "ValidationError"),
    "name taken": (WELCOME, {"name": "after-hours"}, "ConflictError"),
    "stale version": (WELCOME, {"title": "x", "expectedVersion": 5}, "ConflictError"),
}


@pytest.mark.parametrize("case", PROMPT_CASES)
async def test_a_dry_prompt_update_answers_as_a_real_one_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, case: str
) -> None:
    # given
    prompt_id, changes, expected = PROMPT_CASES[case]
    before = await _rows(db)
    # when
    body = await gql(client, DRY_PROMPT, {"id": prompt_id, "input": changes}, auth=token())
    # then: the member a real call would give, and every row byte-identical
    result = body["data"]["updatePrompt"]
    assert result["__typename"] == expected, result
    assert await _rows(db) == before
    if case == "success":
        assert result == {
            "__typename": "UpdatePromptSuccess",
            "written": False,
            "prompt": {"name": "would-be", "title": "would be", "version": 2, "updatedBy": "alice"},
        }
    if case == "name taken":  # found by the constraint itself, on the real statement
        assert result["fields"] == [{"field": "name", "code": "TAKEN"}]


async def test_the_real_call_after_a_dry_run_gives_the_same_answer(
    client: httpx.AsyncClient, db: Database
) -> None:
    variables = {"id": WELCOME, "input": {"title": "same"}}
    dry = (await gql(client, DRY_PROMPT, variables, auth=token()))["data"]["updatePrompt"]
    real_document = DRY_PROMPT.replace(", dryRun: true", "")
    real = (await gql(client, real_document, variables, auth=token()))["data"]["updatePrompt"]
    assert {**dry, "written": True} == real


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"slug": "would-be"}, "UpdateGuardrailPoolSuccess"),
        ({"slug": "marketing"}, "ConflictError"),
        ({"slug": "x", "expectedVersion": 3}, "ConflictError"),
    ],
)
async def test_a_dry_pool_update_stores_nothing(
    client: httpx.AsyncClient, db: Database, changes: dict[str, Any], expected: str
) -> None:
    before = await _rows(db)
    variables = {"id": ACME_DEFAULT_POOL, "input": changes}
    result = (await gql(client, DRY_POOL, variables, auth=token()))["data"]["updateGuardrailPool"]
    assert result["__typename"] == expected, result
    assert await _rows(db) == before
    if expected == "UpdateGuardrailPoolSuccess":
        assert result["written"] is False
        assert result["guardrailPool"] == {"slug": "would-be", "version": 2}


async def test_a_dry_run_needs_the_scope_like_a_real_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    variables = {"id": WELCOME, "input": {"title": "x"}}
    body = await gql(client, DRY_PROMPT, variables, auth=token(scope="prompts:read"))
    assert body["data"]["updatePrompt"]["__typename"] == "ForbiddenError"
