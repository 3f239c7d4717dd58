"""PostgreSQL: autocommit connections lent per request by the lane; transactions from
SQLAlchemy's pool."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from db.errors import connection_lost, connection_unusable
from db.lane import BORN, POSTGRES_MIN_SECONDS_TO_SEND, ConnectionLane, at_hand
from db.single_write import SingleWrite
from db.types import read_json


def _statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


# Behind PgBouncer in transaction pooling mode (Debian's 1.18 has no max_prepared_statements,
# which came in 1.21), each transaction may run on another server connection:
# - asyncpg's own statement cache off: db/statements.py's statements go as unnamed ones,
#   which asyncpg parses again in the same Parse/Bind/Execute/Sync as their execution;
# - SQLAlchemy's cache of prepared statements off, and a unique name for each one it
#   prepares (in a transaction): names like asyncpg's `__asyncpg_stmt_1__` would collide
#   between client connections sharing one server connection. SQLAlchemy's documented
#   recipe (dialects/postgresql/asyncpg: "Prepared Statement Name with PGBouncer").
TRANSACTION_POOLER_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": _statement_name,
}


class PostgresBackend:
    def __init__(
        self, url: str, *, timeout_seconds: float, pool_size: int, pooler: str = "none"
    ) -> None:
        self.engine = create_async_engine(
            url,
            # An autocommit connection has nothing to roll back when it returns to the pool.
            skip_autocommit_rollback=True,
            pool_size=pool_size,
            # The lane may hold every pooled connection: a transaction (the CLI, seeding)
            # can still open two more.
            max_overflow=2,
            pool_timeout=timeout_seconds,
            # No pre-ping: it costs a round trip per request. After a server restart the
            # first failing statement marks every older connection stale (below).
            connect_args={
                "timeout": timeout_seconds,
                "command_timeout": timeout_seconds,
                **(TRANSACTION_POOLER_ARGS if pooler == "pgbouncer" else {}),
            },
            json_deserializer=read_json,
        )
        # One statement is atomic by itself: it runs without BEGIN/COMMIT, two round trips
        # fewer per request; and connections are lent without a pool checkout each time.
        self.lane = ConnectionLane(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            size=pool_size,
            timeout_seconds=timeout_seconds,
            is_lost=connection_lost,
            is_unusable=connection_unusable,
            is_closed=_driver_closed,
            min_seconds_to_send=POSTGRES_MIN_SECONDS_TO_SEND,
        )
        _discard_stale_connections(self)

    @property
    def idle_outside_pool(self) -> int:
        return self.lane.idle

    def read(self, deadline: float) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.lane.connection(deadline)

    def single_write(self, deadline: float) -> AbstractAsyncContextManager[SingleWrite]:
        return self.lane.connection_as(SingleWrite, deadline)

    @asynccontextmanager
    async def unit_connection(self, deadline: float) -> AsyncIterator[AsyncConnection]:
        """A lane connection for a unit of work (db/unit.py), which sends its own BEGIN."""
        async with self.lane.connection(deadline) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.lane.close()
        await self.engine.dispose()


def _driver_closed(conn: AsyncConnection) -> bool:
    """asyncpg notices a server's goodbye (or EOF) on an idle connection by itself: a local
    flag, no round trip."""
    kept = at_hand(conn)
    if kept is not None:
        return bool(kept.driver.is_closed())
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        return False  # SQLAlchemy reconnects an invalidated connection itself
    driver: Any = sync.connection.driver_connection
    return bool(driver.is_closed())


def _discard_stale_connections(backend: PostgresBackend) -> None:
    """After a lost connection, every connection made before it is presumed dead (the
    server restarted): the lane and the pool replace each before any statement fails on
    it. For the pool, SQLAlchemy's documented checkout-event recipe for disconnects."""
    engine, lane = backend.engine, backend.lane

    @event.listens_for(engine.sync_engine, "connect")
    def _born(_dbapi_connection: Any, record: Any) -> None:
        record.info[BORN] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _still_alive(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(BORN, 0.0) < lane.stale_before:
            raise DisconnectionError("connection made before a lost connection")
