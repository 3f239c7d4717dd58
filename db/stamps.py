"""The new `updated_at` of a write: later than the row's current one, in the order the
writes reach the row.

PostgreSQL stamps it itself, when the UPDATE takes the row (after any wait for its lock):
GREATEST(clock_timestamp(), updated_at + 1 µs), so the stored order of writes and the order
of their stamps agree even with clocks that step back. A stamp taken in Python before the
statement could lose that order to a concurrent writer.

SQLite keeps the stamp the caller made: its single writes queue on one connection in the
order they are stamped (no await between the stamp and the queue, db/statements.py), and it
has one writer at a time. A unit of work (db/unit.py) writes on a connection of its own,
though: a single write stamped before a unit's may reach the row after it, so the stamp
is never older than the row's (max() of two stored texts of one format: their order is the
times' order).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, Table, case, false, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement

from db.types import UTCDateTime


class next_updated_at(FunctionElement[Any]):
    """`next_updated_at(column, bindparam)`: the column's next value."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(next_updated_at)
def _caller_stamp(element: next_updated_at, compiler: Any, **kw: Any) -> str:
    column, stamp = element.clauses.clauses
    assert isinstance(column, Column) and isinstance(stamp, BindParameter)
    return f"max({compiler.process(stamp, **kw)}, {compiler.process(column, **kw)})"


@compiles(next_updated_at, "postgresql")
def _database_stamp(element: next_updated_at, compiler: Any, **kw: Any) -> str:
    column, _stamp = element.clauses.clauses
    assert isinstance(column, Column)
    current = compiler.process(column, **kw)
    return f"GREATEST(clock_timestamp(), {current} + interval '1 microsecond')"


# Set by a write only when it changes something: who, when, and the version it makes.
AUDIT_COLUMNS = ("updated_at", "updated_by", "updated_user_name", "version")


def audited(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` (column -> new value, `updated_at` the caller's stamp) with the audit columns
    moved only where a column the write sets differs from the row's: a write of the values
    the row has changes nothing (no new version, updatedAt or ETag, no history entry, so
    versions have no gaps). In the UPDATE itself: no round trip, no read first."""
    if "updated_at" not in values:
        return values
    changed: ColumnElement[bool] = or_(
        false(),
        *(table.c[c].is_distinct_from(new) for c, new in values.items() if c not in AUDIT_COLUMNS),
    )
    moved = {c: new for c, new in values.items() if c in AUDIT_COLUMNS}
    moved["updated_at"] = next_updated_at(table.c.updated_at, values["updated_at"])
    moved["version"] = table.c.version + 1
    return values | {c: case((changed, new), else_=table.c[c]) for c, new in moved.items()}
