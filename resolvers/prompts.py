"""Reading prompts: own organization only, with a read or write scope."""

from __future__ import annotations

from operator import attrgetter

from db import prompts as store
from db.database import Database
from db.rows import PromptRow
from resolvers import ids
from resolvers.access import PROMPTS_READ, PROMPTS_WRITE, authorize
from resolvers.errors import NotFound
from resolvers.pagination import Page, decode_cursor, make_page, page_size
from resolvers.principal import Principal


async def get_prompt(
    *,
    db: Database,
    principal: Principal | None,
    raw_id: str,
    columns: frozenset[str] | None = None,
    row_class: type[PromptRow] = PromptRow,
) -> PromptRow:
    caller = authorize(principal, PROMPTS_READ, PROMPTS_WRITE)
    prompt_id = ids.prompt_id(raw_id)
    if prompt_id is not None:
        row = await store.fetch_prompt(
            db, org_id=caller.org_id, prompt_id=prompt_id, columns=columns, row_class=row_class
        )
        if row is not None:
            return row
    raise NotFound("prompt", raw_id)


async def list_prompts(
    *,
    db: Database,
    principal: Principal | None,
    first: int | None,
    after: str | None,
    columns: frozenset[str] | None = None,
    row_class: type[PromptRow] = PromptRow,
) -> Page[PromptRow]:
    """`columns` and `row_class`: as store.page_of_prompts takes them."""
    caller = authorize(principal, PROMPTS_READ, PROMPTS_WRITE)
    size = page_size(first)
    start = decode_cursor(after)
    rows = await store.page_of_prompts(
        db, org_id=caller.org_id, after=start, limit=size + 1, columns=columns, row_class=row_class
    )
    return make_page(rows, size, key=_ID)  # a prompt id is a str: its own key


_ID = attrgetter("id")
