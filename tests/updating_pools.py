"""What the updateGuardrailPool tests share: the documents, the seeded pools, and helpers
that send an update or read a pool back (through the API or from the table)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from db.database import Database
from db.models import guardrail_pools
from tests.factories import gql

RESULT = """
fragment Result on UpdateGuardrailPoolResult {
  __typename
  ... on UpdateGuardrailPoolSuccess {
    guardrailPool { id orgId brandId name slug createdAt updatedAt }
  }
  ... on Error { code message requestId }
  ... on ValidationError { fields { field code message } }
  ... on ConflictError { fields { field code message } }
  ... on ForbiddenError { requiredScope }
  ... on NotFoundError { resource id }
}
"""
UPDATE_POOL = (
    """
mutation UpdatePool($id: ID!, $input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: $id, input: $input) { ...Result }
}
"""
    + RESULT
)

POOL = """
query Pool($id: ID!) {
  guardrailPool(id: $id) {
    __typename
    ... on GuardrailPool { id orgId brandId name slug createdAt updatedAt }
    ... on Error { code }
  }
}
"""


async def update_pool(
    client: httpx.AsyncClient,
    pool_id: uuid.UUID | str,
    changes: dict[str, Any],
    *,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send updateGuardrailPool; the union member that came back (never a top-level error)."""
    body = await gql(
        client, UPDATE_POOL, {"id": str(pool_id), "input": changes}, auth=auth, headers=headers
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updateGuardrailPool"]
    return result


async def read_pool(client: httpx.AsyncClient, pool_id: uuid.UUID, *, auth: str) -> dict[str, Any]:
    body = await gql(client, POOL, {"id": str(pool_id)}, auth=auth)
    pool: dict[str, Any] = body["data"]["guardrailPool"]
    assert pool["__typename"] == "GuardrailPool", pool
    return pool


async def stored_pools(db: Database) -> dict[uuid.UUID, dict[str, Any]]:
    """Every pool row of every organization, straight from the database."""
    async with db.read() as conn:
        rows = (await conn.execute(select(guardrail_pools))).all()
    return {row.id: dict(row._mapping) for row in rows}


async def stored_pool(db: Database, pool_id: uuid.UUID) -> dict[str, Any]:
    return (await stored_pools(db))[pool_id]


def field_codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue["field"], issue["code"]) for issue in result["fields"]]


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)
