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


async def entry_of(
    *, db: Database, principal: Principal | None, kind: str, entity_id: str, version: int
) -> EntryRow | None:
    """One entry of the caller's organization, if it is there."""
    caller = authorize(principal, *READ_SCOPES[kind])
    async with db.read() as conn:
        return await store.one_entry(
            conn, org_id=caller.org_id, kind=kind, entity_id=entity_id, version=version
        )
