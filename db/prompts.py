"""SQL for prompts: one statement per operation, only the columns that change."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Update, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import PromptType, prompts, uploads
from db.single_write import SingleWrite

# A prompt as read (SQLAlchemy's Row) or as written (db.direct's named tuple): the columns
# as attributes either way.
PromptRow = Any


@dataclass(frozen=True, kw_only=True)
class PromptWrite:
    values: Mapping[str, Any]  # column -> new value
    owner_id: str | None = None  # when set, only this owner's prompt is written
    expected_updated_at: datetime | None = None
    attach_upload: str | None = None  # request id of an upload to attach
    needs_asset: bool = False  # the write renames an existing audio file


async def fetch_prompt(
    conn: AsyncConnection, *, org_id: uuid.UUID, prompt_id: str
) -> Row[Any] | None:
    query = select(prompts).where(prompts.c.id == prompt_id, prompts.c.org_id == org_id)
    return (await conn.execute(query)).first()


async def page_of_prompts(
    conn: AsyncConnection, *, org_id: uuid.UUID, after: str | None, limit: int
) -> Sequence[Row[Any]]:
    query = select(prompts).where(prompts.c.org_id == org_id)
    if after is not None:
        query = query.where(prompts.c.id > after)
    return (await conn.execute(query.order_by(prompts.c.id).limit(limit))).all()


async def upload_exists(conn: AsyncConnection, *, org_id: uuid.UUID, request_id: str) -> bool:
    query = select(_upload_of(org_id, request_id).exists())
    return bool((await conn.execute(query)).scalar())


async def update_prompt(
    single: SingleWrite, *, org_id: uuid.UUID, prompt_id: str, write: PromptWrite
) -> PromptRow | None:
    """UPDATE … RETURNING; None when a condition of `write` (or the id) matched no row."""
    statement = _update_statement(
        tuple(sorted(write.values)),
        owner=write.owner_id is not None,
        expected=write.expected_updated_at is not None,
        needs_asset=write.needs_asset,
        attach=write.attach_upload is not None,
    )
    params = {f"v_{column}": value for column, value in write.values.items()}
    params |= {
        "w_id": prompt_id,
        "w_org": org_id,
        "w_owner": write.owner_id,
        "w_expected": write.expected_updated_at,
        "w_upload": write.attach_upload,
    }
    return await single.first(statement, params)  # UniqueViolation on a taken name


@lru_cache(maxsize=256)  # one per shape of change: at most 2^7 column sets x 16 flags
def _update_statement(
    columns: tuple[str, ...], *, owner: bool, expected: bool, needs_asset: bool, attach: bool
) -> Update:
    """Built once per shape, with bind parameters: no statement construction per request."""
    org = bindparam("w_org", type_=prompts.c.org_id.type)
    values: dict[str, Any] = {c: bindparam(f"v_{c}", type_=prompts.c[c].type) for c in columns}
    conditions = [prompts.c.id == bindparam("w_id"), prompts.c.org_id == org]
    if owner:
        conditions.append(prompts.c.owner_id == bindparam("w_owner"))
    if expected:
        conditions.append(prompts.c.updated_at == bindparam("w_expected"))
    if needs_asset:
        conditions.append(prompts.c.asset_id.is_not(None))
    if attach:
        upload = select(uploads.c.id).where(
            uploads.c.org_id == org, uploads.c.request_id == bindparam("w_upload")
        )
        conditions.append(exists(upload))
        values["asset_id"] = upload.with_only_columns(uploads.c.asset_id).scalar_subquery()
        values.setdefault(
            "file_name", upload.with_only_columns(uploads.c.file_name).scalar_subquery()
        )
        values["type"] = PromptType.ASSET
    return update(prompts).where(*conditions).values(values).returning(*prompts.c)


def _upload_of(org_id: uuid.UUID, request_id: str) -> Any:
    return select(uploads.c.id).where(
        uploads.c.org_id == org_id, uploads.c.request_id == request_id
    )
