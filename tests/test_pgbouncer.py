"""Patchbay behind PgBouncer (Debian's 1.18), in transaction and in session pooling mode.

The PostgreSQL half of a subset of the suite runs again, in a pytest of its own, with every
connection going through a PgBouncer of this test's own: the suite's throwaway database is
created, migrated, seeded and used through it. The subset covers every statement Patchbay
issues (STATEMENTS says which test file covers which). Transaction pooling runs with
PATCHBAY_DATABASE_POOLER=pgbouncer; session pooling needs no setting.

And the setting is needed: without it, statements prepared on one server connection are
looked for on another, and fail.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.database import Database
from db.organizations import fetch_organization
from db.seed import ACME
from tests.own_servers import own_pgbouncer

ROOT = Path(__file__).resolve().parent.parent
# The statements Patchbay issues, and a test file of the suite that issues each.
STATEMENTS = {
    "tests/test_update_prompt_patch_semantics.py": "UPDATE prompts SET <changed> … RETURNING; "
    "SELECT prompt by id (the explaining read)",
    "tests/test_update_prompt_conflicts.py": "UPDATE prompts guarded by updated_at",
    "tests/test_update_prompt_unique_names.py": "UPDATE prompts hitting (org_id, name): the "
    "unique violation",
    "tests/test_update_prompt_audio_upload.py": "SELECT upload by request id; UPDATE prompts "
    "with the asset",
    "tests/test_update_prompt_ownership.py": "UPDATE prompts guarded by owner",
    "tests/test_update_guardrail_pool_changes.py": "UPDATE guardrail_pools … RETURNING; SELECT "
    "pool by id",
    "tests/test_update_guardrail_pool_unique_slugs.py": "UPDATE guardrail_pools hitting "
    "(org_id, slug)",
    "tests/test_reads.py": "SELECT organization (viewer), prompt and pool by id, pages of "
    "prompts and pools",
    "tests/test_fast_path.py": "the same reads and updates through the planned executor",
    "tests/test_authentication_api_keys.py": "SELECT active API key by prefix; INSERT and "
    "UPDATE (revoke) api_keys in a transaction",
    "tests/test_seed.py": "INSERT … ON CONFLICT DO NOTHING of the seed, in a transaction",
    "tests/test_service_endpoints.py": "/readyz: SELECT alembic_version",
}
# conftest: CREATE DATABASE, the migrations (DDL in a transaction), DELETE of every table.
SUBSET_LIMIT_SECONDS = 420
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"]


@pytest.mark.parametrize(
    ("pool_mode", "pooler"), [("transaction", "pgbouncer"), ("session", "none")]
)
def test_the_postgresql_tests_pass_through_pgbouncer(
    pool_mode: str, pooler: str, tmp_path: Path
) -> None:
    with own_pgbouncer(tmp_path, pool_mode=pool_mode) as pgbouncer:
        env = {
            **os.environ,
            "PATCHBAY_TEST_POSTGRES_URL": pgbouncer.url("postgres"),
            "PATCHBAY_REQUIRE_POSTGRES": "1",
            "PATCHBAY_DATABASE_POOLER": pooler,
        }
        done = subprocess.run(
            [*PYTEST, "-k", "postgresql", *STATEMENTS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBSET_LIMIT_SECONDS,
        )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary


@pytest.mark.parametrize("pooler", ["none", "pgbouncer"])
async def test_transaction_pooling_needs_the_pooler_setting(
    database_url: str, is_postgres: bool, tmp_path: Path, pooler: str, db: Database
) -> None:
    if not is_postgres:
        pytest.skip("PgBouncer stands before PostgreSQL")
    # given: three gateways' connections through three PgBouncer server connections
    with own_pgbouncer(tmp_path, pool_mode="transaction", server_connections=3) as pgbouncer:
        url = pgbouncer.url(make_url(database_url).database or "")
        databases = [Database(url, pooler=pooler, pool_size=2) for _ in range(3)]
        failures: list[str] = []

        async def reads(database: Database) -> None:
            for _ in range(20):
                try:
                    async with database.read() as conn:
                        found = await fetch_organization(conn, org_id=ACME)
                    async with database.write() as conn:  # SQLAlchemy's own prepared statements
                        await conn.execute(text("SELECT count(*) FROM prompts"))
                except Exception as error:
                    failures.append(f"{type(error).__name__}: {error.__cause__!r}")
                else:
                    assert found is not None

        try:
            # when
            await asyncio.gather(*(reads(database) for database in databases))
        finally:
            for database in databases:
                await database.dispose()
    # then
    if pooler == "pgbouncer":
        assert failures == []
    else:
        assert failures, "prepared statements survived transaction pooling without the setting"
