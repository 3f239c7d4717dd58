"""Every table of Patchbay, in one place."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, Table, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from db.types import JsonObject, StringList, UTCDateTime


class PromptType(StrEnum):
    ASSET = "ASSET"
    TTS = "TTS"
    URL = "URL"


class PromptState(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = Field(primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(foreign_key="organizations.id", index=True)
    name: str = Field(max_length=200)


class GuardrailPool(SQLModel, table=True):
    __tablename__ = "guardrail_pools"
    __table_args__ = (
        UniqueConstraint("org_id", "slug", name="uq_guardrail_pools_org_slug"),
        Index("ix_guardrail_pools_org_id_id", "org_id", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(foreign_key="organizations.id")
    brand_id: uuid.UUID = Field(foreign_key="brands.id")
    name: str = Field(max_length=100)
    slug: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Moves by one with every write that changes the pool: the guard a client sends back.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


PROMPTS_FILLFACTOR = 90


class Prompt(SQLModel, table=True):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_prompts_org_name"),
        Index("ix_prompts_org_id_id", "org_id", "id"),
        # Updated far more than inserted: room on each page lets an update stay on its page
        # (HOT), without new index entries, from the first update of a freshly loaded page.
        {"postgresql_with": {"fillfactor": PROMPTS_FILLFACTOR}},
    )

    id: str = Field(primary_key=True, max_length=128)
    org_id: uuid.UUID = Field(foreign_key="organizations.id")
    owner_id: str = Field(max_length=255)
    name: str = Field(max_length=100)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    # Plain VARCHAR, not a PostgreSQL ENUM type: adding a value needs no type migration.
    type: PromptType = Field(
        sa_column=Column(SAEnum(PromptType, native_enum=False, length=16), nullable=False)
    )
    state: PromptState = Field(
        sa_column=Column(SAEnum(PromptState, native_enum=False, length=16), nullable=False)
    )
    asset_id: str | None = Field(default=None, max_length=128)
    file_name: str | None = Field(default=None, max_length=255)
    content: str | None = Field(default=None, max_length=20000)
    model: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, sa_column=Column(StringList, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(max_length=255)
    created_user_name: str | None = Field(default=None, max_length=255)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=255)
    updated_user_name: str | None = Field(default=None, max_length=255)
    # Moves by one with every write that changes the prompt: the guard a client sends back.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class Upload(SQLModel, table=True):
    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("org_id", "request_id", name="uq_uploads_org_request"),)

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(foreign_key="organizations.id")
    request_id: str = Field(max_length=128)
    file_name: str = Field(max_length=255)
    asset_id: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(foreign_key="organizations.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True)
    secret_hash: str = Field(max_length=64)  # sha256 hex; the secret itself is never stored
    scopes: list[str] = Field(default_factory=list, sa_column=Column(StringList, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class OrganizationRateLimit(SQLModel, table=True):
    """An organization's own rate limit, in place of the gateway's default."""

    __tablename__ = "organization_rate_limits"

    org_id: uuid.UUID = Field(primary_key=True, foreign_key="organizations.id")
    maximum: float  # points a bucket holds when full
    restore_rate: float  # points per second it refills


class IdempotencyKey(SQLModel, table=True):
    """The stored answer of a mutation sent with an Idempotency-Key, kept for a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key", name="uq_idempotency_keys_principal_key"),
        # Pruning walks this index from the oldest: never the whole table.
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    principal: str = Field(max_length=600)  # kind, organization and subject of the caller
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)  # sha256 of operation, document and variables
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class HistoryEntry(SQLModel, table=True):
    """One write that changed a prompt or a pool: its fields before and after (db/history.py).

    Written by every changing write, in the write's own statement on PostgreSQL: each index
    and constraint here is paid by every update (0006). The key is the entity's version (one
    entry per version) and serves Prompt.history / GuardrailPool.history, newest first; no
    foreign key: org_id is copied from the entity's row, whose own key already checks it."""

    __tablename__ = "history_entries"
    __table_args__ = (
        PrimaryKeyConstraint(
            "org_id", "entity_kind", "entity_id", "version", name="pk_history_entries"
        ),
        # Pruning walks this index from the oldest: never the whole table.
        Index("ix_history_entries_recorded_at", "recorded_at"),
    )

    org_id: uuid.UUID = Field(primary_key=True)
    entity_kind: str = Field(primary_key=True, max_length=32)  # PROMPT or GUARDRAIL_POOL
    entity_id: str = Field(primary_key=True, max_length=128)
    version: int = Field(primary_key=True)  # the entity's version after the write
    # {column: [before, after]} of the columns the write changed
    changes: dict[str, Any] = Field(sa_column=Column(JsonObject, nullable=False))
    actor_subject: str = Field(max_length=255)
    actor_kind: str = Field(max_length=16)
    actor_name: str | None = Field(default=None, max_length=255)
    request_id: str = Field(max_length=128)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


_TABLES = SQLModel.metadata.tables
prompts: Table = _TABLES["prompts"]
guardrail_pools: Table = _TABLES["guardrail_pools"]
organizations: Table = _TABLES["organizations"]
brands: Table = _TABLES["brands"]
uploads: Table = _TABLES["uploads"]
api_keys: Table = _TABLES["api_keys"]
organization_rate_limits: Table = _TABLES["organization_rate_limits"]
idempotency_keys: Table = _TABLES["idempotency_keys"]
history_entries: Table = _TABLES["history_entries"]
