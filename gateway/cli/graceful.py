"""A replica's graceful exit on SIGTERM, for rolling restarts behind a balancer.

1. At once, /readyz answers 503, while everything else is still served.
2. After PATCHBAY_SHUTDOWN_UNREADY_SECONDS (time for the balancer's health checks to take
   the replica out of rotation), uvicorn stops accepting, closes idle connections and waits
   for the requests in flight, at most PATCHBAY_SHUTDOWN_DRAIN_SECONDS (then cancels them).
3. The app shuts down (the database pool closes) and the process exits 0.

uvicorn alone re-raises SIGTERM after its graceful shutdown, so the process would end by
the signal (status 143), which supervisors count as a failure; and it stops accepting at
once, before any balancer has noticed. SIGINT (Ctrl-C) keeps uvicorn's own behaviour.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.supervisors import multiprocess

from gateway.app import app_from_environment
from gateway.settings import Settings

log = logging.getLogger("patchbay")

DRAINING_BODY = b'{"status":"draining"}'


class Lifecycle:
    """This process's phase: draining from the first SIGTERM on."""

    draining_since: float | None = None


def draining_app() -> ASGIApp:
    """uvicorn's factory: the app, with /readyz answering 503 once the process drains."""
    return ReadinessGate(app_from_environment())


class ReadinessGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if Lifecycle.draining_since is not None and scope.get("path") == "/readyz":
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"%d" % len(DRAINING_BODY)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": DRAINING_BODY})
            return
        await self.app(scope, receive, send)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, unready_seconds: float) -> None:
        super().__init__(config)
        self.unready_seconds = unready_seconds
        self.said_draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
        elif Lifecycle.draining_since is None:
            Lifecycle.draining_since = time.monotonic()  # not re-raised: the exit status is 0

    async def on_tick(self, counter: int) -> bool:
        since = Lifecycle.draining_since
        if since is None:
            return await super().on_tick(counter)
        if not self.said_draining:  # logged here, not in the signal handler
            self.said_draining = True
            log.info(
                "SIGTERM: /readyz answers 503; still serving for %.1f s, then draining "
                "(at most %.1f s)",
                self.unready_seconds,
                self.config.timeout_graceful_shutdown or 0.0,
            )
        if time.monotonic() - since >= self.unready_seconds:
            return True  # uvicorn's shutdown: stop accepting, drain, lifespan shutdown
        return await super().on_tick(counter)


class GracefulWorker(multiprocess.Process):
    """A worker of `--workers N` runs the same lifecycle (the parent relays SIGTERM to
    each); it reads its settings in its own process."""

    @property
    def server(self) -> uvicorn.Server:
        if not isinstance(self._server, GracefulServer):
            unready = Settings().shutdown_unready_seconds
            self._server = GracefulServer(self.config, unready_seconds=unready)
        return self._server


def run(config: uvicorn.Config, *, unready_seconds: float) -> bool:
    """Serves until SIGTERM or SIGINT; False if the server never started."""
    try:
        if config.workers <= 1:
            config.load_app()
            server = GracefulServer(config, unready_seconds=unready_seconds)
            server.run()
            return server.started
        sock: socket.socket = config.bind_socket()
        # uvicorn's supervisor makes its workers (and their replacements) from this name.
        multiprocess.Process = GracefulWorker  # type: ignore[misc]
        multiprocess.Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # uvicorn re-raises SIGINT once it has shut down, as uvicorn.run
        pass
    return True
