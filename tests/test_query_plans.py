"""The read statements stay index scans when the tables are large (PostgreSQL's plans).

A page of prompts or pools is a keyset page, `WHERE org_id = … [AND id > …] ORDER BY id
LIMIT n`: an index gives the rows in id order (the (org_id, id) index, or the primary key
when the organization holds most rows), so the work is the page's, not the table's; a
history page walks the entity's (org, kind, id, version) index backwards. With 200,000 rows
in the organization and as many in another, their ids interleaved, and the statistics
analyzed, PostgreSQL runs the exact SQL the gateway sends (the statements' own compilation
and values) under EXPLAIN ANALYZE. A lost index, a cast that hides a column from its index
or an ORDER BY no index gives shows as a Seq Scan, a Sort, or rows read far beyond the page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Select, Table, select, table, text
from sqlalchemy.engine import make_url

from db import statements
from db.database import Database
from db.history import _FIRST_PAGE as HISTORY_FIRST_PAGE
from db.history import _NEXT_PAGE as HISTORY_NEXT_PAGE
from db.history import EntryRow
from db.migrate import upgrade_async
from db.models import guardrail_pools, prompts
from db.reads import reads_of
from db.rows import PoolRow, PromptRow
from db.seed import ACME, seed_demo
from tests.conftest import throwaway_postgres

ROWS = 200_000  # per organization
VERSIONS = 200  # history entries per prompt of the first 1,000

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _copies(target: Table, source_id: str, replaced: dict[str, str]) -> str:
    """INSERT … SELECT: ROWS copies of one seeded row, with `replaced` columns as SQL of n."""
    names = [c.name for c in target.c]
    chosen = ", ".join(replaced.get(name, name) for name in names)
    return (
        f"INSERT INTO {target.name} ({', '.join(names)}) SELECT {chosen} FROM {target.name}, "
        f"generate_series(1, {ROWS}) AS n WHERE id = {source_id}"
    )


@pytest.fixture(scope="module")
async def large_database() -> AsyncIterator[Database]:
    async with throwaway_postgres("patchbay_plans") as url:
        await upgrade_async(url)
        db = Database(url)
        try:
            async with db.write() as write:
                await seed_demo(write)
            await _fill(url)
            yield db
        finally:
            await db.dispose()


async def _fill(url: str) -> None:
    """The bulk rows, on a connection of its own (no statement timeout of the gateway's)."""
    filling = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        for org in ("acme", "globex"):
            await filling.execute(
                _copies(
                    prompts,
                    f"'prm_{org}_welcome'",
                    {
                        "id": f"'prm_bulk_' || lpad(n::text, 7, '0') || '_{org}'",
                        "name": "'n' || n",
                    },
                )
            )
            await filling.execute(
                _copies(
                    guardrail_pools,
                    "(SELECT id FROM guardrail_pools WHERE org_id = (SELECT org_id FROM "
                    f"prompts WHERE id = 'prm_{org}_welcome') ORDER BY id LIMIT 1)",
                    {"id": "gen_random_uuid()", "name": "'n' || n", "slug": "'s' || n"},
                )
            )
        await filling.execute(
            "INSERT INTO history_entries (org_id, entity_kind, entity_id, version, "
            "changes, actor_subject, actor_kind, request_id, recorded_at) "
            "SELECT org_id, 'PROMPT', "
            "'prm_bulk_' || lpad((n % 1000 + 1)::text, 7, '0') || '_acme', n / 1000 + 1, "
            "'{}'::jsonb, 'alice', 'USER', 'r', now() FROM prompts, "
            f"generate_series(0, {1000 * VERSIONS - 1}) AS n "
            "WHERE id = 'prm_acme_welcome'"
        )
        await filling.execute("ANALYZE")  # the planner's statistics, as autovacuum makes them
    finally:
        await filling.close()


async def plan_of(
    db: Database, statement: Select[Any], params: dict[str, Any], row: type
) -> dict[str, Any]:
    """PostgreSQL's plan for the SQL and values the gateway would send."""
    async with db.read() as conn:
        ready = statements.prepared(conn.dialect, statement, params, row=row, partial=True)
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        found = await driver.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + ready.sql, *ready.values)
    explained = json.loads(found) if isinstance(found, str) else found  # the pool's json codec
    plan: dict[str, Any] = explained[0]["Plan"]
    return plan


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes(child))]


def assert_bounded(plan: dict[str, Any], indexes: set[str], page: int) -> None:
    """One scan of one of `indexes`, no sort, and at most a few pages' worth of rows read."""
    kinds = [node["Node Type"] for node in nodes(plan)]
    assert "Seq Scan" not in kinds and "Sort" not in kinds, kinds
    scans = [n for n in nodes(plan) if n["Node Type"] in ("Index Scan", "Index Only Scan")]
    assert len(scans) == 1 and scans[0]["Index Name"] in indexes, scans
    read = scans[0]["Actual Rows"] + scans[0].get("Rows Removed by Filter", 0)
    assert read <= 3 * page, scans[0]


async def test_the_tables_are_large(large_database: Database) -> None:
    async with large_database.read() as conn:
        count = (await conn.execute(select(text("count(*)")).select_from(prompts))).scalar_one()
        entries = (
            await conn.execute(select(text("count(*)")).select_from(table("history_entries")))
        ).scalar_one()
    assert count >= 2 * ROWS and entries == 1000 * VERSIONS


@pytest.mark.parametrize("columns", [None, frozenset({"name", "updated_at"})])
@pytest.mark.parametrize("after", [None, "prm_bulk_0100000_acme"])
async def test_a_page_of_prompts_is_an_index_scan(
    large_database: Database, columns: frozenset[str] | None, after: str | None
) -> None:
    reads = reads_of(prompts, columns)
    statement = reads.first_page if after is None else reads.next_page
    params = {"w_org": ACME, "w_after": after, "w_limit": 51}
    plan = await plan_of(large_database, statement, params, PromptRow)
    assert plan["Node Type"] == "Limit" and plan["Actual Rows"] == 51
    assert_bounded(plan, {"ix_prompts_org_id_id", "prompts_pkey"}, 51)


async def test_a_prompt_by_id_is_an_index_scan(large_database: Database) -> None:
    params = {"w_id": "prm_bulk_0123456_acme", "w_org": ACME}
    plan = await plan_of(large_database, reads_of(prompts, None).by_id, params, PromptRow)
    assert plan["Actual Rows"] == 1
    assert_bounded(plan, {"prompts_pkey", "ix_prompts_org_id_id"}, 1)


@pytest.mark.parametrize("after", [False, True])
async def test_a_page_of_pools_is_an_index_scan(large_database: Database, after: bool) -> None:
    reads = reads_of(guardrail_pools, None)
    async with large_database.read() as conn:
        middle = (
            await conn.execute(
                select(guardrail_pools.c.id)
                .where(guardrail_pools.c.org_id == ACME)
                .order_by(guardrail_pools.c.id)
                .offset(ROWS // 2)
                .limit(1)
            )
        ).scalar_one()
    statement = reads.next_page if after else reads.first_page
    params = {"w_org": ACME, "w_after": middle if after else None, "w_limit": 51}
    plan = await plan_of(large_database, statement, params, PoolRow)
    assert plan["Node Type"] == "Limit" and plan["Actual Rows"] == 51
    assert_bounded(plan, {"ix_guardrail_pools_org_id_id", "guardrail_pools_pkey"}, 51)


@pytest.mark.parametrize("before_version", [None, VERSIONS // 2])
async def test_a_page_of_history_walks_the_entity_index_backwards(
    large_database: Database, before_version: int | None
) -> None:
    statement = HISTORY_FIRST_PAGE if before_version is None else HISTORY_NEXT_PAGE
    params = {
        "h_org": ACME,
        "h_kind": "PROMPT",
        "h_id": "prm_bulk_0000500_acme",
        "h_before": before_version,
        "h_limit": 21,
    }
    plan = await plan_of(large_database, statement, params, EntryRow)
    assert plan["Node Type"] == "Limit" and plan["Actual Rows"] == 21
    assert_bounded(plan, {"pk_history_entries"}, 21)
    scan = next(n for n in nodes(plan) if n["Node Type"].startswith("Index"))
    assert scan["Scan Direction"] == "Backward"


def test_the_plans_name_indexes_the_migrations_create() -> None:
    # the names asserted above are the models' (and so the migrations') own
    names = {index.name for t in (prompts, guardrail_pools) for index in t.indexes}
    assert {"ix_prompts_org_id_id", "ix_guardrail_pools_org_id_id"} <= names
