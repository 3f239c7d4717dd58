"""Reading an entity's history: newest first, own organization only, with the entity's
own read scopes (a history says what the entity was)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from db import guardrail_pools, models, prompts
from db import history as store
from db.database import Database
from db.history import EntryRow
from db.history_states import states_since
from resolvers.access import ADMIN_READ, ADMIN_WRITE, PROMPTS_READ, PROMPTS_WRITE, authorize
from resolvers.errors import InvalidArgument
from resolvers.pagination import Page, decode_cursor, make_page, page_size
from resolvers.principal import Principal

PROMPT = "PROMPT"
GUARDRAIL_POOL = "GUARDRAIL_POOL"
MAX_VERSION = 2**31 - 1  # versions are 32-bit integers on both databases
READ_SCOPES = {PROMPT: (PROMPTS_READ, PROMPTS_WRITE), GUARDRAIL_POOL: (ADMIN_READ, ADMIN_WRITE)}


async def history_of(
    *,
    db: Database,
    principal: Principal | None,
    kind: str,
    entity_id: str,
    first: int | None,
    after: str | None,
) -> Page[EntryRow]:
    """The entity's entries; none of another organization's, whatever the id."""
    caller = authorize(principal, *READ_SCOPES[kind])
    size = page_size(first)
    before_version = _version_of(decode_cursor(after))
    async with db.read() as conn:
        rows = await store.page_of_entries(
            conn,
            org_id=caller.org_id,
            kind=kind,
            entity_id=entity_id,
            before_version=before_version,
            limit=size + 1,
        )
    return make_page(rows, size, key=lambda row: str(row.version))


def _version_of(key: str | None) -> int | None:
    """A history cursor's version: ASCII digits within the column's range (`int()` would also
    take signs, spaces, underscores and other scripts' digits, and the database refuses a
    number beyond its integer)."""
    if key is None:
        return None
    if not (key.isascii() and key.isdigit() and len(key) <= 10) or not 1 <= int(key) <= MAX_VERSION:
        raise InvalidArgument("`after` is not a cursor from this API")
    return int(key)


class ChangedState(NamedTuple):
    """What a change subscription delivers: the entry, and the entity as its write left it."""

    entry: EntryRow
    entity: Any  # PromptRow or PoolRow


async def changed_states(
    *, db: Database, org_id: uuid.UUID, kind: str, entity_id: str, versions: Collection[int]
) -> dict[int, ChangedState]:
    """These versions' entries of one entity, each with the entity as its write left it
    (db/history_states.py; the row as it is now where the history does not lead back);
    a version whose entry is gone (pruned) is left out, as is every one of an entity gone.

    One read for every subscriber of the change in this process, so by the change's own
    organization: the feed hands a change only to subscribers of that organization, and
    each checks its own credential and scope before it takes its copy
    (schema/subscription.py)."""
    fetch, table = _ENTITIES[kind]
    async with db.read() as conn:
        row = await fetch(conn, org_id, entity_id)
        if row is None:
            return {}
        # after the row: every entry up to its version has committed (each with its write)
        entries = await store.entries_since(
            conn, org_id=org_id, kind=kind, entity_id=entity_id, version=min(versions)
        )
    states = {}
    reached = [entry for entry in entries if entry.version <= row.version]
    for entry, entity in states_since(row, reached, table):
        if entry.version in versions:
            states[entry.version] = ChangedState(entry, row if entity is None else entity)
    return states


async def _prompt(conn: AsyncConnection, org_id: uuid.UUID, entity_id: str) -> Any:
    return await prompts.fetch_prompt(conn, org_id=org_id, prompt_id=entity_id)


async def _pool(conn: AsyncConnection, org_id: uuid.UUID, entity_id: str) -> Any:
    return await guardrail_pools.fetch_pool(conn, org_id=org_id, pool_id=uuid.UUID(entity_id))


_ENTITIES: dict[str, tuple[Callable[[AsyncConnection, uuid.UUID, str], Awaitable[Any]], Table]] = {
    PROMPT: (_prompt, models.prompts),
    GUARDRAIL_POOL: (_pool, models.guardrail_pools),
}
