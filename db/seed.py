"""The demo data of the contract, with fixed ids so examples and tests can name them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import brands, guardrail_pools, organizations, prompts, uploads

ACME = uuid.UUID("11111111-1111-4111-8111-111111111111")
GLOBEX = uuid.UUID("22222222-2222-4222-8222-222222222222")
ACME_BRAND = uuid.UUID("a0000000-0000-4000-8000-000000000001")
GLOBEX_BRAND = uuid.UUID("b0000000-0000-4000-8000-000000000001")
ACME_DEFAULT_POOL = uuid.UUID("a1000000-0000-4000-8000-000000000001")
ACME_MARKETING_POOL = uuid.UUID("a1000000-0000-4000-8000-000000000002")
GLOBEX_DEFAULT_POOL = uuid.UUID("b1000000-0000-4000-8000-000000000001")
SEEDED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

ORGANIZATIONS = [
    {"id": ACME, "slug": "acme", "name": "Acme"},
    {"id": GLOBEX, "slug": "globex", "name": "Globex"},
]
BRANDS = [
    {"id": ACME_BRAND, "org_id": ACME, "name": "Acme Retail"},
    {"id": GLOBEX_BRAND, "org_id": GLOBEX, "name": "Globex Corp"},
]
POOLS = [
    {
        "id": ACME_DEFAULT_POOL,
        "org_id": ACME,
        "brand_id": ACME_BRAND,
        "name": "Default",
        "slug": "default",
    },
    {
        "id": ACME_MARKETING_POOL,
        "org_id": ACME,
        "brand_id": ACME_BRAND,
        "name": "Marketing",
        "slug": "marketing",
    },
    {
        "id": GLOBEX_DEFAULT_POOL,
        "org_id": GLOBEX,
        "brand_id": GLOBEX_BRAND,
        "name": "Default",
        "slug": "default",
    },
]
UPLOADS = [
    {
        "id": uuid.UUID("a2000000-0000-4000-8000-000000000001"),
        "org_id": ACME,
        "request_id": "req-welcome-v2",
        "file_name": "welcome-v2.mp3",
        "asset_id": "asset_acme_welcome_v2",
    },
]
USER_NAMES = {"alice": "Alice Archer", "bob": "Bob Baker", "carol": "Carol Chen"}


def _prompt(org_id: uuid.UUID, prompt_id: str, owner: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": prompt_id,
        "org_id": org_id,
        "owner_id": owner,
        "title": None,
        "description": None,
        "asset_id": None,
        "file_name": None,
        "content": None,
        "model": None,
        "tags": [],
        "created_at": SEEDED_AT,
        "created_by": owner,
        "created_user_name": USER_NAMES[owner],
        "updated_at": SEEDED_AT,
        "updated_by": owner,
        "updated_user_name": USER_NAMES[owner],
    }
    return base | fields


PROMPTS = [
    _prompt(
        ACME,
        "prm_acme_welcome",
        "alice",
        name="welcome",
        type="ASSET",
        state="PUBLISHED",
        title="Welcome",
        asset_id="asset_acme_welcome",
        file_name="welcome.mp3",
        tags=["greeting"],
    ),
    _prompt(
        ACME,
        "prm_acme_hold_music",
        "bob",
        name="hold-music",
        type="ASSET",
        state="PUBLISHED",
        title="Hold music",
        asset_id="asset_acme_hold",
        file_name="hold.mp3",
    ),
    _prompt(
        ACME,
        "prm_acme_after_hours",
        "alice",
        name="after-hours",
        type="TTS",
        state="DRAFT",
        title="After hours",
        content="Thanks for calling Acme. We are closed; please call again between 9 and 5.",
        model="tts-standard",
    ),
    _prompt(
        GLOBEX,
        "prm_globex_welcome",
        "carol",
        name="welcome",
        type="ASSET",
        state="PUBLISHED",
        title="Welcome",
        asset_id="asset_globex_welcome",
        file_name="welcome.mp3",
    ),
]


async def seed_demo(conn: AsyncConnection) -> None:
    """Insert the demo rows that are missing; rows already there are left as they are."""
    await _insert_missing(conn, organizations, ORGANIZATIONS)
    await _insert_missing(conn, brands, BRANDS)
    stamp = {"created_at": SEEDED_AT, "updated_at": SEEDED_AT}
    await _insert_missing(conn, guardrail_pools, [row | stamp for row in POOLS])
    await _insert_missing(conn, uploads, [row | {"created_at": SEEDED_AT} for row in UPLOADS])
    await _insert_missing(conn, prompts, PROMPTS)


async def _insert_missing(
    conn: AsyncConnection, table: Table, rows: Iterable[dict[str, Any]]
) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(insert(table).on_conflict_do_nothing(), list(rows))
