"""Migration 0003 on a database in use: existing prompts and pools start at version 1, the
idempotency table arrives empty, and the gateway serves versions at once (both databases)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.database import Database
from db.migrate import upgrade_async
from tests.conftest import POSTGRES_ADMIN_URL, settings_for
from tests.factories import client_for, gql, token

ROWS_BEFORE_0003 = [
    "INSERT INTO organizations (id, slug, name) VALUES "
    "('11111111111141118111111111111111', 'acme', 'Acme')",
    "INSERT INTO brands (id, org_id, name) VALUES "
    "('b1000000000040008000000000000001', '11111111111141118111111111111111', 'Acme Retail')",
    "INSERT INTO guardrail_pools (id, org_id, brand_id, name, slug, created_at, updated_at) "
    "VALUES ('a1000000000040008000000000000001', '11111111111141118111111111111111', "
    "'b1000000000040008000000000000001', 'Default', 'default', "
    "'2026-01-05 09:00:00', '2026-01-05 09:00:00')",
    "INSERT INTO prompts (id, org_id, owner_id, name, type, state, tags, created_at, "
    "created_by, updated_at, updated_by) VALUES ('prm_old', '11111111111141118111111111111111', "
    "'alice', 'old', 'TTS', 'DRAFT', '[]', '2026-01-05 09:00:00', 'alice', "
    "'2026-01-05 09:00:00', 'alice')",
]
READ = """
query {
  prompt(id: "prm_old") { ... on Prompt { name version } }
  guardrailPool(id: "a1000000-0000-4000-8000-000000000001") { ... on GuardrailPool { version } }
}
"""


@pytest.fixture
async def empty_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the session's."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'before-0003.db'}"
        return
    admin_dsn = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(False)
    name = f"patchbay_0003_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_rows_stored_before_0003_start_at_version_1(empty_url: str) -> None:
    # given: a database at 0002 with a prompt and a pool in it
    await upgrade_async(empty_url, "0002")
    before = Database(empty_url)
    try:
        async with before.write() as conn:
            for statement in ROWS_BEFORE_0003:
                sql = statement if before.is_sqlite else statement.replace("'[]'", "'[]'::jsonb")
                await conn.execute(text(sql))
    finally:
        await before.dispose()
    # when
    await upgrade_async(empty_url)
    # then
    async with client_for(settings_for(empty_url)) as client:
        read = await gql(client, READ, auth=token())
    assert read["data"] == {
        "prompt": {"name": "old", "version": 1},
        "guardrailPool": {"version": 1},
    }
