"""The Mutation root."""

from __future__ import annotations

from functools import partial

import strawberry

from schema.planned.plan import RootBody
from schema.update_guardrail_pool import update_guardrail_pool, update_guardrail_pool_body
from schema.update_guardrail_pools import update_guardrail_pools, update_guardrail_pools_body
from schema.update_prompt import update_prompt, update_prompt_body
from schema.update_prompts import update_prompts, update_prompts_body


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
    update_prompts = strawberry.mutation(
        resolver=update_prompts,
        description="Up to 100 updatePrompt in one request and one transaction, with a result "
        "per item. Needs prompts:write (checked once); each item is checked as updatePrompt.",
    )
    update_guardrail_pools = strawberry.mutation(
        resolver=update_guardrail_pools,
        description="Up to 100 updateGuardrailPool in one request and one transaction, with a "
        "result per item. Needs org:admin:write.",
    )


# Mutation root fields the planned executor may run, by GraphQL name (see schema/roots.py).
MUTATION_BODIES: dict[str, RootBody] = {
    "updatePrompt": partial(update_prompt_body, records=True),  # a PromptRecord: see the body
    "updateGuardrailPool": update_guardrail_pool_body,
    "updatePrompts": update_prompts_body,
    "updateGuardrailPools": update_guardrail_pools_body,
}
