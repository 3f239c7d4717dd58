"""Who a client is for the rate limit, and how large its bucket is."""

from __future__ import annotations

from typing import NamedTuple

from resolvers.principal import Principal


class Limit(NamedTuple):  # a tuple: hashed in C (it keys leases and cached headers)
    maximum: float  # points the bucket holds when full
    restore_rate: float  # points per second it refills

    @property
    def seconds_to_fill(self) -> float:
        return self.maximum / self.restore_rate if self.restore_rate > 0 else 0.0


def client_key(principal: Principal | None, address: str | None) -> str:
    """One bucket per API key, per user of an organization (the principal's `scope_key`),
    or per address when the request carries no valid credential."""
    return principal.scope_key if principal is not None else f"anonymous:{address or '-'}"
