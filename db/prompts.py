"""SQL for prompts: one statement per operation, only the columns that change.

The guards of an update are declared once, below: each is both a condition of the
UPDATE's WHERE and a check of the row read back when the UPDATE matched nothing, so the
two can never disagree about why a write missed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, Update, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import history, statements
from db.database import Source, first_row, read_rows
from db.history import Actor, Recording
from db.models import PromptType, prompts, uploads
from db.reads import reads_of
from db.rows import IdRow, PromptRow
from db.single_write import SingleWrite
from db.stamps import audited


class PromptWrite(NamedTuple):
    """(A tuple, as Recording is: a frozen dataclass cost twice as much to build, and every
    update builds one.)"""

    values: Mapping[str, Any]  # column -> new value
    owner_id: str | None = None  # when set, only this owner's prompt is written
    expected_updated_at: datetime | None = None
    expected_version: int | None = None
    attach_upload: str | None = None  # request id of an upload to attach
    needs_asset: bool = False  # the write renames an existing audio file


class Guard(Enum):
    """In the contract's order of errors: the first that fails explains a miss."""

    FOUND = "the prompt exists in the organization"
    OWNED = "the writer owns the prompt"
    UPLOAD_EXISTS = "the upload to attach exists in the organization"
    HAS_ASSET = "the prompt has an audio file to rename"
    UNCHANGED = "the prompt's updatedAt is the expected one"
    VERSION = "the prompt's version is the expected one"


@dataclass(frozen=True)
class _Rule:
    applies: Callable[[PromptWrite], bool]
    condition: Callable[[], ColumnElement[bool]]  # with the statement's bind parameters
    holds: Callable[[PromptRow, PromptWrite, bool], bool]  # (row, write, upload found)


def _upload() -> Select[Any]:
    return select(uploads.c.id).where(
        uploads.c.org_id == bindparam("w_org", type_=prompts.c.org_id.type),
        uploads.c.request_id == bindparam("w_upload"),
    )


RULES: dict[Guard, _Rule] = {
    Guard.OWNED: _Rule(
        applies=lambda w: w.owner_id is not None,
        condition=lambda: prompts.c.owner_id == bindparam("w_owner"),
        holds=lambda row, w, _: row.owner_id == w.owner_id,
    ),
    Guard.UPLOAD_EXISTS: _Rule(
        applies=lambda w: w.attach_upload is not None,
        condition=lambda: exists(_upload()),
        holds=lambda _row, _w, upload_found: upload_found,
    ),
    Guard.HAS_ASSET: _Rule(
        applies=lambda w: w.needs_asset,
        condition=lambda: prompts.c.asset_id.is_not(None),
        holds=lambda row, _w, _: row.asset_id is not None,
    ),
    Guard.UNCHANGED: _Rule(
        applies=lambda w: w.expected_updated_at is not None,
        condition=lambda: prompts.c.updated_at == bindparam("w_expected"),
        holds=lambda row, w, _: row.updated_at == w.expected_updated_at,
    ),
    Guard.VERSION: _Rule(
        applies=lambda w: w.expected_version is not None,
        condition=lambda: prompts.c.version == bindparam("w_version", type_=prompts.c.version.type),
        holds=lambda row, w, _: row.version == w.expected_version,
    ),
}


def failed_guard(row: PromptRow | None, write: PromptWrite, *, upload_found: bool) -> Guard | None:
    """The first guard of `write` that the row as it is now fails, if any."""
    if row is None:
        return Guard.FOUND
    for guard, rule in RULES.items():
        if rule.applies(write) and not rule.holds(row, write, upload_found):
            return guard
    return None


_APPLIES = tuple((guard, rule.applies) for guard, rule in RULES.items())  # (asked per write)
# The whole row by id, for a history entry's before values (db/history.py).
_BY_ID = reads_of(prompts, None).by_id
_UPLOAD = _upload().limit(1)


async def fetch_prompt(
    source: Source,
    *,
    org_id: uuid.UUID,
    prompt_id: str,
    columns: frozenset[str] | None = None,
    row_class: type[PromptRow] = PromptRow,
) -> PromptRow | None:
    """The prompt; with `columns`, only those columns (and the id) are read, others None.
    `row_class`: PromptRow, or a NamedTuple with its fields and more (None), built directly."""
    params = {"w_id": prompt_id, "w_org": org_id}
    statement = reads_of(prompts, columns).by_id
    return await first_row(source, statement, params, row=row_class, partial=True)


async def page_of_prompts(
    source: Source,
    *,
    org_id: uuid.UUID,
    after: str | None,
    limit: int,
    columns: frozenset[str] | None = None,
    row_class: type[PromptRow] = PromptRow,
) -> list[PromptRow]:
    """A page in id order; with `columns`, only those columns (and the id) are read.
    `row_class` as for fetch_prompt."""
    reads = reads_of(prompts, columns)
    statement = reads.first_page if after is None else reads.next_page
    params = {"w_org": org_id, "w_after": after, "w_limit": limit}
    return await read_rows(source, statement, params, row=row_class, partial=True)


async def upload_exists(conn: AsyncConnection, *, org_id: uuid.UUID, request_id: str) -> bool:
    params = {"w_org": org_id, "w_upload": request_id}
    return await statements.first(conn, _UPLOAD, params, row=IdRow) is not None


async def update_prompt(
    single: SingleWrite,
    *,
    org_id: uuid.UUID,
    prompt_id: str,
    write: PromptWrite,
    actor: Actor | None = None,  # who writes; None records no history (guard tests only)
) -> PromptRow | None:
    """UPDATE … RETURNING; None when a guard of `write` (or the id) matched no row. The
    change is recorded in the history in the write's transaction (db/history.py)."""
    shape = (
        tuple(sorted(write.values)),
        tuple([guard for guard, applies in _APPLIES if applies(write)]),
    )
    statement = _update_statement(*shape)
    params = {f"v_{column}": value for column, value in write.values.items()}
    params |= {
        "w_id": prompt_id,
        "w_org": org_id,
        "w_owner": write.owner_id,
        "w_expected": write.expected_updated_at,
        "w_version": write.expected_version,
        "w_upload": write.attach_upload,
    }
    # UniqueViolation: the name is taken
    recording = (
        None
        if actor is None
        else Recording.of("PROMPT", _BY_ID, _recorded_statement(*shape), actor)
    )
    return await single.first(
        statement, params, row=PromptRow, may_collide="name" in write.values, recording=recording
    )


@lru_cache(maxsize=512)  # one per shape of change: at most 2^7 column sets x 32 guard sets
def _update_statement(columns: tuple[str, ...], guards: tuple[Guard, ...]) -> Update:
    """Built once per shape, with bind parameters: no statement construction per request."""
    return _built_update(columns, guards)[0]


@lru_cache(maxsize=512)
def _recorded_statement(columns: tuple[str, ...], guards: tuple[Guard, ...]) -> Select[Any]:
    """The same write with its history entry, in one statement (PostgreSQL)."""
    update, written = _built_update(columns, guards)
    return history.one_statement(update, prompts, _BY_ID, written=written)


def _built_update(
    columns: tuple[str, ...], guards: tuple[Guard, ...]
) -> tuple[Update, frozenset[str]]:
    """The UPDATE, and the columns it sets."""
    values: dict[str, Any] = {c: bindparam(f"v_{c}", type_=prompts.c[c].type) for c in columns}
    conditions = [prompts.c.id == bindparam("w_id"), prompts.c.org_id == bindparam("w_org")]
    conditions += [RULES[guard].condition() for guard in guards]
    if Guard.UPLOAD_EXISTS in guards:
        upload = _upload()
        values["asset_id"] = upload.with_only_columns(uploads.c.asset_id).scalar_subquery()
        values.setdefault(
            "file_name", upload.with_only_columns(uploads.c.file_name).scalar_subquery()
        )
        values["type"] = PromptType.ASSET
    values = audited(prompts, values)  # a new version only when something changes
    statement = update(prompts).where(*conditions).values(values).returning(*prompts.c)
    return statement, frozenset(values)
