"""The maintenance commands: migrations, demo data, schema, tokens and API keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.ext.asyncio import AsyncConnection

from db import api_keys as key_store
from db import idempotency
from db.database import Database
from db.migrate import upgrade
from db.organizations import find_organization
from db.seed import seed_demo
from gateway.cli.database_url import describe
from gateway.identity import api_keys
from gateway.settings import Settings


def db_upgrade(settings: Settings, _: argparse.Namespace) -> int:
    print(f"patchbay: migrating {describe(settings.database_url)}", file=sys.stderr)
    upgrade(settings.database_url)
    return 0


def db_prune(settings: Settings, _: argparse.Namespace) -> int:
    """Removes idempotency records past PATCHBAY_IDEMPOTENCY_TTL_SECONDS (e.g. from cron)."""

    async def prune() -> int:
        db = Database(settings.database_url)
        try:
            before = datetime.now(UTC) - timedelta(seconds=settings.idempotency_ttl_seconds)
            return await idempotency.prune(db, before=before)
        finally:
            await db.dispose()

    print(f"{asyncio.run(prune())} expired idempotency records removed", file=sys.stderr)
    return 0


@asynccontextmanager
async def transaction(settings: Settings) -> AsyncIterator[AsyncConnection]:
    """One transaction on a database opened for one command, closed after it."""
    db = Database(settings.database_url, pooler=settings.database_pooler)
    try:
        async with db.write() as conn:
            yield conn
    finally:
        await db.dispose()


def load_demo_data(settings: Settings, _: argparse.Namespace) -> int:
    async def seed() -> None:
        async with transaction(settings) as conn:
            await seed_demo(conn)

    asyncio.run(seed())
    print(f"demo data loaded into {describe(settings.database_url)}", file=sys.stderr)
    return 0


def print_schema(_settings: Settings, _: argparse.Namespace) -> int:
    from schema.schema import build_schema

    print(build_schema().as_str())
    return 0


def print_token(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(
            asyncio.run(
                sign_token(
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


async def sign_token(
    settings: Settings, *, sub: str, org: str, scope: str, name: str | None, ttl: int
) -> str:
    secret = settings.hmac_secret
    if secret is None:
        raise LookupError("no HS256 secret is configured; tokens come from your identity provider")
    org_id = await org_id_of(settings, org)
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


async def org_id_of(settings: Settings, slug_or_id: str) -> uuid.UUID:
    db = Database(settings.database_url, pooler=settings.database_pooler)
    try:
        async with db.read() as conn:
            org = await find_organization(conn, slug_or_id=slug_or_id)
    finally:
        await db.dispose()
    if org is None:
        raise LookupError(f"no organization {slug_or_id!r}")
    org_id: uuid.UUID = org.id
    return org_id


def create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    async def create() -> str:
        org_id = await org_id_of(settings, args.org)
        key = api_keys.generate_key()
        async with transaction(settings) as conn:
            await key_store.insert_key(
                conn,
                org_id=org_id,
                name=args.name,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                scopes=args.scope.split(),
            )
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


def list_api_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def listed() -> list[str]:
        org_id = await org_id_of(settings, args.org) if args.org else None
        async with transaction(settings) as conn:
            keys = await key_store.list_keys(conn, org_id=org_id)
        return [
            "\t".join(
                (
                    key.prefix,
                    str(key.org_id),
                    key.name,
                    " ".join(key.scopes),
                    key.created_at.isoformat(timespec="seconds"),
                    f"revoked {key.revoked_at.isoformat(timespec='seconds')}"
                    if key.revoked_at
                    else "active",
                )
            )
            for key in keys
        ]

    try:
        lines = asyncio.run(listed())
    except LookupError as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 1
    print("prefix\torganization\tname\tscopes\tcreated\tstate")
    for line in lines:
        print(line)
    return 0


def revoke_api_key(settings: Settings, args: argparse.Namespace) -> int:
    prefix = api_keys.prefix_of(args.key)  # the whole key works as well as its prefix

    async def revoke() -> bool:
        async with transaction(settings) as conn:
            return await key_store.revoke_key(conn, prefix=prefix)

    if not asyncio.run(revoke()):
        print(f"patchbay: no active key with prefix {prefix!r}", file=sys.stderr)
        return 1
    print(f"revoked {prefix}", file=sys.stderr)
    return 0
