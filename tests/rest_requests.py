"""What the REST tests share: the three paths, the seeded objects they touch, and a PATCH
with a credential and a request id."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from db.database import Database
from db.models import guardrail_pools, prompts
from db.seed import ACME_DEFAULT_POOL, ACME_MARKETING_POOL, GLOBEX_DEFAULT_POOL

PROMPTS = "/prompts"  # seed page 001
AUDIO_PROMPTS = "/v1/prompts"  # seed page 000
POOLS = "/v1/guardrails/pools"  # seed page 004
ALICES = "prm_acme_welcome"  # alice's, ASSET, PUBLISHED
ALICES_TTS = "prm_acme_after_hours"  # alice's, TTS, DRAFT
BOBS = "prm_acme_hold_music"
CAROLS = "prm_globex_welcome"  # another organization's
POOL = str(ACME_DEFAULT_POOL)
OTHER_POOL = str(ACME_MARKETING_POOL)
GLOBEX_POOL = str(GLOBEX_DEFAULT_POOL)
REQUEST_ID = "rest-test-request"


def bearer(credential: str | None, **headers: str) -> dict[str, str]:
    sent = {"X-Request-ID": REQUEST_ID, **headers}
    if credential is not None:
        sent["Authorization"] = f"Bearer {credential}"
    return sent


async def patch(
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    credential: str | None,
    **headers: str,
) -> httpx.Response:
    return await client.patch(path, json=body, headers=bearer(credential, **headers))


async def stored_prompt(db: Database, prompt_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        row = (await conn.execute(select(prompts).where(prompts.c.id == prompt_id))).one()
    return dict(row._mapping)


async def stored_pool(db: Database, pool_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        query = select(guardrail_pools).where(guardrail_pools.c.id == uuid.UUID(pool_id))
        row = (await conn.execute(query)).one()
    return dict(row._mapping)
