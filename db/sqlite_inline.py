"""SQLite reads run in the event loop's own thread, when they can be run at once.

A read through aiosqlite takes a hop to the connection's thread and one back (a queue, a
thread woken, a future set from the other thread, the loop woken through its pipe): on a
page of 50 prompts that cost more CPU than SQLite's own work, and the server runs on one
core, where the other thread gains nothing. A read here runs on a read-only connection of
the loop's thread, only while it can finish at once: it never waits for a lock (busy
timeout 0) and SQLite stops it after BUDGET_SECONDS. A read that cannot (locked, stopped,
any error) returns None and goes through aiosqlite as before, which then answers exactly
as it always did. The price: a read from a cold disk blocks the loop while SQLite reads.

A statement the budget stopped takes the hop for a while before it is tried here again:
SLOW_FIRST_SECONDS, twice as long after each stop in a row, up to SLOW_SECONDS; one that
finishes here is forgiven. The budget is wall time, so a read the scheduler preempted (the
server's core shared with another process) or that waited for the disk is stopped too: a
minute's hop for that one stall made every read of that statement cost twice the CPU.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

INLINE = "inline"  # key of a lent read connection's info: its InlineReads (db/sqlite.py)
BUDGET_SECONDS = 0.005  # at most this long in the loop's thread; longer reads take the hop
CHECK_EVERY = 1000  # SQLite virtual machine steps between looks at the clock
# A statement stopped by the budget takes the hop for a while without trying here first (it
# would stall the loop for the budget and then run again, every time), up to SLOW_KEPT:
# SLOW_FIRST_SECONDS after a stop, doubled with each stop in a row, at most SLOW_SECONDS.
SLOW_FIRST_SECONDS = 0.25
SLOW_SECONDS = 60.0
SLOW_KEPT = 256


class InlineReads:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._closed = False  # for good: the database was disposed
        self._until = 0.0
        # SQL text -> (until when it takes the hop, how many stops in a row)
        self._slow: dict[str, tuple[float, int]] = {}

    @classmethod
    def of(cls, url: str) -> InlineReads | None:
        """For a plain database file; None for one in memory (another connection would see
        another database) or a URL with options (read as the driver reads them)."""
        parsed = make_url(url)
        path = parsed.database
        if not path or path == ":memory:" or path.startswith("file:") or parsed.query:
            return None
        return cls(path)

    def rows(self, sql: str, values: list[Any]) -> list[Any] | None:
        """The statement's rows, or None: it could not run at once here."""
        now = time.monotonic()
        slow = self._slow.get(sql) if self._slow else None
        if slow is not None and slow[0] > now:
            return None
        conn = self._conn or self._open()
        if conn is None:
            return None
        self._until = now + BUDGET_SECONDS
        try:
            found = conn.execute(sql, values).fetchall()
        except sqlite3.OperationalError as error:  # locked, stopped, or a write (query_only)
            if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
                self._remember_slow(sql, now, 1 if slow is None else slow[1] + 1)
            return None
        except sqlite3.Error:  # the connection itself may be at fault: a new one next time
            self.drop()
            return None
        if slow is not None:  # it finished here this time
            del self._slow[sql]
        return found

    def _remember_slow(self, sql: str, now: float, stops: int) -> None:
        self._slow.pop(sql, None)
        wait = min(SLOW_SECONDS, SLOW_FIRST_SECONDS * 2 ** min(stops - 1, 30))
        self._slow[sql] = (now + wait, stops)
        if len(self._slow) > SLOW_KEPT:
            self._slow.pop(next(iter(self._slow)))

    def close(self) -> None:
        """For good: later reads take the lane, which refuses them once disposed."""
        self._closed = True
        self.drop()

    def drop(self) -> None:
        """The connection, closed: the next read opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):  # e.g. made in another thread: dropped anyway
                conn.close()

    def _open(self) -> sqlite3.Connection | None:
        if self._closed:
            return None
        try:
            # No busy timeout: a read that would wait for a lock takes the hop instead; and
            # mode=rw: a file that is not there is not made (the hop's connection decides).
            uri = f"{Path(self.path).absolute().as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, timeout=0, isolation_level=None, uri=True)
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            return None
        conn.set_progress_handler(self._over_budget, CHECK_EVERY)
        self._conn = conn
        return conn

    def _over_budget(self) -> bool:
        return time.monotonic() > self._until
