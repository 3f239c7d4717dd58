"""The answer to a failure of ours: a code and the request id, never the failure itself."""

from __future__ import annotations

from starlette.responses import Response

from gateway.http.refusal import refusal


def internal_error(request_id: str) -> Response:
    return refusal(
        "Internal server error", code="INTERNAL_SERVER_ERROR", status=500, request_id=request_id
    )
