"""Rules on an updateGuardrailPool input alone."""

from __future__ import annotations

import re
from typing import Any

from resolvers.checks import check_expected_updated_at, check_expected_version, check_name
from resolvers.errors import FieldCode, FieldIssue
from resolvers.patches import PoolPatch

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def check_pool_patch(patch: PoolPatch) -> tuple[dict[str, Any], list[FieldIssue]]:
    """Normalised values by API field name, and every rule the patch breaks."""
    changes = patch.sent()
    values: dict[str, Any] = {}
    issues: list[FieldIssue] = []
    if "name" in changes:
        values["name"] = check_name(changes["name"], issues)
    if "slug" in changes:
        values["slug"] = _slug(changes["slug"], issues)
    check_expected_updated_at(changes.get("expectedUpdatedAt"), issues)
    check_expected_version(changes.get("expectedVersion"), issues)
    return values, issues


def _slug(value: str | None, issues: list[FieldIssue]) -> str | None:
    if value is None:
        issues.append(
            FieldIssue("slug", "a slug is required and cannot be cleared", FieldCode.REQUIRED)
        )
    elif len(value) > 64:
        issues.append(FieldIssue("slug", "must be at most 64 characters", FieldCode.TOO_LONG))
    elif not SLUG.fullmatch(value):
        issues.append(
            FieldIssue(
                "slug", "lowercase letters and digits in words joined by -", FieldCode.INVALID
            )
        )
    return value
