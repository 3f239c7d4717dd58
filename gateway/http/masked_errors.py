"""The answer to a failure of ours: a code and the request id, never the failure itself."""

from __future__ import annotations

import orjson
from starlette.responses import Response


def internal_error(request_id: str) -> Response:
    error = {
        "message": "Internal server error",
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    }
    return Response(orjson.dumps({"errors": [error]}), 500, media_type="application/json")
