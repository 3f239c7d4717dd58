"""SQL for guardrail pools."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import statements
from db.models import guardrail_pools as pools
from db.rows import PoolRow
from db.single_write import SingleWrite
from db.stamps import next_updated_at

_ID = bindparam("w_id", type_=pools.c.id.type)
_ORG = bindparam("w_org", type_=pools.c.org_id.type)


@dataclass(frozen=True)
class _Reads:
    by_id: Select[Any]
    first_page: Select[Any]
    next_page: Select[Any]


@lru_cache(maxsize=32)  # one per set of columns a planned document reads; None: every column
def _reads(columns: frozenset[str] | None) -> _Reads:
    """The reads, selecting the table's columns in order (all, or `columns`), built once."""
    chosen = [c for c in pools.c if columns is None or c.key in columns]
    page = select(*chosen).where(pools.c.org_id == _ORG).order_by(pools.c.id)
    page = page.limit(bindparam("w_limit"))
    return _Reads(
        by_id=select(*chosen).where(pools.c.id == _ID, pools.c.org_id == _ORG),
        first_page=page,
        next_page=page.where(pools.c.id > bindparam("w_after", type_=pools.c.id.type)),
    )


def _selected(columns: frozenset[str] | None) -> frozenset[str] | None:
    """The columns to read: the id always (pages are keyed by it)."""
    return None if columns is None else columns | {"id"}


async def fetch_pool(
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    columns: frozenset[str] | None = None,
) -> PoolRow | None:
    """The pool; with `columns`, only those columns (and the id) are read, others None."""
    params = {"w_id": pool_id, "w_org": org_id}
    statement = _reads(_selected(columns)).by_id
    return await statements.first(conn, statement, params, row=PoolRow, partial=True)


async def page_of_pools(
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
    columns: frozenset[str] | None = None,
) -> list[PoolRow]:
    """A page in id order; with `columns`, only those columns (and the id) are read."""
    reads = _reads(_selected(columns))
    statement = reads.first_page if after is None else reads.next_page
    params = {"w_org": org_id, "w_after": after, "w_limit": limit}
    return await statements.rows(conn, statement, params, row=PoolRow, partial=True)


async def update_pool(
    single: SingleWrite,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    values: Mapping[str, Any],
    expected_updated_at: datetime | None,
) -> PoolRow | None:
    """UPDATE … RETURNING; None when the id or the expected timestamp matched no row."""
    statement = _update_statement(tuple(sorted(values)), expected=expected_updated_at is not None)
    params = {f"v_{column}": value for column, value in values.items()}
    params |= {"w_id": pool_id, "w_org": org_id, "w_expected": expected_updated_at}
    return await single.first(statement, params, row=PoolRow)  # UniqueViolation: slug taken


@lru_cache(maxsize=64)  # one per shape of change: a few column sets x 2
def _update_statement(columns: tuple[str, ...], *, expected: bool) -> Update:
    """Built once per shape, with bind parameters: no statement construction per request."""
    values: dict[str, Any] = {c: bindparam(f"v_{c}", type_=pools.c[c].type) for c in columns}
    if "updated_at" in values:
        values["updated_at"] = next_updated_at(pools.c.updated_at, values["updated_at"])
    conditions = [pools.c.id == _ID, pools.c.org_id == _ORG]
    if expected:
        conditions.append(pools.c.updated_at == bindparam("w_expected"))
    return update(pools).where(*conditions).values(values).returning(*pools.c)
