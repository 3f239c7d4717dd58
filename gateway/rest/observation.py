"""What the REST front tells the access line and the metrics about a request it answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.principal import Principal


@dataclass(slots=True)
class Observation:
    operation: str  # the OpenAPI operationId, e.g. updateAudioPrompt
    results: list[str] = field(default_factory=list)  # the representation, or the error code
    authenticated_principal: Principal | None = None
    authenticated: bool | None = None  # True once the credential was checked (even if refused)
