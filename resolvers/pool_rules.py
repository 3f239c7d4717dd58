"""Rules on an updateGuardrailPool input alone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from resolvers.checks import check_expected_updated_at, check_name
from resolvers.errors import FieldIssue

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def check_pool_changes(changes: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldIssue]]:
    values: dict[str, Any] = {}
    issues: list[FieldIssue] = []
    if "name" in changes:
        values["name"] = check_name(changes["name"], issues)
    if "slug" in changes:
        values["slug"] = _slug(changes["slug"], issues)
    check_expected_updated_at(changes.get("expectedUpdatedAt"), issues)
    return values, issues


def _slug(value: str | None, issues: list[FieldIssue]) -> str | None:
    if value is None:
        issues.append(FieldIssue("slug", "a slug is required and cannot be cleared", "REQUIRED"))
    elif len(value) > 64:
        issues.append(FieldIssue("slug", "must be at most 64 characters", "TOO_LONG"))
    elif not SLUG.fullmatch(value):
        issues.append(
            FieldIssue("slug", "lowercase letters and digits in words joined by -", "INVALID")
        )
    return value
