"""What each endpoint answers with: the seed pages' shapes, built from database rows.

The pydantic models are the representations' definitions, for the OpenAPI document; the
`*_body` functions build the same JSON as plain data, several times cheaper per request than
building the models (tests/test_rest_representations.py holds the two together).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from db.models import PromptState
from db.rows import PoolRow, PromptRow
from resolvers.ids import path_segment

DOWNLOADABLE = frozenset({PromptState.PUBLISHED, PromptState.ARCHIVED})
AudioType = Literal["asset", "tts", "url"]
AudioState = Literal["draft", "published", "archived"]


# What a response holds and nothing else: the document says so, and a drift test checks it.
EXACT = ConfigDict(extra="forbid")


class Link(BaseModel):
    model_config = EXACT
    href: str = Field(description="Address of the resource.")


def _links(row: PromptRow, prompts_url: str) -> tuple[dict[str, str], dict[str, str] | None]:
    href = f"{prompts_url}/{path_segment(row.id)}"
    download = {"href": f"{href}/download-link"} if row.state in DOWNLOADABLE else None
    return {"href": href}, download


class PromptLinks(BaseModel):
    model_config = ConfigDict(**EXACT, alias_generator=to_camel)
    self: Link = Field(description="Where to fetch this prompt's details.")
    download_link: Link | None = Field(
        description="Where to generate a download link; null unless PUBLISHED or ARCHIVED."
    )


class Prompt(BaseModel):
    """A prompt as `/prompts/{id}` shows it: camelCase, its id as `_id`."""

    model_config = ConfigDict(**EXACT, alias_generator=to_camel)

    id: str = Field(alias="_id", description="Unique id of the prompt.")
    org_id: str = Field(description="Organization that owns the prompt.")
    owner_id: str = Field(description="User who owns the prompt.")
    name: str = Field(description="Name, unique within the organization.")
    title: str | None = Field(description="Display title.")
    description: str | None = Field(description="Free-text description.")
    type: Literal["ASSET", "TTS", "URL"] = Field(description="How the prompt is played.")
    state: Literal["DRAFT", "PUBLISHED", "ARCHIVED"] = Field(description="Lifecycle state.")
    asset_id: str | None = Field(description="Audio asset played, for ASSET prompts.")
    file_name: str | None = Field(description="File name of the audio asset.")
    content: str | None = Field(description="Text content, e.g. for TTS prompts.")
    model: str | None = Field(description="Model that renders the content.")
    tags: list[str] = Field(description="Tags, without duplicates.")
    created_at: datetime = Field(description="When the prompt was created (UTC).")
    created_by: str = Field(description="Subject that created the prompt.")
    created_user_name: str | None = Field(description="Display name of the creator.")
    updated_at: datetime = Field(description="When the prompt last changed (UTC).")
    updated_by: str = Field(description="Subject that last changed the prompt.")
    updated_user_name: str | None = Field(description="Display name of the last changer.")
    links: PromptLinks = Field(description="Related resources.")


def prompt_body(row: PromptRow, prompts_url: str) -> dict[str, Any]:
    self_link, download = _links(row, prompts_url)
    return {
        "_id": row.id,
        "orgId": str(row.org_id),
        "ownerId": row.owner_id,
        "name": row.name,
        "title": row.title,
        "description": row.description,
        "type": row.type.value,
        "state": row.state.value,
        "assetId": row.asset_id,
        "fileName": row.file_name,
        "content": row.content,
        "model": row.model,
        "tags": row.tags,
        "createdAt": row.created_at,
        "createdBy": row.created_by,
        "createdUserName": row.created_user_name,
        "updatedAt": row.updated_at,
        "updatedBy": row.updated_by,
        "updatedUserName": row.updated_user_name,
        "links": {"self": self_link, "downloadLink": download},
    }


class HalLinks(BaseModel):
    model_config = EXACT
    self: Link = Field(description="Where to fetch the details of the prompt.")
    download_link: Link | None = Field(
        None,
        exclude_if=lambda link: link is None,
        description="Where to generate a download link; only when published or archived.",
    )


class AudioPrompt(BaseModel):
    """A prompt as `/v1/prompts/{id}` shows it: snake_case, the type in lower case, HAL links."""

    model_config = EXACT

    id: str = Field(description="The ID of the prompt.")
    name: str = Field(description="The prompt name.")
    description: str | None = Field(description="The prompt description.")
    type: AudioType = Field(description="The prompt type.")
    state: AudioState = Field(description="Lifecycle state.")
    asset_id: str | None = Field(description="Asset ID.")
    file_name: str | None = Field(description="File name of the audio asset.")
    created_at: datetime = Field(description="When the prompt was created (UTC).")
    created_by: str = Field(description="The user who created the prompt.")
    created_user_name: str | None = Field(description="Username of the creator.")
    updated_at: datetime = Field(description="When the prompt was updated (UTC).")
    updated_by: str = Field(description="The user who updated the prompt.")
    updated_user_name: str | None = Field(description="Username of whoever updated it.")
    links: HalLinks = Field(alias="_links", description="HAL links.")


def audio_prompt_body(row: PromptRow, prompts_url: str) -> dict[str, Any]:
    self_link, download = _links(row, prompts_url)
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "type": row.type.value.lower(),
        "state": row.state.value.lower(),
        "asset_id": row.asset_id,
        "file_name": row.file_name,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "created_user_name": row.created_user_name,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
        "updated_user_name": row.updated_user_name,
        # HAL: a link that does not apply is left out
        "_links": {"self": self_link, "download_link": download}
        if download
        else {"self": self_link},
    }


class GuardrailPool(BaseModel):
    model_config = EXACT

    id: str = Field(description="Unique id; a rename never changes it.")
    org_id: str = Field(description="Organization that owns the pool.")
    brand_id: str = Field(description="Brand of the pool; immutable.")
    name: str = Field(description="Display name.")
    slug: str = Field(description="URL-safe key, unique within the organization.")
    created_at: datetime = Field(description="When the pool was created (UTC).")
    updated_at: datetime = Field(description="When the pool last changed (UTC).")


class GuardrailPoolEnvelope(BaseModel):
    """`{"success": true, "data": pool}`, as the pool API wraps every answer."""

    model_config = EXACT

    success: Literal[True] = Field(description="Always true for a pool.")
    data: GuardrailPool = Field(description="The pool.")


def pool_body(row: PoolRow, _prompts_url: str = "") -> dict[str, Any]:
    return {
        "success": True,
        "data": {
            "id": str(row.id),
            "org_id": str(row.org_id),
            "brand_id": str(row.brand_id),
            "name": row.name,
            "slug": row.slug,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        },
    }
