"""A verified token's claims, turned into a Principal."""

from __future__ import annotations

import uuid
from typing import Any

from db.storable import is_storable
from resolvers.principal import Principal, PrincipalKind

MAX_CLAIM_LENGTH = 255  # the audit columns' width


def principal_from_claims(claims: dict[str, Any], org_claim: str) -> Principal | None:
    subject, org, name = claims.get("sub"), claims.get(org_claim), claims.get("name")
    if not isinstance(subject, str) or not _storable_text(subject) or not isinstance(org, str):
        return None
    if name is not None and not _storable_text(name):
        return None
    return Principal(
        subject=subject,
        org_id=uuid.UUID(org),
        scopes=_scopes(claims),
        name=name,
        kind=PrincipalKind.USER,
    )


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope, scp = claims.get("scope"), claims.get("scp")
    found: set[str] = set()
    if isinstance(scope, str):
        found.update(scope.split())
    if isinstance(scp, str):
        found.update(scp.split())
    elif isinstance(scp, list):
        found.update(s for s in scp if isinstance(s, str))
    return frozenset(found)


def _storable_text(value: Any) -> bool:
    """Claims end up in audit columns: refuse what the database could not store."""
    return isinstance(value, str) and 0 < len(value) <= MAX_CLAIM_LENGTH and is_storable(value)
