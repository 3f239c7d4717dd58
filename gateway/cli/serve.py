"""`patchbay serve` and `patchbay demo`: uvicorn with Patchbay's logging and metrics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
import uvicorn.config

from db.database import Database
from db.errors import DatabaseUnavailable
from db.readiness import NotReady, check_ready
from db.seed import USER_NAMES
from gateway.cli import graceful
from gateway.cli.admin import db_upgrade, load_demo_data, sign_token
from gateway.cli.arguments import ALL_SCOPES
from gateway.cli.database_url import describe
from gateway.cli.graphiql_files import prepare_graphiql
from gateway.cli.listening import listen
from gateway.cli.sharing import manifest_refusal
from gateway.observe.metrics import MULTIPROCESS_ENV
from gateway.settings import Settings

DRAINING_APP = "gateway.cli.graceful:draining_app"  # the app, with /readyz 503 once draining
DEMO_TOKEN_SECONDS = 24 * 3600  # a day of trying things; `patchbay token` defaults to 1 h


def serve(settings: Settings, args: argparse.Namespace) -> int:
    refusal = asyncio.run(_why_not_ready(settings)) or manifest_refusal(settings)
    if refusal is not None:
        print(f"patchbay: cannot serve: {refusal}", file=sys.stderr)
        return 2
    prepare_graphiql(settings)
    print(f"patchbay: database {describe(settings.database_url)}", file=sys.stderr)
    if args.workers > 1:  # uvicorn's supervisor binds, then forks the workers
        return _serve_workers(settings, args)
    listener = listen(args.host, args.port)
    _run(
        _uvicorn_config(settings, args.host, args.port),
        listener,
        unready_seconds=settings.shutdown_unready_seconds,
    )
    return 0


def _serve_workers(settings: Settings, args: argparse.Namespace) -> int:
    made = _multiprocess_metrics_dir(settings, args.workers)
    config = uvicorn.Config(
        DRAINING_APP,
        factory=True,
        **_uvicorn_options(settings, args.host, args.port),
        workers=args.workers,
    )
    try:
        started = graceful.run(config, unready_seconds=settings.shutdown_unready_seconds)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0 if started else 3  # uvicorn's own status for a failed start


def _uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "access_log": False,  # our own access line carries the request id
        # No `server: uvicorn` on every response: it tells a scanner what to try
        "server_header": False,
        # A WebSocket message is bounded as a request body is (uvicorn's default: 16 MiB):
        # larger ones close the connection with 1009 before they are parsed
        "ws_max_size": settings.max_body_bytes,
        "log_level": settings.log_level.lower(),
        "log_config": _log_config(settings.log_level.upper()),  # configures every worker
        "timeout_graceful_shutdown": settings.shutdown_drain_seconds,
    }


def _uvicorn_config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    _multiprocess_metrics_dir(settings, workers=1)  # empties a chosen directory before use
    config = uvicorn.Config(DRAINING_APP, factory=True, **_uvicorn_options(settings, host, port))
    config.load()  # builds the app now: a refusal comes before anything is announced
    return config


def _run(config: uvicorn.Config, listener: socket.socket, *, unready_seconds: float) -> None:
    """Serves until SIGTERM (graceful: see gateway/cli/graceful.py) or Ctrl-C."""
    with listener:
        server = graceful.GracefulServer(config, unready_seconds=unready_seconds)
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once shut down
            server.run(sockets=[listener])


async def _why_not_ready(settings: Settings) -> str | None:
    """A database this code cannot serve stops the start; one that cannot be reached does
    not (it may come back: /readyz says 503 until then)."""
    db = Database(
        settings.database_url,
        timeout_seconds=settings.database_timeout_seconds,
        pooler=settings.database_pooler,
    )
    try:
        await check_ready(db)
    except NotReady as error:
        return str(error)
    except DatabaseUnavailable:
        return None
    finally:
        await db.dispose()
    return None


def _multiprocess_metrics_dir(settings: Settings, workers: int) -> str | None:
    """Several workers sum their metrics through files in PROMETHEUS_MULTIPROC_DIR.

    The variable must be set before the workers import prometheus_client. A directory the
    operator chose is emptied of the last run's files; else one is made, and removed at exit.
    Returns the directory made here, if any.
    """
    chosen = os.environ.get(MULTIPROCESS_ENV)
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        for stale in Path(chosen).glob("*.db"):
            stale.unlink()
        return None
    if workers <= 1 or not settings.metrics_enabled:
        return None
    made = tempfile.mkdtemp(prefix="patchbay-metrics-")
    os.environ[MULTIPROCESS_ENV] = made
    return made


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging plus ours; uvicorn applies it in each worker process too.

    The access log (`patchbay.access`) goes to stdout as bare JSON lines, one per request;
    other messages of ours go to stderr like uvicorn's.
    """
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["patchbay"] = {"format": "%(levelname)s %(name)s: %(message)s"}
    config["formatters"]["patchbay.access"] = {"format": "%(message)s"}
    config["handlers"]["patchbay"] = {
        "class": "logging.StreamHandler",
        "formatter": "patchbay",
        "stream": "ext://sys.stderr",
    }
    config["handlers"]["patchbay.access"] = {  # to standard output, one write per loop pass
        "class": "gateway.observe.access_log.AccessLineWriter",
        "formatter": "patchbay.access",
    }
    for name in ("patchbay", "patchbay.access"):
        config["loggers"][name] = {"handlers": [name], "level": level, "propagate": False}
    return config


def demo(settings: Settings, args: argparse.Namespace) -> int:
    listener = listen(args.host, args.port)  # first: a taken port is the only message
    db_upgrade(settings, args)
    load_demo_data(settings, args)
    prepare_graphiql(settings)
    token = asyncio.run(
        sign_token(
            settings,
            sub="alice",
            org="acme",
            scope=ALL_SCOPES,
            name=USER_NAMES["alice"],
            ttl=DEMO_TOKEN_SECONDS,
        )
    )
    config = _uvicorn_config(settings, args.host, args.port)
    url = f"http://{args.host}:{listener.getsockname()[1]}"
    print(
        f"\nPatchbay demo on {describe(settings.database_url)}\n"
        f"  GraphiQL:  {url}/graphql\n"
        "  In GraphiQL's Headers tab, paste (alice of acme, all scopes, valid 24 h):\n\n"
        f'  {{"Authorization": "Bearer {token}"}}\n\n'
        "  Then try:  query { viewer { ... on Viewer { subject organization { slug } } } }\n"
        "  Or with curl:\n\n"
        f"  curl -s {url}/graphql -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query": "{ viewer { ... on Viewer { subject name } } }"}'\n""",
        flush=True,
    )
    _run(config, listener, unready_seconds=settings.shutdown_unready_seconds)
    return 0
