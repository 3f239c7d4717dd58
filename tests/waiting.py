"""Waiting for something to happen, by polling the condition until a deadline, never by
sleeping a guessed time: the test goes on as soon as the condition holds and fails with
a message saying what did not happen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_SECONDS = 0.02


def poll_until(condition: Callable[[], bool], *, timeout: float) -> bool:
    """Polls `condition` (from a thread that may block) until it holds; False after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Polls `condition` until it holds; fails the test with `what` after `timeout` seconds."""
    assert poll_until(condition, timeout=timeout), f"{what} (after {timeout} s)"


async def eventually(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """`wait_until` for the event loop: other tasks run while the condition is polled."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} (after {within} s)"
        await asyncio.sleep(POLL_SECONDS)
