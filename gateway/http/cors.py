"""CORS for the configured browser origins; no CORS headers at all when there are none."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware


def cors_middleware(origins: tuple[str, ...]) -> list[Middleware]:
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=("GET", "POST", "PATCH"),  # PATCH: the REST front
            allow_headers=(
                "authorization",
                "content-type",
                "x-request-id",
                "if-match",
                "if-none-match",
                "idempotency-key",
            ),
            # What a browser's script may read: ids, rate limits, ETags, idempotent replays.
            expose_headers=(
                "x-request-id",
                "ratelimit",
                "ratelimit-policy",
                "retry-after",
                "etag",
                "idempotent-replayed",
            ),
            allow_credentials=False,
            max_age=600,
        )
    ]
