"""The order writes reach a row and the order of their updatedAt agree: the last write a
client was told about carries the newest updatedAt, on both databases."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx

from db.database import Database
from tests.factories import api_key

RENAME = """
mutation Write($id: ID!, $description: String!) {
  updatePrompt(id: $id, input: {description: $description}) {
    __typename ... on UpdatePromptSuccess { prompt { description updatedAt } } } }
"""
PROMPT = "prm_acme_welcome"
READ = "query Read($id: ID!) { prompt(id: $id) { ... on Prompt { description updatedAt } } }"
WRITERS = 30
ROUNDS = 8


async def _write(client: httpx.AsyncClient, key: str, description: str) -> datetime:
    response = await client.post(
        "/graphql",
        json={"query": RENAME, "variables": {"id": PROMPT, "description": description}},
        headers={"Authorization": f"Bearer {key}"},
    )
    prompt = response.json()["data"]["updatePrompt"]["prompt"]
    return datetime.fromisoformat(prompt["updatedAt"])


async def test_concurrent_writers_leave_the_newest_updated_at_on_the_row(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, scope="prompts:read prompts:write")
    for round_ in range(ROUNDS):
        # when: many writers change the same prompt at once
        names = [f"round {round_} writer {i}" for i in range(WRITERS)]
        stamps = await asyncio.gather(*(_write(client, key, name) for name in names))
        # then: every acknowledged updatedAt is distinct, and the row holds the newest one,
        # written by the writer that was given it
        assert len(set(stamps)) == WRITERS
        response = await client.post(
            "/graphql",
            json={"query": READ, "variables": {"id": PROMPT}},
            headers={"Authorization": f"Bearer {key}"},
        )
        row = response.json()["data"]["prompt"]
        newest = max(stamps)
        assert datetime.fromisoformat(row["updatedAt"]) == newest
        assert row["description"] == names[stamps.index(newest)]
