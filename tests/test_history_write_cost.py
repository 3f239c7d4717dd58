"""What a history entry costs the write that records it (migration 0006): on PostgreSQL the
entry is inserted by the write's own statement, so each index and constraint of
history_entries is paid by every update. Entries written before 0006 stay readable."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from db.database import Database
from db.history import Actor, Recording
from db.migrate import upgrade_async
from db.prompts import _BY_ID, _recorded_statement
from db.rows import PromptRow
from db.seed import ACME
from db.statements import prepared
from tests.conftest import settings_for, throwaway_postgres
from tests.factories import client_for, gql, token
from tests.test_versions_migration import ROWS_BEFORE_0003

WRITTEN = ("description", "updated_at", "updated_by", "updated_user_name")


async def test_an_entry_fires_no_trigger_and_fills_two_indexes(
    database_url: str, db: Database
) -> None:
    """The foreign key to organizations checked (and share-locked) acme's row on every write
    of acme's, a uuid key filled an index of its own, and a plpgsql trigger ran a query per
    entry to decide on its NOTIFY (now sent by the statement itself): all gone."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite records the entry with its own statements")
    recording = Recording.of(
        "PROMPT", _BY_ID, _recorded_statement(WRITTEN, ()), Actor("alice", "USER", None)
    )
    params = {
        "v_description": f"cost {uuid.uuid4()}",
        "v_updated_at": None,
        "v_updated_by": "alice",
        "v_updated_user_name": None,
        "w_id": "prm_acme_welcome",
        "w_org": ACME,
        **recording.params(),
    }
    async with db.read() as conn:
        ready = prepared(conn.dialect, recording.one_statement, params, row=PromptRow)
        driver: Any = (await conn.get_raw_connection()).driver_connection
        transaction = driver.transaction()
        await transaction.start()
        try:  # EXPLAIN ANALYZE writes: rolled back, nothing is kept
            explained = await driver.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + ready.sql, *ready.values
            )
            indexes = await driver.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'history_entries'"
            )
        finally:
            await transaction.rollback()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
    fired = {trigger["Trigger Name"]: trigger["Calls"] for trigger in plan.get("Triggers", [])}
    assert fired == {}
    assert {row["indexname"] for row in indexes} == {
        "pk_history_entries",
        "ix_history_entries_recorded_at",
    }


@pytest.fixture
async def empty_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the session's."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'before-0006.db'}"
        return
    async with throwaway_postgres("patchbay_0006") as url:
        yield url


ENTRY_BEFORE_0006 = (
    "INSERT INTO history_entries (id, org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at) VALUES "
    "('c1000000000040008000000000000001', '11111111111141118111111111111111', 'PROMPT', "
    "'prm_old', 2, '{\"name\": [\"older\", \"old\"]}', 'alice', 'USER', 'Alice', 'req-0005', "
    "'2026-01-06 09:00:00')"
)
HISTORY = """
query { prompt(id: "prm_old") { ... on Prompt { history { edges { node {
  version requestId changes { field before after } } } } } } }
"""
RENAME = """
mutation { updatePrompt(id: "prm_old", input: {name: "newer"}) { __typename } }
"""


async def test_entries_written_before_0006_are_kept_and_new_ones_follow(empty_url: str) -> None:
    # given: a database at 0005 with a prompt and one history entry of it
    await upgrade_async(empty_url, "0005")
    before = Database(empty_url)
    try:
        async with before.write() as conn:
            for statement in [*ROWS_BEFORE_0003, ENTRY_BEFORE_0006]:
                sql = statement if before.is_sqlite else statement.replace("'[]'", "'[]'::jsonb")
                await conn.execute(text(sql))
            await conn.execute(text("UPDATE prompts SET version = 2"))
    finally:
        await before.dispose()
    # when
    await upgrade_async(empty_url)
    async with client_for(settings_for(empty_url)) as client:
        renamed = await gql(client, RENAME, auth=token())
        read = await gql(client, HISTORY, auth=token())
    # then
    assert renamed["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    nodes = [edge["node"] for edge in read["data"]["prompt"]["history"]["edges"]]
    assert [(node["version"], node["changes"]) for node in nodes] == [
        (3, [{"field": "name", "before": "old", "after": "newer"}]),
        (2, [{"field": "name", "before": "older", "after": "old"}]),
    ]
    assert nodes[1]["requestId"] == "req-0005"


OLD_CODE_WRITE = (
    "INSERT INTO history_entries (id, org_id, entity_kind, entity_id, version, changes, "
    "actor_subject, actor_kind, actor_name, request_id, recorded_at) VALUES "
    f"(gen_random_uuid(), '{ACME}', 'PROMPT', 'prm_acme_welcome', "
    "999, '{}'::jsonb, 'alice', 'USER', NULL, 'req-old-replica', now()) RETURNING id"
)
OLD_CODE_READ = (
    "SELECT id, org_id, entity_kind, entity_id, version FROM history_entries "
    "WHERE request_id = 'req-old-replica'"
)


async def test_a_replica_on_the_code_before_0006_keeps_writing_after_it(
    database_url: str, db: Database
) -> None:
    """A rolling upgrade (docs/deploy.md) migrates first and restarts replicas one at a time:
    until then, replicas on 0005's code insert and read the uuid `id` (db/history.py as it
    was). Without the column their every recorded write failed with UndefinedColumn."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one process: no rolling upgrade")
    async with db.read() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        transaction = driver.transaction()
        await transaction.start()
        try:  # what the old code sends, rolled back
            written = await driver.fetchval(OLD_CODE_WRITE)
            read = await driver.fetchrow(OLD_CODE_READ)
        finally:
            await transaction.rollback()
    assert read["id"] == written
    assert read["version"] == 999
