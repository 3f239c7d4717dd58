"""The process's change feed, by database: PostgreSQL hears committed changes through its
one LISTEN connection (started with the first subscriber); SQLite publishes in process."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from functools import partial

from db.database import Database
from gateway.changes.hub import Hub
from gateway.changes.listener import Listener, asyncpg_dsn
from gateway.settings import Settings
from resolvers.history import ChangedState, changed_states


def change_feed(settings: Settings, db: Database) -> tuple[Hub, Listener | None]:
    listener = (
        None
        if db.is_sqlite
        else Listener(asyncpg_dsn(settings.changes_listen_url or settings.database_url))
    )
    hub = Hub(
        pending_limit=settings.subscription_queue_size,
        per_principal=settings.subscriptions_per_principal,
        recheck_seconds=settings.subscription_recheck_seconds,
        read=partial(_changed_states, db),
        start=listener.start if listener is not None else None,
    )
    if db.is_sqlite:
        db.local_changes = hub.publish
    return hub, listener


async def _changed_states(
    db: Database, org_id: uuid.UUID, kind: str, entity_id: str, versions: Collection[int]
) -> dict[int, ChangedState]:
    return await changed_states(
        db=db, org_id=org_id, kind=kind, entity_id=entity_id, versions=versions
    )
