"""Checks that every rule module shares."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from resolvers.errors import FieldIssue


def is_storable(value: str) -> bool:
    """PostgreSQL refuses NUL, and lone surrogates cannot be encoded as UTF-8."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def check_name(value: str | None, issues: list[FieldIssue], *, longest: int = 100) -> str | None:
    """A required display name: trimmed, 1..longest characters, no control characters."""
    if value is None:
        issues.append(FieldIssue("name", "a name is required and cannot be cleared", "REQUIRED"))
        return None
    name = value.strip()
    if not is_storable(name) or has_control_characters(name):
        issues.append(FieldIssue("name", "must not contain control characters", "INVALID"))
    elif not name:
        issues.append(FieldIssue("name", "must not be empty", "TOO_SHORT"))
    elif len(name) > longest:
        issues.append(FieldIssue("name", f"must be at most {longest} characters", "TOO_LONG"))
    return name


def check_expected_updated_at(value: datetime | None, issues: list[FieldIssue]) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        issues.append(
            FieldIssue("expectedUpdatedAt", "must include a UTC offset, e.g. Z", "INVALID")
        )
        return
    try:  # e.g. 0001-01-01T00:00+14:00 has no UTC equivalent; comparing it would crash
        value.astimezone(UTC)
    except OverflowError:
        issues.append(
            FieldIssue("expectedUpdatedAt", "must be a time that exists in UTC", "INVALID")
        )
