"""The Mutation root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from schema.context import Context
from schema.update_guardrail_pool import update_guardrail_pool, update_guardrail_pool_result
from schema.update_prompt import update_prompt, update_prompt_result


@strawberry.type(description="Updates. Every documented failure is a member of the result union.")
class Mutation:
    update_prompt = strawberry.mutation(
        resolver=update_prompt,
        description="Change some fields of a prompt (PATCH). Needs prompts:write; a user may "
        "update only prompts they own, an API key any prompt of its organization.",
    )
    update_guardrail_pool = strawberry.mutation(
        resolver=update_guardrail_pool,
        description="Rename a guardrail pool or change its slug. Needs org:admin:write.",
    )


# Root fields the gateway's fast path may run directly, by GraphQL name: (context, the
# field's coerced arguments) -> the same result object the Strawberry resolver returns.
FAST_ROOT_FIELDS: dict[str, Callable[[Context, dict[str, Any]], Awaitable[object]]] = {
    "updatePrompt": lambda ctx, args: update_prompt_result(ctx, args["id"], args["input"]),
    "updateGuardrailPool": lambda ctx, args: update_guardrail_pool_result(
        ctx, args["id"], args["input"]
    ),
}
