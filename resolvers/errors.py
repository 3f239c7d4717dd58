"""The domain errors: every documented failure, as plain exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FieldCode(StrEnum):
    """The rule a field broke."""

    REQUIRED = "REQUIRED"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"
    TAKEN = "TAKEN"
    STALE = "STALE"


@dataclass(frozen=True)
class FieldIssue:
    field: str
    message: str
    code: FieldCode


class DomainError(Exception):
    """A documented failure; the GraphQL layer turns it into a union member."""

    message = "request failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class Unauthorized(DomainError):
    """Missing, malformed, expired, revoked or badly signed credential."""

    message = "authentication failed"


class Forbidden(DomainError):
    """Authenticated, but not allowed: a missing scope or someone else's object."""

    message = "forbidden"

    def __init__(self, message: str | None = None, *, required_scope: str | None = None) -> None:
        super().__init__(message)
        self.required_scope = required_scope


class NotFound(DomainError):
    """No such object in the caller's organization."""

    def __init__(self, resource: str, object_id: str) -> None:
        super().__init__(f"{resource} not found")
        self.resource = resource
        self.object_id = object_id


class ValidationFailed(DomainError):
    """One or more input fields break a rule; all of them are listed."""

    def __init__(self, issues: list[FieldIssue]) -> None:
        super().__init__("validation failed")
        self.issues = issues


class Conflict(DomainError):
    """The write collides with another object or with a newer version; for a stale guard,
    the object's current version and updatedAt, so the caller can retry at once."""

    def __init__(
        self,
        message: str,
        issues: list[FieldIssue],
        *,
        current_version: int | None = None,
        current_updated_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.issues = issues
        self.current_version = current_version
        self.current_updated_at = current_updated_at


class InvalidArgument(ValueError):
    """A query argument (cursor, page size) that cannot be used; not a union member."""
