"""What every resolver gets from the HTTP layer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from db.database import Database
from resolvers.principal import Principal


@dataclass(slots=True)
class Context:
    request_id: str
    db: Database
    prompts_url: str
    authenticate: Callable[[], Awaitable[Principal | None]]
    operation: str | None = None  # the operation's name, for the request's log line
    results: list[str] = field(default_factory=list)  # result type of each root field
    # The gateway's say on whether an operation of this requested cost may run (raises
    # schema.admission.NotAdmitted); None: every operation may.
    admit: Callable[[int], Awaitable[None]] | None = None
    actual_cost: int | None = None  # what ran, once it has (see schema/cost.py)
    gate: Any = None  # the gateway's per-request admission state, opaque to the schema
    changes: Any = None  # the process's ChangeFeed (schema/changes.py), for subscriptions
    connection_params: Any = None  # a WebSocket's connection_init payload (Strawberry sets it)
    # Closes the WebSocket a subscription runs on (code, reason); None over HTTP.
    close: Callable[[int, str], Awaitable[None]] | None = None
    # A subscription found its credential expired or revoked: the WebSocket closes (4403).
    credential_ended: bool = False
    _principal: Principal | None = field(default=None, init=False)
    _authenticated: bool = field(default=False, init=False)

    async def principal(self) -> Principal | None:
        """Authenticate once per request, however many fields ask."""
        if not self._authenticated:
            self._principal = await self.authenticate()
            self._authenticated = True
        return self._principal

    @property
    def authenticated_principal(self) -> Principal | None:
        """The principal if some field authenticated; never triggers authentication."""
        return self._principal
