"""Why the GraphQL endpoint refuses a request, as a status and a code: every refusal is
answered as a GraphQL response (`errors` with `extensions.code` and `requestId`, no `data`,
since nothing ran), in the media type the caller accepts."""

from __future__ import annotations

from dataclasses import dataclass

from cross_web import HTTPException
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from schema.request_errors import operation_not_found


@dataclass(frozen=True)
class Refusal(Exception):
    message: str
    code: str = "BAD_REQUEST"
    # None: a GraphQL request error, whose status the response's media type decides.
    status: int | None = 400
    allow: str | None = None  # a 405's Allow header


METHOD_NOT_ALLOWED = Refusal(
    "GraphQL is served over GET (queries) and POST", "METHOD_NOT_ALLOWED", 405, "GET, POST"
)
NOT_ACCEPTABLE = Refusal(
    "Patchbay answers in application/graphql-response+json or application/json: accept one of them",
    "NOT_ACCEPTABLE",
    406,
)
UNSUPPORTED_MEDIA_TYPE = Refusal(
    "Send the request as application/json, in UTF-8", "UNSUPPORTED_MEDIA_TYPE", 415
)
NOT_JSON = Refusal("The request body is not valid JSON")
NO_QUERY = Refusal("No GraphQL query found in the request")

_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


def refusal_of(error: HTTPException, method: str) -> Refusal:
    """One of Strawberry's refusals (which it answers as text/plain) as ours."""
    cause = error.__cause__
    if isinstance(cause, InvalidOperationTypeError) and method == "GET":
        return Refusal(f"{error.reason}: send it with POST", "METHOD_NOT_ALLOWED", 405, "POST")
    if isinstance(cause, CannotGetOperationTypeError):
        return Refusal(operation_not_found(cause), "GRAPHQL_VALIDATION_FAILED", None)
    return Refusal(error.reason, _CODES.get(error.status_code, "BAD_REQUEST"), error.status_code)
