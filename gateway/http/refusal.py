"""A refusal at the edge in the shape of a GraphQL response (`errors`, each with a code and
the request id), so that a client reads every answer of the gateway the same way: never a
text/plain page."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def refusal_document(message: str, *, code: str, request_id: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}


def refusal(message: str, *, code: str, status: int, request_id: str) -> Response:
    body = orjson.dumps(refusal_document(message, code=code, request_id=request_id))
    return Response(body, status, media_type="application/json")
