"""The three seed pages' error bodies. A dialect renders a Failure; the failures are the same
for every endpoint (failures.py)."""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from gateway.rest.failures import STATUSES, Failure


class Dialect(Protocol):
    @property
    def model(self) -> type[BaseModel]:
        """The error body's model, for the document."""

    def render(self, failure: Failure, request_id: str) -> BaseModel: ...


def snake_case(field: str) -> str:
    """`fileName` -> `file_name`, `tags.2` stays: the snake_case pages' names for a field."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), field)


# --- /prompts/{id}: the page documents no body; this one mirrors GraphQL's error types ----


class FieldError(BaseModel):
    field: str = Field(description="Body field path, e.g. `title` or `tags.2`.")
    message: str = Field(description="What is wrong with it.")
    code: str = Field(
        description="Rule that failed: REQUIRED, TOO_SHORT, TOO_LONG, TOO_MANY, "
        "INVALID, UNKNOWN or TAKEN."
    )


class PromptError(BaseModel):
    """An error of `/prompts/{id}`."""

    code: str = Field(
        description="VALIDATION_FAILED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, "
        "METHOD_NOT_ALLOWED, CONFLICT, PRECONDITION_FAILED, UNSUPPORTED_MEDIA_TYPE, "
        "PAYLOAD_TOO_LARGE, THROTTLED, IDEMPOTENCY_KEY_INVALID, IDEMPOTENCY_KEY_REUSED, "
        "IDEMPOTENCY_KEY_IN_FLIGHT, SERVICE_UNAVAILABLE, RATE_LIMIT_UNAVAILABLE or "
        "OUTCOME_UNKNOWN."
    )
    message: str = Field(description="A human-readable explanation.")
    request_id: str = Field(alias="requestId", description="The X-Request-ID of the response.")
    fields: list[FieldError] = Field(description="Each field at fault (400, 409); else empty.")


class CamelCaseErrors:
    model = PromptError

    def render(self, failure: Failure, request_id: str) -> BaseModel:
        return PromptError.model_construct(
            code=failure.code,
            message=failure.message,
            request_id=request_id,
            fields=[
                FieldError.model_construct(field=i.field, message=i.message, code=i.code.value)
                for i in failure.issues
            ],
        )


# --- /v1/prompts/{id}: code, message, description, fields [{name, description}] -----------


class FieldDescription(BaseModel):
    name: str = Field(description="Body field, e.g. `file_name`.")
    description: str = Field(description="What is wrong with it.")


class AudioPromptError(BaseModel):
    """An error of `/v1/prompts/{id}`."""

    code: str = Field(
        description="VALIDATION_FAILED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, "
        "METHOD_NOT_ALLOWED, CONFLICT, PRECONDITION_FAILED, UNSUPPORTED_MEDIA_TYPE, "
        "PAYLOAD_TOO_LARGE, THROTTLED, IDEMPOTENCY_KEY_INVALID, IDEMPOTENCY_KEY_REUSED, "
        "IDEMPOTENCY_KEY_IN_FLIGHT, SERVICE_UNAVAILABLE, RATE_LIMIT_UNAVAILABLE or "
        "OUTCOME_UNKNOWN."
    )
    message: str = Field(description="A human-readable explanation.")
    description: str = Field(description="What this kind of failure means.")
    fields: list[FieldDescription] = Field(description="Each field at fault; else empty.")


class SnakeCaseErrors:
    model = AudioPromptError

    def render(self, failure: Failure, request_id: str) -> BaseModel:
        return AudioPromptError.model_construct(
            code=failure.code,
            message=failure.message,
            description=STATUSES[failure.status][1],
            fields=[
                FieldDescription.model_construct(name=snake_case(i.field), description=i.message)
                for i in failure.issues
            ],
        )


# --- /v1/guardrails/pools/{id}: {"success": false, "error": {...}} -------------------------

# The page's exact messages; CONFLICT and the rest keep the rule's own.
POOL_MESSAGES = {
    "UNAUTHORIZED": "authentication failed",
    "FORBIDDEN": "missing required scope",
    "NOT_FOUND": "not found",
    "VALIDATION_FAILED": "validation failed",
}


class PoolErrorDetail(BaseModel):
    code: str = Field(
        description="UNAUTHORIZED, FORBIDDEN, NOT_FOUND, VALIDATION_FAILED, "
        "METHOD_NOT_ALLOWED, CONFLICT, PRECONDITION_FAILED, UNSUPPORTED_MEDIA_TYPE, "
        "PAYLOAD_TOO_LARGE, THROTTLED, IDEMPOTENCY_KEY_INVALID, IDEMPOTENCY_KEY_REUSED, "
        "IDEMPOTENCY_KEY_IN_FLIGHT, SERVICE_UNAVAILABLE, RATE_LIMIT_UNAVAILABLE or "
        "OUTCOME_UNKNOWN."
    )
    message: str = Field(description="A human-readable explanation.")
    request_id: str = Field(description="The X-Request-ID of the response.")
    details: dict[str, str] | None = Field(
        None,
        exclude_if=lambda details: not details,
        description="Message by body field, for VALIDATION_FAILED and CONFLICT.",
    )


class PoolErrorEnvelope(BaseModel):
    """An error of `/v1/guardrails/pools/{id}`."""

    success: Literal[False] = Field(description="Always false for an error.")
    error: PoolErrorDetail = Field(description="What failed.")


class EnvelopeErrors:
    model = PoolErrorEnvelope

    def render(self, failure: Failure, request_id: str) -> BaseModel:
        details: dict[str, str] = {}
        for issue in failure.issues:  # the first message of a field stands for it
            details.setdefault(snake_case(issue.field), issue.message)
        detail = PoolErrorDetail.model_construct(
            code=failure.code,
            message=POOL_MESSAGES.get(failure.code, failure.message),
            request_id=request_id,
            details=details or None,
        )
        return PoolErrorEnvelope.model_construct(success=False, error=detail)
