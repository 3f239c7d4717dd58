"""Every way a REST request can fail, as one value: the HTTP status, a code and the field
issues. Domain errors become failures here, in one place, for all three dialects."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from resolvers import errors as domain
from resolvers.errors import FieldCode, FieldIssue


@dataclass(frozen=True)
class Failure:
    status: int
    code: str
    message: str
    issues: list[FieldIssue] = field(default_factory=list)


class Refused(Exception):
    """The request is refused before any rule ran (its media type, its JSON)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


# (status, code, a sentence for the document) of each failure an endpoint can answer with
STATUSES = {
    400: (
        "VALIDATION_FAILED",
        "The body is not a JSON object of the documented fields and "
        "types, or a value breaks a rule; every field at fault is listed.",
    ),
    401: ("UNAUTHORIZED", "The credential is missing, malformed, expired, revoked or invalid."),
    403: ("FORBIDDEN", "The credential lacks the scope, or the caller does not own the prompt."),
    404: (
        "NOT_FOUND",
        "No such id in the caller's organization (another organization's id answers the same).",
    ),
    405: (
        "METHOD_NOT_ALLOWED",
        "The path serves GET and PATCH only (the Allow header lists them): nothing ran.",
    ),
    409: ("CONFLICT", "The name or slug is taken by another object of the organization."),
    422: (
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was used for a different request (another body, path or "
        "If-Match): nothing was written.",
    ),
    412: (
        "PRECONDITION_FAILED",
        "If-Match names a version that is no longer current: nothing was written.",
    ),
    413: (
        "PAYLOAD_TOO_LARGE",
        "The body is over the size limit (1 MiB by default, PATCHBAY_MAX_BODY_BYTES): "
        "nothing was read or written.",
    ),
    415: (
        "UNSUPPORTED_MEDIA_TYPE",
        "The body is neither application/json nor application/merge-patch+json.",
    ),
    429: (
        "THROTTLED",
        "The client is over its rate limit (PATCHBAY_RATE_LIMIT): nothing ran; retry after "
        "Retry-After seconds.",
    ),
    503: (
        "SERVICE_UNAVAILABLE",
        "The database cannot be reached, or stopped answering after a "
        "write was sent (OUTCOME_UNKNOWN: read the object before retrying).",
    ),
}


def failure_of(error: Exception) -> Failure | None:
    """The failure a domain or database error stands for; None for a bug of ours."""
    if isinstance(error, domain.Unauthorized):
        return Failure(401, "UNAUTHORIZED", error.message)
    if isinstance(error, domain.Forbidden):
        return Failure(403, "FORBIDDEN", error.message)
    if isinstance(error, domain.ValidationFailed):
        return Failure(400, "VALIDATION_FAILED", error.message, error.issues)
    if isinstance(error, domain.NotFound):
        return Failure(404, "NOT_FOUND", error.message)
    if isinstance(error, domain.Conflict):
        if any(issue.code is FieldCode.STALE for issue in error.issues):
            # The only version guard REST sends is If-Match's: its failure is HTTP's 412.
            return Failure(412, "PRECONDITION_FAILED", "the resource changed since that ETag")
        return Failure(409, "CONFLICT", error.message, error.issues)
    if isinstance(error, DatabaseUnavailable):
        return Failure(503, "SERVICE_UNAVAILABLE", "the database cannot be reached, retry shortly")
    if isinstance(error, WriteOutcomeUnknown):
        return Failure(
            503,
            "OUTCOME_UNKNOWN",
            "the database stopped answering after the write was sent: read the object "
            "before retrying",
        )
    return None


def unsupported_media_type() -> Refused:
    return Refused(
        Failure(
            415, "UNSUPPORTED_MEDIA_TYPE", "send application/json or application/merge-patch+json"
        )
    )


def malformed(message: str) -> Refused:
    return Refused(
        Failure(
            400,
            "VALIDATION_FAILED",
            "validation failed",
            [FieldIssue("body", message, FieldCode.INVALID)],
        )
    )
