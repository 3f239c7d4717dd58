"""What the updatePrompt tests share: the documents, the seeded prompts they touch, and
helpers that send an update or read a prompt back (through the API or from the table)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from db.database import Database
from db.models import prompts
from tests.factories import gql, token

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
