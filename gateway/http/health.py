"""/healthz (the process answers) and /readyz (it can reach its database)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("patchbay")


def health_routes(ping: Callable[[], Awaitable[None]], *, timeout_seconds: float) -> list[Route]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(ping(), timeout=timeout_seconds)
        except Exception:  # any failure means "not ready"; details go to the log only
            log.warning("readiness check failed: database unreachable")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
