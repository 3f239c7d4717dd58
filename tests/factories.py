"""Plain functions that make what tests need: tokens, keys, requests."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from starlette.types import ASGIApp

from db.api_keys import insert_key
from db.database import Database
from db.seed import ACME, GLOBEX
from gateway.app import create_app
from gateway.identity.api_keys import generate_key
from gateway.settings import Settings

TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long!"
ALL_SCOPES = "prompts:read prompts:write org:admin:read org:admin:write"
ORGS = {"acme": str(ACME), "globex": str(GLOBEX)}
USERS = {"alice": "acme", "bob": "acme", "carol": "globex"}


def token(
    user: str = "alice",
    *,
    scope: str = ALL_SCOPES,
    ttl: int = 600,
    name: str | None = "",  # "" = the user's name; None = no name claim
    secret: str = TEST_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": user,
        "org_id": ORGS[USERS.get(user, "acme")],
        "scope": scope,
        "iat": now,
        "exp": now + ttl,
        "name": user.title() if name == "" else name,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=algorithm)


async def api_key(
    db: Database, *, org: str = "acme", scope: str = ALL_SCOPES, name: str = "ci-bot"
) -> str:
    key = generate_key()
    async with db.write() as conn:
        await insert_key(
            conn,
            org_id=uuid.UUID(ORGS[org]),
            name=name,
            prefix=key.prefix,
            secret_hash=key.secret_hash,
            scopes=scope.split(),
        )
    return key.secret


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client of a fresh app built from these settings; its engine is disposed after.

    The one way tests make a gateway of their own; `asgi_client` is for an app they already
    hold (the session's app, or one whose state they inspect)."""
    app = create_app(settings)
    try:
        async with asgi_client(app) as client:
            yield client
    finally:
        await app.state.db.dispose()


@asynccontextmanager
async def asgi_client(
    app: ASGIApp, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls this ASGI app in-process, at http://patchbay.test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://patchbay.test") as client:
        yield client


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL document; `auth` is a bearer credential (token or API key)."""
    sent = dict(headers or {})
    if auth is not None:
        sent["Authorization"] = f"Bearer {auth}"
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=sent
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_documented(answered: dict[str, Any], documented: dict[str, Any]) -> dict[str, Any]:
    """The answer as a documented example shows it: every response reports its cost
    (`extensions.cost`), which examples leave out unless they show `extensions`."""
    if "extensions" in documented:
        return answered
    extensions = {k: v for k, v in answered.get("extensions", {}).items() if k != "cost"}
    trimmed = {k: v for k, v in answered.items() if k != "extensions"}
    return trimmed | ({"extensions": extensions} if extensions else {})


def alices_prompt(prompt_id: str) -> dict[str, Any]:
    """A row for `insert(prompts)`: a TTS draft of alice in acme, named after its id."""
    now = datetime.now(UTC)
    return {
        "id": prompt_id,
        "org_id": ACME,
        "owner_id": "alice",
        "name": prompt_id.removeprefix("prm_"),
        "type": "TTS",
        "state": "DRAFT",
        "tags": [],
        "created_at": now,
        "created_by": "alice",
        "updated_at": now,
        "updated_by": "alice",
    }
