"""Who a client is for the rate limit, and how large its bucket is."""

from __future__ import annotations

from typing import NamedTuple

from resolvers.principal import Principal, PrincipalKind


class Limit(NamedTuple):  # a tuple: hashed in C (it keys leases and cached headers)
    maximum: float  # points the bucket holds when full
    restore_rate: float  # points per second it refills

    @property
    def seconds_to_fill(self) -> float:
        return self.maximum / self.restore_rate if self.restore_rate > 0 else 0.0


def client_key(principal: Principal | None, address: str | None) -> str:
    """One bucket per API key, per user of an organization, or per address when the
    request carries no valid credential."""
    if principal is None:
        return f"anonymous:{address or '-'}"
    # By identity: the authenticator hands out one Principal per credential, and hashing
    # one (a dataclass holding a UUID) cost three Python calls a request
    kept = _KEYS.get(id(principal))
    if kept is not None and kept[0] is principal:
        return kept[1]
    key = _principal_key(principal)
    if len(_KEYS) >= MAX_KEPT_KEYS:
        _KEYS.clear()
    _KEYS[id(principal)] = (principal, key)  # held: its id cannot be reused while kept
    return key


MAX_KEPT_KEYS = 4096
_KEYS: dict[int, tuple[Principal, str]] = {}


def _principal_key(principal: Principal) -> str:
    if principal.kind is PrincipalKind.API_KEY:
        return f"key:{principal.subject}"
    return f"user:{principal.org_id}:{principal.subject}"
