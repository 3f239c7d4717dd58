"""Authentication and scope checks, first in every operation's order of errors."""

from __future__ import annotations

from resolvers.errors import Forbidden, Unauthorized
from resolvers.principal import Principal

PROMPTS_READ = "prompts:read"
PROMPTS_WRITE = "prompts:write"
ADMIN_READ = "org:admin:read"
ADMIN_WRITE = "org:admin:write"
# Free-form documents where only trusted documents run (PATCHBAY_TRUSTED_DOCUMENTS_POLICY=
# enforce): for people in GraphiQL and operators, never for an app's own credentials.
GRAPHQL_FREEFORM = "graphql:freeform"


def authorize(principal: Principal | None, *any_of: str) -> Principal:
    """The principal, if it exists and holds one of the scopes (the first is reported)."""
    if principal is None:
        raise Unauthorized()
    if any_of and principal.scopes.isdisjoint(any_of):
        raise Forbidden("missing required scope", required_scope=any_of[0])
    return principal
