"""The `patchbay` command line."""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
import uvicorn
import uvicorn.config

from db import api_keys as key_store
from db.database import Database
from db.migrate import upgrade
from db.organizations import find_organization
from db.seed import USER_NAMES, seed_demo
from gateway import api_keys
from gateway.metrics import MULTIPROCESS_ENV
from gateway.settings import Settings

ALL_SCOPES = "prompts:read prompts:write org:admin:read org:admin:write"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValueError as error:
        print(f"patchbay: invalid settings: {error}", file=sys.stderr)
        return 2
    result: int = args.run(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchbay", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")

    serve = commands.add_parser("serve", help="serve the gateway with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="migrate, seed, print a token for alice, serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)

    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(required=True, metavar="action")
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(run=_upgrade)

    commands.add_parser("seed", help="load the demo data (idempotent)").set_defaults(run=_seed)
    commands.add_parser("schema", help="print the GraphQL schema (SDL)").set_defaults(run=_schema)

    token = commands.add_parser("token", help="print a JWT signed with the HS256 secret")
    token.add_argument("--sub", required=True)
    token.add_argument("--org", required=True, help="organization slug or id")
    token.add_argument("--scope", default=ALL_SCOPES)
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    token.set_defaults(run=_token)

    apikey = commands.add_parser("apikey", help="organization API keys")
    key_commands = apikey.add_subparsers(required=True, metavar="action")
    create = key_commands.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--org", required=True)
    create.add_argument("--scope", required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(run=_apikey_create)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(run=_apikey_revoke)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    made = _multiprocess_metrics_dir(settings, args.workers)
    try:
        uvicorn.run(
            "gateway.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,  # our own access line carries the request id
            log_level=settings.log_level.lower(),
            log_config=_log_config(settings.log_level.upper()),  # configures every worker
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


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
        "class": "gateway.access_log.AccessLineWriter",
        "formatter": "patchbay.access",
    }
    for name in ("patchbay", "patchbay.access"):
        config["loggers"][name] = {"handlers": [name], "level": level, "propagate": False}
    return config


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    _upgrade(settings, args)
    _seed(settings, args)
    token = asyncio.run(
        _sign(
            settings,
            sub="alice",
            org="acme",
            scope=ALL_SCOPES,
            name=USER_NAMES["alice"],
            ttl=24 * 3600,
        )
    )
    print(
        f"\nPatchbay demo on {settings.database_url}\n"
        f"  GraphiQL:  http://{args.host}:{args.port}/graphql\n"
        "  In GraphiQL's Headers tab, paste (alice of acme, all scopes, valid 24 h):\n\n"
        f'  {{"Authorization": "Bearer {token}"}}\n\n'
        "  Then try:  query { viewer { ... on Viewer { subject organization { slug } } } }\n"
        "  Or with curl:\n\n"
        f"  curl -s http://{args.host}:{args.port}/graphql -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query": "{ viewer { ... on Viewer { subject name } } }"}'\n""",
        flush=True,
    )
    return _serve(settings, argparse.Namespace(host=args.host, port=args.port, workers=1))


def _upgrade(settings: Settings, _: argparse.Namespace) -> int:
    upgrade(settings.database_url)
    return 0


def _seed(settings: Settings, _: argparse.Namespace) -> int:
    async def seed() -> None:
        db = Database(settings.database_url)
        try:
            async with db.write() as conn:
                await seed_demo(conn)
        finally:
            await db.dispose()

    asyncio.run(seed())
    print("demo data loaded", file=sys.stderr)
    return 0


def _schema(_settings: Settings, _: argparse.Namespace) -> int:
    from schema.schema import build_schema

    print(build_schema().as_str())
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(
            asyncio.run(
                _sign(
                    settings,
                    sub=args.sub,
                    org=args.org,
                    scope=args.scope,
                    name=args.name,
                    ttl=args.ttl,
                )
            )
        )
    except LookupError as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 1
    return 0


async def _sign(
    settings: Settings, *, sub: str, org: str, scope: str, name: str | None, ttl: int
) -> str:
    secret = settings.hmac_secret
    if secret is None:
        raise LookupError("no HS256 secret is configured; tokens come from your identity provider")
    org_id = await _org_id(settings, org)
    now = int(time.time())
    claims = {
        "sub": sub,
        settings.jwt_org_claim: str(org_id),
        "scope": scope,
        "iat": now,
        "exp": now + ttl,
    }
    if name:
        claims["name"] = name
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256")


async def _org_id(settings: Settings, slug_or_id: str) -> uuid.UUID:
    db = Database(settings.database_url)
    try:
        async with db.read() as conn:
            org = await find_organization(conn, slug_or_id=slug_or_id)
    finally:
        await db.dispose()
    if org is None:
        raise LookupError(f"no organization {slug_or_id!r}")
    org_id: uuid.UUID = org.id
    return org_id


def _apikey_create(settings: Settings, args: argparse.Namespace) -> int:
    async def create() -> str:
        org_id = await _org_id(settings, args.org)
        key = api_keys.generate_key()
        db = Database(settings.database_url)
        try:
            async with db.write() as conn:
                await key_store.insert_key(
                    conn,
                    org_id=org_id,
                    name=args.name,
                    prefix=key.prefix,
                    secret_hash=key.secret_hash,
                    scopes=args.scope.split(),
                )
        finally:
            await db.dispose()
        return key.secret

    try:
        secret = asyncio.run(create())
    except LookupError as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 1
    print(secret)
    print(
        f"prefix {api_keys.prefix_of(secret)}; the secret is not stored: keep it now",
        file=sys.stderr,
    )
    return 0


def _apikey_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def revoke() -> bool:
        db = Database(settings.database_url)
        try:
            async with db.write() as conn:
                return await key_store.revoke_key(conn, prefix=args.prefix)
        finally:
            await db.dispose()

    if not asyncio.run(revoke()):
        print(f"patchbay: no active key with prefix {args.prefix!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.prefix}", file=sys.stderr)
    return 0
