"""Whether the database can serve this code: where it should be, at the latest migration.

A database that cannot be reached is another matter (DatabaseUnavailable): it may come
back by itself; a missing SQLite file or a schema behind the code will not.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from sqlalchemy import column, table
from sqlalchemy.engine import make_url

from db import statements
from db.database import Database
from db.errors import DatabaseUnavailable, is_missing_object
from db.migrate import head_revision

_VERSION = table("alembic_version", column("version_num")).select()


class NotReady(Exception):
    """The database is reachable, or absent, but not fit to serve: say what to do."""


class _Version(NamedTuple):
    version_num: str


async def check_ready(db: Database) -> None:
    """Returns when the database can serve; raises NotReady or DatabaseUnavailable."""
    path = sqlite_file(db.url)
    if path is not None and not path.is_file():
        raise NotReady(f"the SQLite file {path} does not exist: run `patchbay db upgrade`")
    head = head_revision()
    try:
        async with db.read() as conn:
            found = await statements.first(conn, _VERSION, {}, row=_Version)
    except DatabaseUnavailable:
        raise
    except Exception as error:
        if not is_missing_object(error):
            raise
        found = None  # no alembic_version table: never migrated
    current = found.version_num if found is not None else None
    if current != head:
        raise NotReady(
            f"the database schema is at migration {current or 'none'}, this code needs "
            f"{head}: run `patchbay db upgrade`"
        )


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
