"""The reads of an organization's table (`id`, `org_id`): one row by id and a page at a time
in id order, selecting every column or only some (a document that asks for a few fields
does not make the driver decode the others). Built once per table and set of columns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, select


@dataclass(frozen=True)
class Reads:
    by_id: Select[Any]  # w_id, w_org
    first_page: Select[Any]  # w_org, w_limit
    next_page: Select[Any]  # w_org, w_after, w_limit


@lru_cache(maxsize=128)  # a few tables x the column sets planned documents read
def reads_of(table: Table, columns: frozenset[str] | None) -> Reads:
    """The reads selecting the table's columns in its order: all (None), or `columns` and
    the id (pages are keyed by it)."""
    wanted = None if columns is None else columns | {"id"}
    chosen = [c for c in table.c if wanted is None or c.key in wanted]
    id_type = table.c.id.type
    org = table.c.org_id == bindparam("w_org", type_=table.c.org_id.type)
    page = select(*chosen).where(org).order_by(table.c.id).limit(bindparam("w_limit"))
    return Reads(
        by_id=select(*chosen).where(table.c.id == bindparam("w_id", type_=id_type), org),
        first_page=page,
        next_page=page.where(table.c.id > bindparam("w_after", type_=id_type)),
    )
