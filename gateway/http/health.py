"""/healthz (the process answers) and /readyz (its database can serve this code)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db.readiness import NotReady

log = logging.getLogger("patchbay")


def health_routes(
    check_ready: Callable[[], Awaitable[None]], *, timeout_seconds: float
) -> list[Route]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(check_ready(), timeout=timeout_seconds)
        except Exception as error:  # any failure means "not ready"; details go to the log only
            log.warning("readiness check failed: %s", _reason(error))
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]


def _reason(error: Exception) -> str:
    if isinstance(error, NotReady):
        return str(error)
    return f"database unreachable ({type(error).__name__})"
