"""The process's change feed, by database: PostgreSQL hears committed changes through its
one LISTEN connection (started with the first subscriber); SQLite publishes in process."""

from __future__ import annotations

from db.database import Database
from gateway.changes.hub import Hub
from gateway.changes.listener import Listener, asyncpg_dsn
from gateway.settings import Settings


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
        start=listener.start if listener is not None else None,
    )
    if db.is_sqlite:
        db.local_changes = hub.publish
    return hub, listener
