"""One suite, two databases: every test runs on SQLite and on PostgreSQL.

PostgreSQL comes from PATCHBAY_TEST_POSTGRES_URL (an admin URL; a throwaway database
is created per run). Without a server its tests skip, unless PATCHBAY_REQUIRE_POSTGRES=1
(set by CI), which makes them fail instead.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from db.database import Database
from db.migrate import upgrade_async
from db.models import (
    api_keys,
    brands,
    guardrail_pools,
    history_entries,
    organization_rate_limits,
    organizations,
    prompts,
    uploads,
)
from db.seed import seed_demo
from gateway.app import create_app
from gateway.settings import Settings
from tests.factories import TEST_SECRET, asgi_client

SQL_TEXT = re.compile(r"\b(SELECT|UPDATE|INSERT|DELETE)\b .*\b(FROM|SET|INTO|WHERE)\b", re.I)

POSTGRES_ADMIN_URL = os.environ.get(
    "PATCHBAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("PATCHBAY_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'patchbay.db'}"
        await upgrade_async(url)
        yield url
        return
    async with throwaway_postgres("patchbay_test") as url:
        await upgrade_async(url)
        yield url


@asynccontextmanager
async def throwaway_postgres(prefix: str) -> AsyncIterator[str]:
    """A new database on the test server, dropped afterwards; without a server the test
    skips, or fails when PATCHBAY_REQUIRE_POSTGRES=1."""
    admin = make_url(POSTGRES_ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable ({error}); set PATCHBAY_TEST_POSTGRES_URL")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def settings_for(database_url: str, **overrides: object) -> Settings:
    return Settings(database_url=database_url, jwt_secret=TEST_SECRET, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(settings_for(database_url))
    yield app
    await app.state.db.dispose()


async def reset_demo_data(database: Database) -> None:
    async with database.write() as conn:
        for table in (
            api_keys,
            history_entries,
            prompts,
            uploads,
            guardrail_pools,
            brands,
            organization_rate_limits,
            organizations,
        ):
            await conn.execute(delete(table))
        await seed_demo(conn)


@pytest.fixture
async def db(app: Starlette) -> Database:
    """The app's database, reset to the demo data before each test."""
    database: Database = app.state.db
    await reset_demo_data(database)
    return database


@pytest.fixture
async def client(app: Starlette, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
def no_patchbay_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in the test must not pick up a developer's PATCHBAY_* variables (the
    authentication tests ask for it with `pytestmark`)."""
    for name in list(os.environ):
        if name.startswith("PATCHBAY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_leaks_in_logs(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every test: no stack trace, SQL text or secret in any log line it caused."""
    caplog.set_level(logging.INFO)
    yield
    if request.node.get_closest_marker("logs_a_failure"):
        return
    for record in caplog.get_records("call"):
        text = record.getMessage()
        assert record.exc_info is None, f"stack trace logged: {text}"
        assert "Traceback" not in text
        assert not SQL_TEXT.search(text), f"SQL in a log line: {text}"
        assert TEST_SECRET not in text
