"""PATCHBAY_DATABASE_URL checked before use: one line that says what to write instead of a
driver's traceback, and the absolute path of a SQLite file (a relative one follows the
working directory)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES = "postgresql+asyncpg://user:password@host:5432/database"
SQLITE = "sqlite+aiosqlite:///./patchbay.db"


def database_url_problem(url: str) -> str | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"not a database URL; write {POSTGRES} or {SQLITE}"
    backend, _, driver = parsed.drivername.partition("+")  # without loading the dialect
    if backend in ("postgresql", "postgres") and parsed.drivername != "postgresql+asyncpg":
        return (
            f"Patchbay reaches PostgreSQL through asyncpg: write postgresql+asyncpg://…, "
            f"not {parsed.drivername}://… (e.g. {POSTGRES})"
        )
    if backend == "sqlite" and driver != "aiosqlite":
        return (
            "Patchbay reaches SQLite through aiosqlite: write sqlite+aiosqlite:///…, "
            f"not {parsed.drivername}:///…"
        )
    if backend not in ("postgresql", "sqlite"):
        return f"{parsed.drivername} is not supported; write {POSTGRES} or {SQLITE}"
    file = sqlite_file(parsed)
    if file is not None and not file.parent.is_dir():
        return f"the SQLite file's directory {file.parent} does not exist"
    return None


def sqlite_file(url: URL | str) -> Path | None:
    """The absolute path of a SQLite database file; None for PostgreSQL or memory."""
    parsed = make_url(url)
    if parsed.drivername.partition("+")[0] != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def describe(url: str) -> str:
    """The database for a human: a SQLite file's absolute path; a URL without its password."""
    file = sqlite_file(url)
    if file is not None:
        return f"SQLite file {file}"
    return make_url(url).render_as_string(hide_password=True)
