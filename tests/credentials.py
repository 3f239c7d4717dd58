"""What the authentication tests share: claims and signing helpers, key pairs, the one
answer every refused credential gets (REFUSED), and `viewer` / `viewer_with` to ask who the
caller is."""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import inspect, text

from db.database import Database
from tests.factories import ALL_SCOPES, ORGS, gql

VIEWER = """
{ viewer { __typename
  ... on Viewer { subject kind name scopes organization { id slug name } }
  ... on Error { code message requestId } } }
"""
UPDATE_PROMPT = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Hijacked"}) {
  __typename
  ... on UpdatePromptSuccess { prompt { title } }
  ... on Error { code message requestId } } }
"""
PROMPT_TITLE = """
{ prompt(id: "prm_acme_welcome") { __typename ... on Prompt { title } } }
"""

REQUEST_ID = "auth-test-request"
REFUSED = {
    "__typename": "UnauthorizedError",
    "code": "UNAUTHORIZED",
    "message": "authentication failed",
    "requestId": REQUEST_ID,
}
ACME_ORG = {"id": ORGS["acme"], "slug": "acme", "name": "Acme"}
GLOBEX_ORG = {"id": ORGS["globex"], "slug": "globex", "name": "Globex"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(user: str = "alice", **changes: Any) -> dict[str, Any]:
    """Valid claims for a seeded user; a change to None drops the claim."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": user,
        "org_id": ORGS["globex" if user == "carol" else "acme"],
        "scope": ALL_SCOPES,
        "iat": now,
        "exp": now + 600,
        "name": user.title(),
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def signed(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One key pair per name, made once per run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", "X-Request-ID": REQUEST_ID}


async def viewer(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = await gql(client, VIEWER, headers={"X-Request-ID": REQUEST_ID, **headers})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["viewer"]
    return result


async def viewer_with(client: httpx.AsyncClient, credential: str) -> dict[str, Any]:
    return await viewer(client, bearer(credential))


async def dump_database(db: Database) -> str:
    """Every row of every table in the database, as text."""
    async with db.read() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "api_keys" in names
        rows = [
            f"{name}: {row!r}"
            for name in names
            for row in (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
        ]
    return "\n".join(rows)
