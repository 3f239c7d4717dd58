"""Reading an entity's history: newest first, own organization only, with the entity's
own read scopes (a history says what the entity was)."""

from __future__ import annotations

from db import history as store
from db.database import Database
from db.history import EntryRow
from resolvers.access import ADMIN_READ, ADMIN_WRITE, PROMPTS_READ, PROMPTS_WRITE, authorize
from resolvers.errors import InvalidArgument
from resolvers.pagination import Page, decode_cursor, make_page, page_size
from resolvers.principal import Principal

PROMPT = "PROMPT"
GUARDRAIL_POOL = "GUARDRAIL_POOL"
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
    start = decode_cursor(after)
    try:
        before_version = int(start) if start is not None else None
    except ValueError:
        raise InvalidArgument("`after` is not a cursor from this API") from None
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


async def entry_of(
    *, db: Database, principal: Principal | None, kind: str, entity_id: str, version: int
) -> EntryRow | None:
    """One entry of the caller's organization, if it is there."""
    caller = authorize(principal, *READ_SCOPES[kind])
    async with db.read() as conn:
        return await store.one_entry(
            conn, org_id=caller.org_id, kind=kind, entity_id=entity_id, version=version
        )
