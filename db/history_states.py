"""The entity as each of its recent writes left it, from the row as it is now and the
history entries since: what a change subscription delivers with each entry.

A row read after a change may already be some writes further on (under rapid writes a
subscriber would see `version` 7 beside the entry of version 5). Every changing write
records each column it changed with its value before and after (db/history.py), so
undoing the newer entries' changes, newest first, gives the columns as the older write
left them; its audit columns (`version`, `updated_at`, who) are the entry's own. A write
that changed nothing moves nothing, not even those audit columns, and records no entry.

The walk checks each entry's `after` against the columns it is about to undo: a row that
does not lead back this way (a write that recorded nothing, an entry pruned in between)
gives None from then on, and the caller falls back to the row as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Enum as SAEnum
from sqlalchemy import Table, Uuid

from db.history import EntryRow, plain
from db.types import UTCDateTime


def states_since(
    row: Any, entries: Sequence[EntryRow], table: Table
) -> Iterator[tuple[EntryRow, Any | None]]:
    """Each entry (newest first, none newer than `row`) with the row as its write left it,
    or None once the entries do not lead back from `row`."""
    values = row._asdict()
    leads_back = True
    for entry in entries:
        leads_back = leads_back and all(
            plain(values[column]) == after for column, (_, after) in entry.changes.items()
        )
        if not leads_back:
            yield entry, None
            continue
        audit = {"version": entry.version, "updated_at": entry.recorded_at}
        if "updated_by" in values:  # prompts say who wrote last; pools do not
            audit |= {"updated_by": entry.actor_subject, "updated_user_name": entry.actor_name}
        yield entry, type(row)(**(values | audit))
        for column, (before, _) in entry.changes.items():
            values[column] = _stored(table, column, before)


def _stored(table: Table, column: str, value: Any) -> Any:
    """A value as the entry keeps it (JSON), as the row reads it."""
    if value is None:
        return None
    kind = table.c[column].type
    if (
        isinstance(kind, SAEnum)
        and kind.enum_class is not None
        and issubclass(kind.enum_class, Enum)
    ):
        return kind.enum_class(value)
    if isinstance(kind, Uuid):
        return uuid.UUID(value)
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    return value
