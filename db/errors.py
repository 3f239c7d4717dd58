"""Driver failures, translated once at the database's boundary into two kinds callers
know: UniqueViolation and DatabaseUnavailable. Everything else is a bug and stays as it is.

One table says what a PostgreSQL SQLSTATE means; SQLAlchemy's wrapped errors, asyncpg's,
aiosqlite's and sqlite3's own are all read through it.
"""

from __future__ import annotations

import sqlite3
from enum import Enum

import asyncpg
from sqlalchemy import exc as sa_exc


class Failure(Enum):
    LOST = "the server is gone: connections made before are dead too"
    BUSY = "the server refuses work for now, e.g. too many connections"
    ABSENT = "the database does not exist (yet): an operator's business, not a bug"
    CONTENDED = "two transactions waited for each other: one was rolled back, to run again"


# By SQLSTATE prefix. Connection exceptions (class 08) and a server shutting down, crashed or
# still starting up (57P01-57P03) lose the connection; insufficient resources (class 53)
# and a database that does not exist (3D000) do not. asyncpg raises the 57P0x ones at
# connect, where SQLAlchemy wraps them in a plain DBAPIError without marking the connection
# invalidated.
SQLSTATES: dict[str, Failure] = {
    "08": Failure.LOST,
    "57P01": Failure.LOST,
    "57P02": Failure.LOST,
    "57P03": Failure.LOST,
    "53": Failure.BUSY,
    "3D000": Failure.ABSENT,
    # Only transactions of several writes (db/unit.py) can wait for each other in a cycle:
    # a single write holds one row.
    "40P01": Failure.CONTENDED,
}
UNIQUE_VIOLATION = "23505"


class UniqueViolation(Exception):
    """A write collided with a unique constraint."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached, is locked or refuses work: worth a retry, not a bug."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause_name = type(cause).__name__


class Contention(DatabaseUnavailable):
    """A deadlock: the database rolled this transaction back, so it may simply run again."""


class WriteOutcomeUnknown(Exception):
    """A write was sent, then the database stopped answering within the bound: it may or may
    not have been applied. The caller must read before it retries."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause_name = type(cause).__name__


class _Translated:
    """The boundary: driver errors leave the database package as one of the two kinds. (A
    class, not a generator: it is entered on every request.)"""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: object
    ) -> None:
        if error is None or not isinstance(error, Exception):
            return
        if isinstance(error, UniqueViolation | DatabaseUnavailable | WriteOutcomeUnknown):
            return
        if is_unique_violation(error):
            raise UniqueViolation(str(error)) from error
        if is_unavailable(error):
            orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
            unavailable = Contention if failure_of(orig or error) is Failure.CONTENDED else None
            raise (unavailable or DatabaseUnavailable)(error) from error


_TRANSLATED = _Translated()


def translated() -> _Translated:
    return _TRANSLATED


def failure_of(error: BaseException) -> Failure | None:
    sqlstate = getattr(error, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return None
    for prefix, failure in SQLSTATES.items():
        if sqlstate.startswith(prefix):
            return failure
    return None


def is_unique_violation(error: BaseException) -> bool:
    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if getattr(orig, "sqlstate", None) == UNIQUE_VIOLATION:
        return True
    return getattr(orig, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_UNIQUE"


def connection_lost(error: BaseException) -> bool:
    """The server is gone (a restart, a shutdown): connections made before are dead too."""
    if isinstance(error, sa_exc.DBAPIError):  # raised through SQLAlchemy, which judged it
        return error.connection_invalidated
    if isinstance(error, asyncpg.PostgresError):
        return failure_of(error) is Failure.LOST
    if isinstance(error, asyncpg.InterfaceError):
        return not isinstance(error, ValueError)  # "connection is closed"; DataError is ours
    return isinstance(error, ConnectionError)


def connection_unusable(error: BaseException) -> bool:
    """This connection must not serve another request: lost, or a command timeout that may
    have left its statement running."""
    return connection_lost(error) or isinstance(error, TimeoutError)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, (sa_exc.TimeoutError, ConnectionError, TimeoutError, OSError)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or failure_of(error.orig or error) is not None:
            return True
        if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return _not_a_missing_object(error.orig or error)
        return False
    if isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError):
        return True  # e.g. "connection is closed" (its DataError, a ValueError, is a bug)
    if isinstance(error, sqlite3.OperationalError):
        return _not_a_missing_object(error)
    return failure_of(error) is not None


UNDEFINED_TABLE = "42P01"


def is_missing_object(error: BaseException) -> bool:
    """A table the statement names does not exist (an unmigrated database)."""
    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if getattr(orig, "sqlstate", None) == UNDEFINED_TABLE:
        return True
    return isinstance(orig, sqlite3.OperationalError) and not _not_a_missing_object(orig)


def _not_a_missing_object(error: BaseException) -> bool:
    # SQLite reports a missing table as OperationalError too: that one is a bug.
    return "no such" not in str(error).lower()
