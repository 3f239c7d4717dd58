"""The GuardrailPool object type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db.rows import PoolRow
from resolvers.history import GUARDRAIL_POOL
from schema.history import (
    AFTER,
    FIRST,
    GuardrailPoolHistoryConnection,
    HistoryEntry,
    Info,
    history_page,
)


@strawberry.type(description="A pool of guardrails applied to a brand's numbers.")
class GuardrailPool:
    id: strawberry.ID = strawberry.field(description="Unique id; a rename never changes it.")
    org_id: strawberry.ID = strawberry.field(description="Organization that owns the pool.")
    brand_id: strawberry.ID = strawberry.field(description="Brand of the pool; immutable.")
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="URL-safe key, unique within the organization.")
    created_at: datetime = strawberry.field(description="When the pool was created (UTC).")
    updated_at: datetime = strawberry.field(description="When the pool last changed (UTC).")
    version: int = strawberry.field(
        description="Starts at 1 and moves by one with every write that changes the pool: "
        "send it back as expectedVersion to update only this version."
    )

    @strawberry.field(
        description="Every change of the pool, newest first: the fields it changed, with "
        "their values before and after, who made it and when."
    )
    async def history(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> GuardrailPoolHistoryConnection:
        page = await history_page(
            info, kind=GUARDRAIL_POOL, entity_id=str(self.id), first=first, after=after
        )
        return GuardrailPoolHistoryConnection.from_page(page, HistoryEntry.from_row)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: PoolRow) -> GuardrailPool:
        return cls(
            id=strawberry.ID(str(row.id)),
            org_id=strawberry.ID(str(row.org_id)),
            brand_id=strawberry.ID(str(row.brand_id)),
            name=row.name,
            slug=row.slug,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )
