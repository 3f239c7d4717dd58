"""History entries of prompts and pools, and the connections that page through them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db.history import EntryRow
from resolvers import history
from resolvers.pagination import Page
from resolvers.principal import PrincipalKind
from schema import viewer  # noqa: F401  (declares the PrincipalKind enum type)
from schema.connection import Connection
from schema.context import Context

Info = strawberry.Info[Context, None]
FIRST = "Page size, at most 100; null means the default, 20."
AFTER = "Cursor of the entry to start after (`pageInfo.endCursor`): older entries follow."


@strawberry.type(description="Who made a change.")
class HistoryActor:
    subject: str = strawberry.field(description="User id, or the API key's prefix.")
    kind: PrincipalKind = strawberry.field(description="USER (a JWT) or API_KEY.")
    name: str | None = strawberry.field(description="Display name, when the credential had one.")


@strawberry.type(description="One field a change changed.")
class FieldChange:
    field: str = strawberry.field(description="The field's name, as the object type spells it.")
    before: JSON | None = strawberry.field(description="Its value before the change.")
    after: JSON | None = strawberry.field(description="Its value after the change.")


@strawberry.type(description="One write that changed an entity.")
class HistoryEntry:
    version: int = strawberry.field(description="The entity's version after this change.")
    changes: list[FieldChange] = strawberry.field(
        description="The fields this change changed, with their values before and after."
    )
    actor: HistoryActor = strawberry.field(description="Who made the change.")
    request_id: str = strawberry.field(description="The X-Request-ID of the request that wrote.")
    recorded_at: datetime = strawberry.field(description="When the change was written (UTC).")

    @classmethod
    def from_row(cls, row: EntryRow) -> HistoryEntry:
        return cls(
            version=row.version,
            changes=[
                FieldChange(field=_camel(column), before=values[0], after=values[1])
                for column, values in sorted(row.changes.items())
            ],
            actor=HistoryActor(
                subject=row.actor_subject, kind=PrincipalKind(row.actor_kind), name=row.actor_name
            ),
            request_id=row.request_id,
            recorded_at=row.recorded_at,
        )


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.type(description="A page of a prompt's history entries, newest first.")
class PromptHistoryConnection(Connection[HistoryEntry]):
    pass


@strawberry.type(description="A page of a guardrail pool's history entries, newest first.")
class GuardrailPoolHistoryConnection(Connection[HistoryEntry]):
    pass


async def history_page(
    info: Info, *, kind: str, entity_id: str, first: int | None, after: str | None
) -> Page[EntryRow]:
    """The entity's entries. The parent object was read with its scopes in the caller's
    organization; the history checks both again (defense in depth)."""
    ctx = info.context
    return await history.history_of(
        db=ctx.db,
        principal=await ctx.principal(),
        kind=kind,
        entity_id=entity_id,
        first=first,
        after=after,
    )
