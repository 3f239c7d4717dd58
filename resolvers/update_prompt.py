"""updatePrompt: PATCH a prompt with one UPDATE … RETURNING on the common path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from db import prompts as store
from db.database import Database
from db.errors import UniqueViolation
from db.prompts import Guard, PromptWrite
from db.rows import PromptRow
from resolvers import ids
from resolvers.access import PROMPTS_WRITE, authorize
from resolvers.errors import (
    Conflict,
    DomainError,
    FieldCode,
    FieldIssue,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from resolvers.patches import PromptPatch
from resolvers.principal import Principal, actor_of
from resolvers.prompt_rules import check_prompt_patch

COLUMNS = {
    "name": "name",
    "title": "title",
    "description": "description",
    "content": "content",
    "model": "model",
    "tags": "tags",
    "fileName": "file_name",
}
NAME_TAKEN = FieldIssue("name", "another prompt of the organization has this name", FieldCode.TAKEN)
# Why a write missed, by the first guard the row fails (db/prompts.py declares the guards),
# from the prompt's id and the row as it is now (None: not found).
MISSES: dict[Guard, Callable[[str, PromptRow | None], DomainError]] = {
    Guard.FOUND: lambda prompt_id, _: NotFound("prompt", prompt_id),
    Guard.OWNED: lambda *_: Forbidden("only the prompt's owner may update it"),
    Guard.UPLOAD_EXISTS: lambda *_: ValidationFailed(
        [FieldIssue("requestId", "no upload has this request id", FieldCode.UNKNOWN)]
    ),
    Guard.HAS_ASSET: lambda *_: ValidationFailed(
        [
            FieldIssue(
                "fileName", "the prompt has no audio file; send a requestId", FieldCode.INVALID
            )
        ]
    ),
    Guard.UNCHANGED: lambda _, row: stale(
        row, FieldIssue("expectedUpdatedAt", "the prompt changed since this time", FieldCode.STALE)
    ),
    Guard.VERSION: lambda _, row: stale(
        row, FieldIssue("expectedVersion", "the prompt has a newer version", FieldCode.STALE)
    ),
}
ATTEMPTS = 3  # an unexplained miss means a concurrent write moved the row: try again


def stale(row: PromptRow | None, issue: FieldIssue) -> Conflict:
    return Conflict(
        "the prompt was changed by someone else",
        [issue],
        current_version=row.version if row else None,
        current_updated_at=row.updated_at if row else None,
    )


async def update_prompt(
    *,
    db: Database,
    principal: Principal | None,
    raw_id: str,
    patch: PromptPatch,
    dry_run: bool = False,
) -> PromptRow:
    """Checks in the contract's order: auth, scope, input, id, owner, upload, version.

    A dry run makes every check and the write itself, in a transaction it rolls back: the
    answer is what the write would return now, and nothing is stored."""
    db.note_mutation(dry_run=dry_run)
    caller = authorize(principal, PROMPTS_WRITE)
    values, issues = check_prompt_patch(patch)
    if issues:
        raise ValidationFailed(issues)
    prompt_id = ids.prompt_id(raw_id)
    if prompt_id is None:
        raise NotFound("prompt", raw_id)
    write = _write(caller, values, patch)
    if not dry_run:
        return await _apply(db, caller, prompt_id, write)
    async with db.unit() as outcome:
        outcome.discard()
        return await _apply(db, caller, prompt_id, write)


async def _apply(db: Database, caller: Principal, prompt_id: str, write: PromptWrite) -> PromptRow:
    if not write.values and write.attach_upload is None:
        async with db.read() as conn:  # an empty input writes nothing
            return await _explained(conn, caller, prompt_id, write, upload_usable=True)
    # A request id that cannot name an upload matches none: no UPDATE, but the row's own
    # checks (not found, not the owner) still come first in the contract's order.
    upload_usable = write.attach_upload is None or ids.request_id(write.attach_upload) is not None
    async with db.single_write() as single:
        for _ in range(ATTEMPTS):
            if upload_usable:
                try:
                    row = await store.update_prompt(
                        single,
                        org_id=caller.org_id,
                        prompt_id=prompt_id,
                        write=write,
                        actor=actor_of(caller),
                    )
                except UniqueViolation:
                    raise Conflict("a prompt with this name already exists", [NAME_TAKEN]) from None
                if row is not None:
                    return row
            async with single.reading() as conn:
                await _explained(conn, caller, prompt_id, write, upload_usable=upload_usable)
            # No guard explains the miss: a concurrent write changed the row in between
            # (e.g. attached the asset a rename needs). Try again on the row as it is now.
    raise RuntimeError("prompt update kept missing, and no rule explains why")


def _write(caller: Principal, values: dict[str, Any], patch: PromptPatch) -> PromptWrite:
    """The write, its audit columns included unless it writes nothing (an empty input,
    answered with the row as it is)."""
    expected = patch.expected_updated_at
    version = patch.expected_version
    columns = {COLUMNS[field]: value for field, value in values.items() if field in COLUMNS}
    attach_upload = values.get("requestId")
    if columns or attach_upload is not None:
        columns |= _audit(caller)
    # Made directly, in PromptWrite's field order: its own __new__ is a Python frame taking
    # six keywords (a field out of place fails the tests of the guard it feeds)
    return tuple.__new__(
        PromptWrite,
        (
            columns,  # values
            None if caller.acts_for_whole_org else caller.subject,  # owner_id
            expected if isinstance(expected, datetime) else None,  # expected_updated_at
            version if isinstance(version, int) else None,  # expected_version
            attach_upload,
            "fileName" in values and "requestId" not in values,  # needs_asset
        ),
    )


def _audit(caller: Principal) -> dict[str, Any]:
    return {
        "updated_at": datetime.now(UTC),
        "updated_by": caller.subject,
        "updated_user_name": caller.name,
    }


async def _explained(
    conn: AsyncConnection,
    caller: Principal,
    prompt_id: str,
    write: PromptWrite,
    *,
    upload_usable: bool,
) -> PromptRow:
    """The row as it is now, if every guard of `write` holds on it; else the domain error
    of the first guard that fails (a second query, only on a miss)."""
    row = await store.fetch_prompt(conn, org_id=caller.org_id, prompt_id=prompt_id)
    upload_found = write.attach_upload is None or (
        upload_usable
        and await store.upload_exists(conn, org_id=caller.org_id, request_id=write.attach_upload)
    )
    guard = store.failed_guard(row, write, upload_found=upload_found)
    if guard is not None:
        raise MISSES[guard](prompt_id, row)
    assert row is not None
    return row
