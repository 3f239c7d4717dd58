"""updatePrompt: PATCH a prompt with one UPDATE … RETURNING on the common path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from db import prompts as store
from db.database import Database
from db.errors import UniqueViolation
from resolvers import ids
from resolvers.access import PROMPTS_WRITE, authorize
from resolvers.errors import Conflict, FieldIssue, Forbidden, NotFound, ValidationFailed
from resolvers.principal import Principal
from resolvers.prompt_rules import check_prompt_changes

COLUMNS = {
    "name": "name",
    "title": "title",
    "description": "description",
    "content": "content",
    "model": "model",
    "tags": "tags",
    "fileName": "file_name",
}
NAME_TAKEN = FieldIssue("name", "another prompt of the organization has this name", "TAKEN")
STALE = FieldIssue("expectedUpdatedAt", "the prompt changed since this time", "STALE")
ATTEMPTS = 3  # an unexplained miss means a concurrent write moved the row: try again


async def update_prompt(
    *, db: Database, principal: Principal | None, raw_id: str, changes: Mapping[str, Any]
) -> store.PromptRow:
    """Checks in the contract's order: auth, scope, input, id, owner, upload, version."""
    caller = authorize(principal, PROMPTS_WRITE)
    values, issues = check_prompt_changes(changes)
    if issues:
        raise ValidationFailed(issues)
    prompt_id = ids.prompt_id(raw_id)
    if prompt_id is None:
        raise NotFound("prompt", raw_id)
    write = store.PromptWrite(
        values={COLUMNS[field]: value for field, value in values.items() if field in COLUMNS},
        owner_id=None if caller.acts_for_whole_org else caller.subject,
        expected_updated_at=changes.get("expectedUpdatedAt"),
        attach_upload=values.get("requestId"),
        needs_asset="fileName" in values and "requestId" not in values,
    )
    if not write.values and write.attach_upload is None:
        async with db.read() as conn:  # an empty input writes nothing
            return await _current(conn, caller, prompt_id, write)
    audited = replace(write, values={**write.values, **_audit(caller)})
    # A request id that cannot name an upload matches none: no UPDATE, but the row's own
    # checks (not found, not the owner) still come first in the contract's order.
    unusable_upload = (
        write.attach_upload is not None and ids.request_id(write.attach_upload) is None
    )
    async with db.single_write() as single:
        for _ in range(ATTEMPTS):
            if not unusable_upload:
                try:
                    row = await store.update_prompt(
                        single, org_id=caller.org_id, prompt_id=prompt_id, write=audited
                    )
                except UniqueViolation:
                    raise Conflict("a prompt with this name already exists", [NAME_TAKEN]) from None
                if row is not None:
                    return row
            async with single.reading() as conn:
                await _explain_miss(conn, caller, prompt_id, write, unusable_upload=unusable_upload)
            # No rule explains the miss: a concurrent write changed the row in between
            # (e.g. attached the asset a rename needs). Try again on the row as it is now.
    raise RuntimeError("prompt update kept missing, and no rule explains why")


def _audit(caller: Principal) -> dict[str, Any]:
    return {
        "updated_at": datetime.now(UTC),
        "updated_by": caller.subject,
        "updated_user_name": caller.name,
    }


async def _current(
    conn: AsyncConnection, caller: Principal, prompt_id: str, write: store.PromptWrite
) -> Row[Any]:
    row = await store.fetch_prompt(conn, org_id=caller.org_id, prompt_id=prompt_id)
    _check_row(row, prompt_id, write)
    assert row is not None
    return row


async def _explain_miss(
    conn: AsyncConnection,
    caller: Principal,
    prompt_id: str,
    write: store.PromptWrite,
    *,
    unusable_upload: bool,
) -> None:
    """The UPDATE matched nothing: a second query tells the caller why (a domain error),
    or returns when nothing does any more."""
    row = await store.fetch_prompt(conn, org_id=caller.org_id, prompt_id=prompt_id)
    upload_missing = write.attach_upload is not None and (
        unusable_upload
        or not await store.upload_exists(conn, org_id=caller.org_id, request_id=write.attach_upload)
    )
    _check_row(row, prompt_id, write, upload_missing=upload_missing)


def _check_row(
    row: Row[Any] | None, prompt_id: str, write: store.PromptWrite, *, upload_missing: bool = False
) -> None:
    if row is None:
        raise NotFound("prompt", prompt_id)
    if write.owner_id is not None and row.owner_id != write.owner_id:
        raise Forbidden("only the prompt's owner may update it")
    if upload_missing:
        raise ValidationFailed(
            [FieldIssue("requestId", "no upload has this request id", "UNKNOWN")]
        )
    if write.needs_asset and row.asset_id is None:
        raise ValidationFailed(
            [FieldIssue("fileName", "the prompt has no audio file; send a requestId", "INVALID")]
        )
    if write.expected_updated_at is not None and row.updated_at != write.expected_updated_at:
        raise Conflict("the prompt was changed by someone else", [STALE])
