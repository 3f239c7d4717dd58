"""The three resources of the seed pages: each its path, body, representation and error
dialect, and the resolver functions it runs (the very ones the GraphQL fields run)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from db.database import Database
from db.rows import PoolRow, PromptRow
from db.seed import ACME_DEFAULT_POOL
from gateway.rest.bodies import AudioPromptBody, Body, PoolBody, PromptBody
from gateway.rest.dialects import CamelCaseErrors, Dialect, EnvelopeErrors, SnakeCaseErrors
from gateway.rest.representations import (
    AudioPrompt,
    GuardrailPoolEnvelope,
    Prompt,
    audio_prompt_body,
    pool_body,
    prompt_body,
)
from resolvers import access, guardrail_pools, prompts
from resolvers.errors import FieldIssue
from resolvers.patches import Patch, PoolPatch, PromptPatch
from resolvers.pool_rules import check_pool_patch
from resolvers.principal import Principal
from resolvers.prompt_rules import check_prompt_patch
from resolvers.update_guardrail_pool import update_guardrail_pool
from resolvers.update_prompt import update_prompt

Row = TypeVar("Row", PromptRow, PoolRow)
Row_co = TypeVar("Row_co", PromptRow, PoolRow, covariant=True)


class Reader(Protocol[Row_co]):
    def __call__(
        self, *, db: Database, principal: Principal | None, raw_id: str
    ) -> Awaitable[Row_co]: ...


class Updater(Protocol[Row_co]):
    def __call__(
        self, *, db: Database, principal: Principal | None, raw_id: str, patch: Any
    ) -> Awaitable[Row_co]: ...


@dataclass(frozen=True)
class Resource(Generic[Row]):
    path: str
    noun: str  # operation ids: get<noun>, update<noun>
    summary: str  # the seed page's title
    description: str
    read_scopes: tuple[str, ...]  # documented; the resolvers enforce them
    write_scope: str
    body: type[Body]
    patch: type[Patch]
    check: Callable[[Any], tuple[dict[str, Any], list[FieldIssue]]]  # the resolvers' rules
    read: Reader[Row]
    update: Updater[Row]
    representation: type[BaseModel]
    present: Callable[[Row, str], dict[str, Any]]  # (row, prompts URL): the JSON data
    dialect: Dialect
    has_owner: bool  # a user may change only what they own (403)
    example_id: str  # of the demo data (`patchbay seed`), for the document's examples


PROMPT = Resource[PromptRow](
    path="/prompts/{id}",
    noun="Prompt",
    summary="Update a prompt by ID",
    description="Only the fields in the body change; a user may update only prompts they own "
    "(an API key acts for its whole organization).",
    read_scopes=(access.PROMPTS_READ, access.PROMPTS_WRITE),
    write_scope=access.PROMPTS_WRITE,
    body=PromptBody,
    patch=PromptPatch,
    check=check_prompt_patch,
    read=prompts.get_prompt,
    update=update_prompt,
    representation=Prompt,
    present=prompt_body,
    dialect=CamelCaseErrors(),
    has_owner=True,
    example_id="prm_acme_after_hours",
)
AUDIO_PROMPT = Resource[PromptRow](
    path="/v1/prompts/{id}",
    noun="AudioPrompt",
    summary="Update a Prompt",
    description="Renames an audio prompt, changes its description, or attaches the audio "
    "uploaded under `request_id`.",
    read_scopes=(access.PROMPTS_READ, access.PROMPTS_WRITE),
    write_scope=access.PROMPTS_WRITE,
    body=AudioPromptBody,
    patch=PromptPatch,
    check=check_prompt_patch,
    read=prompts.get_prompt,
    update=update_prompt,
    representation=AudioPrompt,
    present=audio_prompt_body,
    dialect=SnakeCaseErrors(),
    has_owner=True,
    example_id="prm_acme_welcome",
)
GUARDRAIL_POOL = Resource[PoolRow](
    path="/v1/guardrails/pools/{id}",
    noun="GuardrailPool",
    summary="Update a guardrail pool",
    description="Edits a pool's name and/or slug; an absent field is left unchanged. The "
    "pool's brand is immutable. A slug that collides with another pool returns 409 CONFLICT. "
    "Unknown ids, or ids of another organization, return 404 NOT_FOUND. Authenticate with "
    "`Authorization: Bearer am_live_...` (an API key) or a JWT.",
    read_scopes=(access.ADMIN_READ, access.ADMIN_WRITE),
    write_scope=access.ADMIN_WRITE,
    body=PoolBody,
    patch=PoolPatch,
    check=check_pool_patch,
    read=guardrail_pools.get_pool,
    update=update_guardrail_pool,
    representation=GuardrailPoolEnvelope,
    present=pool_body,
    dialect=EnvelopeErrors(),
    has_owner=False,
    example_id=str(ACME_DEFAULT_POOL),
)
RESOURCES: tuple[Resource[Any], ...] = (PROMPT, AUDIO_PROMPT, GUARDRAIL_POOL)
