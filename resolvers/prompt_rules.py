"""Rules on an updatePrompt input alone, before any row is read."""

from __future__ import annotations

from typing import Any

from db.storable import is_storable
from resolvers.checks import (
    check_expected_updated_at,
    check_expected_version,
    check_name,
    has_control_characters,
)
from resolvers.errors import FieldCode, FieldIssue
from resolvers.patches import PromptPatch

AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg")
MAX_TAGS = 20
MAX_TAGS_CHECKED = 200  # longer lists are refused whole, without a verdict per tag
# field -> (min length, max length) for the clearable text fields
TEXT_LIMITS = {
    "title": (1, 200),
    "description": (0, 1000),
    "content": (0, 20000),
    "model": (1, 100),
}


def check_prompt_patch(patch: PromptPatch) -> tuple[dict[str, Any], list[FieldIssue]]:
    """Normalised values by API field name, and every rule the patch breaks."""
    values: dict[str, Any] = {}
    issues: list[FieldIssue] = []
    for field, value in patch.sent().items():
        if field == "name":
            values[field] = check_name(value, issues)
        elif field in TEXT_LIMITS:
            values[field] = _text(field, value, issues)
        elif field == "tags":
            values[field] = _tags(value, issues)
        elif field == "fileName":
            values[field] = _file_name(value, issues)
        elif field == "requestId":
            values[field] = _request_id(value, issues)
        elif field == "expectedUpdatedAt":
            check_expected_updated_at(value, issues)
        elif field == "expectedVersion":
            check_expected_version(value, issues)
    return values, issues


def _text(field: str, value: str | None, issues: list[FieldIssue]) -> str | None:
    if value is None:
        return None  # null clears
    shortest, longest = TEXT_LIMITS[field]
    if not is_storable(value):
        issues.append(
            FieldIssue(field, "must not contain NUL or unpaired surrogates", FieldCode.INVALID)
        )
    elif len(value) < shortest:
        issues.append(FieldIssue(field, "must not be empty", FieldCode.TOO_SHORT))
    elif len(value) > longest:
        issues.append(
            FieldIssue(field, f"must be at most {longest} characters", FieldCode.TOO_LONG)
        )
    return value


def _tags(value: list[str] | None, issues: list[FieldIssue]) -> list[str]:
    if value is None:
        return []  # null clears
    if len(value) > MAX_TAGS_CHECKED:  # don't answer a flood of tags with a flood of issues
        issues.append(FieldIssue("tags", f"at most {MAX_TAGS} distinct tags", FieldCode.TOO_MANY))
        return []
    kept: dict[str, None] = {}  # ordered, and O(1) per duplicate check: ~100k tags fit in 1 MiB
    for index, raw in enumerate(value):
        tag = raw.strip()
        field = f"tags.{index}"
        if not is_storable(tag) or has_control_characters(tag):
            issues.append(
                FieldIssue(field, "must not contain control characters", FieldCode.INVALID)
            )
        elif not tag:
            issues.append(FieldIssue(field, "must not be empty", FieldCode.TOO_SHORT))
        elif len(tag) > 50:
            issues.append(FieldIssue(field, "must be at most 50 characters", FieldCode.TOO_LONG))
        else:
            kept.setdefault(tag)
    if len(kept) > MAX_TAGS:
        issues.append(FieldIssue("tags", f"at most {MAX_TAGS} distinct tags", FieldCode.TOO_MANY))
    return list(kept)


def _file_name(value: str | None, issues: list[FieldIssue]) -> str | None:
    if value is None:
        issues.append(FieldIssue("fileName", "a file name cannot be cleared", FieldCode.REQUIRED))
    elif len(value) > 255:
        issues.append(FieldIssue("fileName", "must be at most 255 characters", FieldCode.TOO_LONG))
    elif (
        not value.strip()
        or "/" in value
        or "\\" in value
        or not is_storable(value)
        or has_control_characters(value)
        or not value.lower().endswith(AUDIO_EXTENSIONS)
    ):
        issues.append(
            FieldIssue(
                "fileName", "must be a file name ending in .mp3, .wav or .ogg", FieldCode.INVALID
            )
        )
    return value


def _request_id(value: str | None, issues: list[FieldIssue]) -> str | None:
    if value is None:  # whether it names an upload is checked after the row's own checks
        issues.append(FieldIssue("requestId", "a request id cannot be null", FieldCode.REQUIRED))
    return value
