"""Alembic, configured from code: no alembic.ini to keep in step with settings."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "db:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    # env.py runs its own event loop, so it needs a thread of its own.
    await asyncio.to_thread(upgrade, database_url, revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The latest migration this code ships (read from the migration scripts, no database)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
