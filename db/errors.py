"""Recognising database failures by kind, whichever driver raised them."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc as sa_exc

# PostgreSQL saying "not now": connection exceptions (class 08), insufficient resources
# (class 53, e.g. too many connections), and a server shutting down, crashed or still
# starting up (57P01-57P03). asyncpg raises the last ones at connect, where SQLAlchemy wraps
# them in a plain DBAPIError without marking the connection invalidated.
UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


class UniqueViolation(Exception):
    """A write collided with a unique constraint."""


def is_unique_violation(error: BaseException) -> bool:
    """SQLAlchemy's IntegrityError or the driver's own error (db/direct.py)."""
    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    return getattr(orig, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_UNIQUE"


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or is locked: worth a retry, not a bug.

    Recognises SQLAlchemy's wrapped errors and the drivers' own (db/direct.py)."""
    if isinstance(error, (sa_exc.TimeoutError, ConnectionError, TimeoutError, OSError)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or says_unavailable(error.orig or error):
            return True
        if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return _not_a_missing_object(error.orig or error)
        return False
    if isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError):
        return True  # e.g. "connection is closed" (its DataError, a ValueError, is a bug)
    if isinstance(error, sqlite3.OperationalError):
        return _not_a_missing_object(error)
    return says_unavailable(error)


def says_unavailable(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def _not_a_missing_object(error: BaseException) -> bool:
    # SQLite reports a missing table as OperationalError too: that one is a bug.
    return "no such" not in str(error).lower()
