"""Rows as the request path reads and writes them: typed, with the tables' columns in
order (db/statements.py checks the order when it compiles a statement)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from db.models import PromptState, PromptType


class PromptRow(NamedTuple):
    id: str
    org_id: uuid.UUID
    owner_id: str
    name: str
    title: str | None
    description: str | None
    type: PromptType
    state: PromptState
    asset_id: str | None
    file_name: str | None
    content: str | None
    model: str | None
    tags: list[str]
    created_at: datetime
    created_by: str
    created_user_name: str | None
    updated_at: datetime
    updated_by: str
    updated_user_name: str | None
    version: int


class PoolRow(NamedTuple):
    id: uuid.UUID
    org_id: uuid.UUID
    brand_id: uuid.UUID
    name: str
    slug: str
    created_at: datetime
    updated_at: datetime
    version: int


class OrganizationRow(NamedTuple):
    id: uuid.UUID
    slug: str
    name: str


class ApiKeyRow(NamedTuple):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    secret_hash: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class IdRow(NamedTuple):
    id: uuid.UUID
