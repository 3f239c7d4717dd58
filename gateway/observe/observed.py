"""What a front tells the observers about a request it answered."""

from __future__ import annotations

from typing import Protocol

from resolvers.principal import Principal

STATE_KEY = "observed"  # scope["state"][STATE_KEY]: the front's Observed, if it made one
# scope["state"][ROUTE_KEY]: "METHOD /path/{template}" of a REST route, for its metrics
ROUTE_KEY = "route"


class Observed(Protocol):
    @property
    def operation(self) -> str | None:
        """The operation's name, as the caller chose it."""

    @property
    def results(self) -> list[str]:
        """The result type of each root field (a union member's name for a failure)."""

    @property
    def authenticated_principal(self) -> Principal | None:
        """Who the credential was, if one was checked and accepted."""
