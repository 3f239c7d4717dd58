"""Ready means able to serve this code: a database that is absent, unmigrated or deleted is
not ready, and `patchbay serve` refuses to start on one; a PostgreSQL database that does not
exist is unavailable, not an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from db.migrate import upgrade_async
from tests.conftest import POSTGRES_ADMIN_URL, settings_for
from tests.factories import TEST_SECRET, client_for, token

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
PROMPT = 'query { prompt(id: "prm_acme_welcome") { __typename } }'


def _admin_dsn() -> str:
    return make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
async def unmigrated_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind: reachable, but without Patchbay's schema."""
    if database_url.startswith("sqlite"):
        file = tmp_path / "empty.db"
        file.touch()
        yield f"sqlite+aiosqlite:///{file}"
        return
    name = f"patchbay_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_admin_dsn(), timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _readyz(url: str) -> httpx.Response:
    async with client_for(settings_for(url, database_timeout_seconds=2)) as client:
        return await client.get("/readyz")


async def test_an_unmigrated_database_is_not_ready(unmigrated_url: str) -> None:
    response = await _readyz(unmigrated_url)
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


async def test_a_database_migrated_to_the_latest_is_ready(unmigrated_url: str) -> None:
    await upgrade_async(unmigrated_url)
    response = await _readyz(unmigrated_url)
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_a_database_one_migration_behind_is_not_ready(unmigrated_url: str) -> None:
    await upgrade_async(unmigrated_url, "0001")
    response = await _readyz(unmigrated_url)
    assert response.status_code == 503


def test_serve_refuses_an_unmigrated_database_in_one_line(unmigrated_url: str) -> None:
    done = _serve(unmigrated_url)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "run `patchbay db upgrade`" in done.stderr


def test_serve_refuses_a_missing_sqlite_file_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "never-made.db"
    done = _serve(f"sqlite+aiosqlite:///{missing}")
    assert done.returncode == 2
    assert "does not exist: run `patchbay db upgrade`" in done.stderr
    assert not missing.exists()


async def test_a_sqlite_file_deleted_under_the_gateway_is_not_ready(tmp_path: Path) -> None:
    file = tmp_path / "deleted.db"
    url = f"sqlite+aiosqlite:///{file}"
    await upgrade_async(url)
    async with client_for(settings_for(url)) as client:
        assert (await client.get("/readyz")).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            os.remove(f"{file}{suffix}")  # an operator's rm, under the running gateway
        assert (await client.get("/readyz")).status_code == 503


async def test_a_postgres_database_that_does_not_exist_is_unavailable() -> None:
    url = make_url(POSTGRES_ADMIN_URL).set(database=f"absent_{uuid.uuid4().hex[:8]}")
    settings = settings_for(url.render_as_string(False), database_timeout_seconds=2)
    async with client_for(settings) as client:
        response = await client.post(
            "/graphql", json={"query": PROMPT}, headers={"Authorization": f"Bearer {token()}"}
        )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def _serve(url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PATCHBAY_DATABASE_URL": url,
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
    }
    return subprocess.run(
        [PATCHBAY, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
