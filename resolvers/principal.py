"""Who is calling: the one shape both JWTs and API keys authenticate to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from db.history import Actor


class PrincipalKind(StrEnum):
    USER = "USER"
    API_KEY = "API_KEY"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    org_id: uuid.UUID
    scopes: frozenset[str]
    name: str | None
    kind: PrincipalKind
    # Kind, organization and subject: what scopes a caller's own records (its idempotency
    # keys) and keys its rate-limit bucket, the same for every front. Made once: the
    # authenticator hands out one Principal per credential, and the limit reads it per request.
    scope_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = f"{self.kind.value}:{self.org_id}:{self.subject}"
        object.__setattr__(self, "scope_key", key)  # frozen: set once, here

    @property
    def acts_for_whole_org(self) -> bool:
        return self.kind is PrincipalKind.API_KEY


def actor_of(principal: Principal) -> Actor:
    """Who a history entry names as the writer."""
    # (subject, kind, name), made directly: Actor's own __new__ is a Python frame, and its
    # keywords cost more (~0.3 µs a write in all)
    return tuple.__new__(Actor, (principal.subject, principal.kind.value, principal.name))
