"""Viewer: who the credential says the caller is."""

from __future__ import annotations

import strawberry

from db.rows import OrganizationRow
from resolvers.principal import Principal
from resolvers.principal import PrincipalKind as PrincipalKindValue

PrincipalKind = strawberry.enum(
    PrincipalKindValue, name="PrincipalKind", description="What kind of credential was used."
)


@strawberry.type(description="A tenant: every object belongs to exactly one.")
class Organization:
    id: strawberry.ID = strawberry.field(description="Unique id.")
    slug: str = strawberry.field(description="Short unique key.")
    name: str = strawberry.field(description="Display name.")


@strawberry.type(description="The authenticated caller.")
class Viewer:
    subject: str = strawberry.field(description="User id, or the API key's prefix.")
    kind: PrincipalKindValue = strawberry.field(description="USER (a JWT) or API_KEY.")
    name: str | None = strawberry.field(description="Display name, when the credential has one.")
    scopes: list[str] = strawberry.field(description="Scopes granted to the credential.")
    organization: Organization = strawberry.field(description="The caller's organization.")

    @classmethod
    def from_principal(cls, principal: Principal, org: OrganizationRow) -> Viewer:
        return cls(
            subject=principal.subject,
            kind=principal.kind,
            name=principal.name,
            scopes=sorted(principal.scopes),
            organization=Organization(id=strawberry.ID(str(org.id)), slug=org.slug, name=org.name),
        )
