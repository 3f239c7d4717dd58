"""Which operations run, for whom and at what cost: trusted documents, the operation-cost
cap, the rate limit, and the cost each response reports (Shopify's `extensions.cost`).

`Admission` is built once per app; each request that runs GraphQL gets a `Gate`, whose
`admit` the schema calls with the operation's requested cost once the document is valid
(schema/admission.py), and which the view settles after execution.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Send

from gateway.throttle.throttle import Charge, Throttle, bucket_headers
from resolvers.principal import Principal
from schema.admission import NotAdmitted

PARSE_CHARS_PER_POINT = 1000  # a document never seen before: a point per 1,000 characters
THROTTLED = "THROTTLED"
TOO_COSTLY = "OPERATION_TOO_COSTLY"
LIMITER_UNAVAILABLE = "RATE_LIMIT_UNAVAILABLE"


@dataclass(frozen=True)
class Admission:
    report_cost: bool  # extensions.cost on every response
    max_cost: int | None
    throttle: Throttle | None
    on_throttled: Callable[[], None] = lambda: None

    @property
    def active(self) -> bool:
        return self.report_cost or self.max_cost is not None or self.throttle is not None

    def gate(
        self, principal: Callable[[], Awaitable[Principal | None]], address: str | None
    ) -> Gate:
        # Only the rate limit asks who the client is: without it the gate keeps no
        # reference to the context (which holds the gate), so no cycle is left to the
        # collector even when the response is not wrapped.
        return Gate(self, principal if self.throttle is not None else _no_client, address)


@dataclass(slots=True)
class Gate:
    admission: Admission
    principal: Callable[[], Awaitable[Principal | None]]
    address: str | None
    requested: int | None = None
    actual: int | None = None
    charge: Charge | None = None
    status: int | None = None  # the response's status when a refusal sets it
    admitted: bool = False  # the operation was admitted (and charged) once
    keep: bool = False  # nothing given back (a subscription over SSE: what it delivers is open)
    settled: bool = field(default=False)
    unwrapped: Send | None = None  # the send `wrap` wrapped

    async def refusing(self) -> NotAdmitted | None:
        """A client refused a moment ago, with nothing in its bucket yet: answered before
        its body is even decoded."""
        throttle = self.admission.throttle
        if throttle is None or not throttle.refuses_some:
            return None
        refused = throttle.refusing(await self.principal(), self.address)
        return self._refusal(refused) if refused is not None else None

    async def before_parsing(self, query: str, known: bool) -> NotAdmitted | None:
        """A client out of points is refused before its document is even parsed; a
        document that is not known to be valid costs its parsing (a point per 1,000
        characters), refused ones each time they come back; one too long for the client's
        whole bucket is refused and empties the bucket."""
        throttle = self.admission.throttle
        if throttle is None:
            return None
        if throttle.refuses_some:
            refused = throttle.refusing(await self.principal(), self.address)
            if refused is not None:
                return self._refusal(refused)
        if known:
            return None
        points = math.ceil(len(query) / PARSE_CHARS_PER_POINT)
        charge = await throttle.charge(await self.principal(), self.address, points, drain=True)
        if not charge.admitted:
            return self._refusal(charge)
        self.charge = charge
        return None

    async def admit(self, requested: int) -> None:
        """Raises NotAdmitted when the operation may not run; charges the client if so.
        Once per request: a planned document whose variables Strawberry must refuse comes
        through here a second time, and is not charged twice."""
        if self.admitted:
            return
        self.requested = requested
        limit = self.admission.max_cost
        if limit is not None and requested > limit:
            self.status = 400
            raise NotAdmitted(
                TOO_COSTLY,
                f"The operation's cost, {requested}, is over the limit of {limit}",
                400,
                {"cost": self.cost(0), "maximumCost": limit},
            )
        throttle = self.admission.throttle
        if throttle is None:
            self.admitted = True
            return
        principal, cost = await self.principal(), max(1, requested)
        charge = throttle.charge_at_once(principal, self.address, cost) or await throttle.charge(
            principal, self.address, cost
        )
        if not charge.admitted:
            raise self._refusal(charge)
        self.charge, self.admitted = charge, True

    def _refusal(self, charge: Charge) -> NotAdmitted:
        self.charge = charge
        if charge.unavailable:
            self.status = 503
            return NotAdmitted(
                LIMITER_UNAVAILABLE,
                "The rate limiter cannot be reached; retry shortly",
                503,
                {"cost": self.cost(0)},
            )
        self.admission.on_throttled()
        self.status = 429
        too_big = math.isinf(charge.retry_after)
        return NotAdmitted(
            THROTTLED,
            "The operation costs more than this client's whole budget"
            if too_big
            else "Throttled: this client is over its rate limit; retry after "
            f"{max(1, math.ceil(charge.retry_after))} s",
            429,
            {"cost": self.cost(0)},
        )

    def cost(self, actual: int | None) -> dict[str, Any]:
        """Shopify's shape: requested and actual cost, and the bucket when limits are on."""
        requested = self.requested
        if actual is not None and requested is not None and actual > requested:
            actual = requested  # a list without `first` is costed once
        self.actual = actual
        found: dict[str, Any] = {
            "requestedQueryCost": requested or 0,
            "actualQueryCost": actual or 0,
        }
        charge = self.charge
        if charge is not None:
            limit, available = charge.limit, charge.available
            if charge.admitted and requested and (actual or 0) < requested:
                available += requested - (actual or 0)  # the refund, given back as it leaves
            found["throttleStatus"] = {
                "maximumAvailable": limit.maximum,
                "currentlyAvailable": math.floor(min(limit.maximum, available)),
                "restoreRate": limit.restore_rate,
            }
        return found

    async def settle(self) -> None:
        """Gives back what the operation did not use, once."""
        unused = self._settling()
        if unused > 0:
            await self._give_back(unused)

    async def close_out(self) -> None:
        """Settled, and a throttled client held (its next refusals cost nothing)."""
        await self.settle()
        await self._hold()

    def _settling(self) -> int:
        """Marks the gate settled: the points to give back (0: none, or settled before)."""
        if self.settled:
            return 0
        self.settled = True
        if self.charge is None or self.requested is None or self.keep:
            return 0
        return max(1, self.requested) - max(1, self.actual or 0)

    async def _give_back(self, unused: int) -> None:
        throttle, charge = self.admission.throttle, self.charge
        if throttle is not None and charge is not None:
            await throttle.give_back(charge, unused)

    async def _hold(self) -> None:
        throttle = self.admission.throttle
        if self.status == 429 and throttle is not None and self.charge is not None:
            await throttle.hold(self.charge)

    async def answer(self, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """What `wrap`'s wrapper does to a whole response, for one sent through `unwrapped`:
        settled first, then the response with the RateLimit headers."""
        charge, send = self.charge, self.unwrapped
        assert send is not None  # answered only through a wrapper's send
        if charge is not None:  # admitted (refusals raise): what Charge.headers gives then
            unused = self._settling()  # without a charge there is nothing to give back
            if unused > 0:
                await self._give_back(unused)
            headers += bucket_headers(charge.limit, charge.available)
        status = 200 if self.status is None else self.status  # set by refusals, which raise
        await send({"type": "http.response.start", "status": status, "headers": headers})
        self.principal, self.unwrapped = _request_ended, None  # as `_sending` does, and why
        await send({"type": "http.response.body", "body": body})

    def wrap(self, send: Send) -> Send:
        """The response with the refusal's status and the RateLimit headers, settled first:
        a method of the gate, so that an answer can tell it is its send without the gate
        holding it (a cycle), and go through `answer`, a call less per message."""
        self.unwrapped = send
        return self._sending

    async def _sending(self, message: Message) -> None:
        send = self.unwrapped
        assert send is not None  # set by `wrap`, which hands this method out
        if message["type"] == "http.response.start":
            # close_out, without its awaits for a response with nothing to give back
            unused = self._settling()
            if unused > 0:
                await self._give_back(unused)
            if self.status == 429:
                await self._hold()
            charge, status = self.charge, self.status
            if charge is not None:
                headers = [*message.get("headers", ()), *charge.headers()]
                message = {**message, "headers": headers}
            if status is not None:
                message = {**message, "status": status}
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            # The context holds this gate and `principal` is the context's: a cycle,
            # which only the cycle collector would free (its collections then walked
            # every request in flight, ~10 us a request). Nothing asks once it has ended.
            # So with the send it wraps: a server's (uvicorn's) holds the scope, which holds
            # the context.
            self.principal, self.unwrapped = _request_ended, None
        await send(message)


async def _no_client() -> Principal | None:
    raise RuntimeError("without a rate limit the gate asks no one who the client is")


async def _request_ended() -> Principal | None:
    raise RuntimeError("the request has ended: its gate asks no one who the client is")
