"""The GuardrailPool object type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.rows import PoolRow


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
