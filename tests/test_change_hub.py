"""The process's change hub on its own (gateway/changes/hub.py): what it keeps for a
subscriber that cannot take more, and what each subscriber learns when the one shared read
of a change fails. No database: the read is a function of the test's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Mapping

import pytest
from sqlalchemy import exc as sa_exc

from db.errors import DatabaseUnavailable
from db.history import Change
from gateway.changes.hub import ChangeReadFailed, Hub
from resolvers.history import ChangedState

ACME = uuid.uuid4()


def _change(version: int) -> Change:
    return Change(ACME, "PROMPT", "prm_acme_welcome", version)


async def test_changes_a_full_subscriber_cannot_take_are_not_kept() -> None:
    # given: a subscriber whose queue holds two changes, and a read that never answers
    never = asyncio.Event()

    async def stuck(*_: object) -> Mapping[int, ChangedState]:
        await never.wait()
        return {}

    hub = Hub(pending_limit=2, per_principal=5, recheck_seconds=60, read=stuck)
    async with hub.subscribe(org_id=ACME, subject="alice", kind="PROMPT", entity_id=None):
        hub.publish(_change(1))
        await asyncio.sleep(0)  # the reader takes it, and waits for the database
        # when: a thousand more are published while the read waits
        for version in range(2, 1002):
            hub.publish(_change(version))
        # then: only what the subscriber's queue took waits for the reader, not every change
        assert len(hub._unread) <= 1
    never.set()


async def test_every_subscriber_gets_the_failed_read_s_own_error_and_message() -> None:
    # given: two subscribers of a change whose read fails with the database unreachable
    refused = ConnectionRefusedError("connection refused")

    async def failing(
        org_id: uuid.UUID, kind: str, entity_id: str, versions: Collection[int]
    ) -> Mapping[int, ChangedState]:
        try:
            raise refused
        except ConnectionRefusedError as error:
            raise DatabaseUnavailable(error) from error

    hub = Hub(pending_limit=2, per_principal=5, recheck_seconds=60, read=failing)
    subscribe = hub.subscribe
    async with (
        subscribe(org_id=ACME, subject="alice", kind="PROMPT", entity_id=None) as first,
        subscribe(org_id=ACME, subject="bob", kind="PROMPT", entity_id=None) as second,
    ):
        # when
        hub.publish(_change(2))
        failures = []
        for subscriber in (first, second):
            delivery = await anext(aiter(subscriber))
            with pytest.raises(DatabaseUnavailable) as raised:
                await delivery.state()
            failures.append(raised.value)
    # then: each has an error of its own, with the original's type, message and cause
    assert failures[0] is not failures[1]
    for failure in failures:
        assert type(failure) is DatabaseUnavailable
        assert str(failure) == "ConnectionRefusedError"
        assert failure.cause_name == "ConnectionRefusedError"
        assert failure.__cause__ is refused


async def _what_a_subscriber_gets(error: Exception) -> BaseException:
    """What alice's stream raises for a change whose shared read fails with `error`."""

    async def failing(*_: object) -> Mapping[int, ChangedState]:
        raise error

    hub = Hub(pending_limit=2, per_principal=5, recheck_seconds=60, read=failing)
    async with hub.subscribe(
        org_id=ACME, subject="alice", kind="PROMPT", entity_id=None
    ) as subscriber:
        hub.publish(_change(2))
        delivery = await anext(aiter(subscriber))
        with pytest.raises(Exception) as raised:
            await delivery.state()
    return raised.value


class KeywordsOnly(Exception):
    def __init__(self, *, table: str) -> None:
        super().__init__(f"no table {table}")
        self.table = table


@pytest.mark.parametrize(
    "error",
    [
        KeywordsOnly(table="prompts"),  # copy.copy cannot rebuild it: TypeError instead
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        sa_exc.OperationalError("SELECT 1", {}, ConnectionResetError("reset")),
        BrokenPipeError(32, "pipe", "f"),  # its filename is not among its args
    ],
    ids=lambda error: type(error).__name__,
)
async def test_any_failed_read_reaches_the_subscriber_as_it_was(error: Exception) -> None:
    # given: a read that fails with this error; when: a change is published
    got = await _what_a_subscriber_gets(error)
    # then: the same type, message and attributes, in an exception of its own
    assert got is not error
    assert type(got) is type(error)
    assert str(got) == str(error)
    assert vars(got) == vars(error)


class KeywordsOnlyNew(Exception):
    def __new__(cls, *, table: str) -> KeywordsOnlyNew:
        return super().__new__(cls, f"no table {table}")

    def __init__(self, *, table: str) -> None:
        super().__init__(f"no table {table}")


async def test_a_failed_read_that_cannot_be_copied_reaches_the_subscriber_wrapped() -> None:
    # given: a read that fails with an error neither pickle's way nor __new__ can rebuild
    error = KeywordsOnlyNew(table="prompts")
    # when: a change is published
    got = await _what_a_subscriber_gets(error)
    # then: its kind and message, caused by the read's own error (not a TypeError)
    assert type(got) is ChangeReadFailed
    assert str(got) == "KeywordsOnlyNew: no table prompts"
    assert got.__cause__ is error
