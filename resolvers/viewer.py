"""Who the credential says the caller is."""

from __future__ import annotations

from db.database import Database
from db.organizations import fetch_organization
from db.rows import OrganizationRow
from resolvers.access import authorize
from resolvers.errors import Unauthorized
from resolvers.principal import Principal


async def get_viewer(
    *, db: Database, principal: Principal | None
) -> tuple[Principal, OrganizationRow]:
    caller = authorize(principal)
    async with db.read() as conn:
        organization = await fetch_organization(conn, org_id=caller.org_id)
    if organization is None:  # a validly signed token for an organization we do not have
        raise Unauthorized()
    return caller, organization
