"""The error interface, its members, and the one place domain errors become them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import TypeVar

import strawberry

from resolvers import errors as domain
from schema.context import Context


@strawberry.enum(description="Machine-readable kind of a documented failure.")
class ErrorCode(Enum):
    VALIDATION_FAILED = "VALIDATION_FAILED"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


@strawberry.interface(description="A documented failure, returned as data inside a result union.")
class Error:
    code: ErrorCode = strawberry.field(description="What kind of failure this is.")
    message: str = strawberry.field(description="A human-readable explanation.")
    request_id: str = strawberry.field(
        description="The request's id, as in the X-Request-ID response header."
    )


@strawberry.type(description="One input field that broke a rule.")
class FieldError:
    field: str = strawberry.field(description="Input field path, e.g. `name` or `tags.2`.")
    message: str = strawberry.field(description="What is wrong with it.")
    code: str = strawberry.field(
        description="Rule that failed: REQUIRED, TOO_SHORT, TOO_LONG, TOO_MANY, INVALID, "
        "UNKNOWN, TAKEN or STALE."
    )


@strawberry.type(description="The input broke one or more rules; every failure is listed.")
class ValidationError(Error):
    fields: list[FieldError] = strawberry.field(description="Each field that failed.")


@strawberry.type(description="The credential is missing, malformed, expired, revoked or invalid.")
class UnauthorizedError(Error):
    pass


@strawberry.type(description="The caller may not do this: a missing scope or not the owner.")
class ForbiddenError(Error):
    required_scope: str | None = strawberry.field(
        description="The scope that would allow it, when a scope is what is missing."
    )


@strawberry.type(description="No such object in the caller's organization.")
class NotFoundError(Error):
    resource: str = strawberry.field(description="Kind of object looked for.")
    id: strawberry.ID = strawberry.field(description="The id as given.")


@strawberry.type(description="The write collides with another object or a newer version.")
class ConflictError(Error):
    fields: list[FieldError] = strawberry.field(description="The fields in conflict.")
    current_version: int | None = strawberry.field(
        default=None,
        description="For a stale expectedVersion or expectedUpdatedAt: the object's version "
        "now, to retry with at once. Null for a name or slug conflict.",
    )
    current_updated_at: datetime | None = strawberry.field(
        default=None,
        description="For a stale expectedVersion or expectedUpdatedAt: the object's updatedAt "
        "now. Null for a name or slug conflict.",
    )


ErrorMember = ValidationError | UnauthorizedError | ForbiddenError | NotFoundError | ConflictError


def _fields(issues: list[domain.FieldIssue]) -> list[FieldError]:
    return [FieldError(field=i.field, message=i.message, code=i.code.value) for i in issues]


def error_member(error: domain.DomainError, request_id: str) -> ErrorMember:
    """The union member for a domain error; the only such mapping in the codebase."""
    common = {"message": error.message, "request_id": request_id}
    if isinstance(error, domain.ValidationFailed):
        return ValidationError(
            code=ErrorCode.VALIDATION_FAILED, fields=_fields(error.issues), **common
        )
    if isinstance(error, domain.Forbidden):
        return ForbiddenError(
            code=ErrorCode.FORBIDDEN, required_scope=error.required_scope, **common
        )
    if isinstance(error, domain.NotFound):
        return NotFoundError(
            code=ErrorCode.NOT_FOUND,
            resource=error.resource,
            id=strawberry.ID(error.object_id),
            **common,
        )
    if isinstance(error, domain.Conflict):
        return ConflictError(
            code=ErrorCode.CONFLICT,
            fields=_fields(error.issues),
            current_version=error.current_version,
            current_updated_at=error.current_updated_at,
            **common,
        )
    return UnauthorizedError(code=ErrorCode.UNAUTHORIZED, **common)


T = TypeVar("T")
R = TypeVar("R")


async def answer(
    ctx: Context, work: Awaitable[T], present: Callable[[T], R], *, success: str | None = None
) -> R | ErrorMember:
    """Run a resolver call; a domain error becomes data, anything else stays an error.

    The result's GraphQL type name is noted on the context for the request's log line
    (`success` names it where the Python class is not the type's: a generic one, e.g.
    PromptConnection, or a record the planned executor writes, e.g. PromptRecord).
    """
    try:
        value = await work
    except domain.DomainError as error:
        member = error_member(error, ctx.request_id)
        ctx.results.append(type(member).__name__)
        return member
    result = present(value)
    ctx.results.append(success or type(result).__name__)
    return result
