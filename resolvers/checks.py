"""Checks that every rule module shares."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from db.storable import is_storable
from resolvers.errors import FieldCode, FieldIssue

# Unicode's category Cc, which is fixed by its stability policy: C0, DEL and C1. One regex
# search instead of a unicodedata lookup per character (an id is checked on every request).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def check_name(value: str | None, issues: list[FieldIssue], *, longest: int = 100) -> str | None:
    """A required display name: trimmed, 1..longest characters, no control characters."""
    if value is None:
        issues.append(
            FieldIssue("name", "a name is required and cannot be cleared", FieldCode.REQUIRED)
        )
        return None
    name = value.strip()
    if not is_storable(name) or has_control_characters(name):
        issues.append(FieldIssue("name", "must not contain control characters", FieldCode.INVALID))
    elif not name:
        issues.append(FieldIssue("name", "must not be empty", FieldCode.TOO_SHORT))
    elif len(name) > longest:
        issues.append(
            FieldIssue("name", f"must be at most {longest} characters", FieldCode.TOO_LONG)
        )
    return name


def check_expected_updated_at(value: datetime | None, issues: list[FieldIssue]) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        issues.append(
            FieldIssue("expectedUpdatedAt", "must include a UTC offset, e.g. Z", FieldCode.INVALID)
        )
        return
    try:  # e.g. 0001-01-01T00:00+14:00 has no UTC equivalent; comparing it would crash
        value.astimezone(UTC)
    except OverflowError:
        issues.append(
            FieldIssue("expectedUpdatedAt", "must be a time that exists in UTC", FieldCode.INVALID)
        )


def check_expected_version(value: int | None, issues: list[FieldIssue]) -> None:
    if value is not None and value < 1:  # versions start at 1
        issues.append(FieldIssue("expectedVersion", "must be at least 1", FieldCode.INVALID))
