"""GET and PATCH of a resource: HTTP in, the resolvers' read and update, HTTP out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from db.database import Database
from db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from gateway.authorization import authorization_header
from gateway.http.idempotency_key import KEY, idempotency_key
from gateway.http.request_body import header
from gateway.http.request_id import current_request_id
from gateway.identity.authenticator import Authenticator
from gateway.observe.observed import ROUTE_KEY, STATE_KEY
from gateway.rest.bodies import BodyInvalid, sent_fields
from gateway.rest.exchange import NO_VERSION, etag, json_object, not_modified, versions
from gateway.rest.failures import Failure, Refused, failure_of
from gateway.rest.idempotency import KeyRefused, RestIdempotency
from gateway.rest.observation import Observation
from gateway.rest.paths import IdRoute
from gateway.rest.resources import Resource
from gateway.throttle.throttle import Charge, Throttle
from resolvers.access import authorize
from resolvers.errors import DomainError, ValidationFailed
from resolvers.principal import Principal

JSON = "application/json"
EXPECTED = (Refused, DomainError, DatabaseUnavailable, WriteOutcomeUnknown)
# What a request costs against its client's rate limit, as the same operation would over
# GraphQL: an update is a mutation field (10) and its object (1), a read its object.
WRITE_COST, READ_COST = 11, 1


class Endpoints:
    """The routes of every resource, bound to the app's database and authenticator."""

    def __init__(
        self,
        *,
        db: Database,
        authenticator: Authenticator,
        prompts_url: str,
        throttle: Throttle | None = None,
        idempotency_ttl_seconds: float = 86_400.0,
    ) -> None:
        self.db = db
        self.authenticator = authenticator
        self.prompts_url = prompts_url
        self.throttle = throttle
        self.idempotency = RestIdempotency(db=db, ttl_seconds=idempotency_ttl_seconds)

    def route(self, resource: Resource[Any]) -> IdRoute:
        # (operation id, route label) of each method, for the access line and the metrics
        labels = {
            True: (f"update{resource.noun}", f"PATCH {resource.path}"),
            False: (f"get{resource.noun}", f"GET {resource.path}"),
        }

        async def endpoint(request: Request) -> Response:
            writing = request.method == "PATCH"
            operation, route = labels[writing]
            observed = Observation(operation)
            state = request.scope.setdefault("state", {})
            state[STATE_KEY], state[ROUTE_KEY] = observed, route
            charge = await self._charge(request, observed, WRITE_COST if writing else READ_COST)
            if charge is not None and not charge.admitted:
                if self.throttle is not None:
                    await self.throttle.hold(charge)
                return self._throttled(resource, request, observed, charge)
            key = idempotency_key(request.scope) if writing else None
            if key is not None:
                response = await self._idempotent(resource, request, observed, key)
            else:
                response = await self.answer(resource, request, observed, writing=writing)
            if charge is not None:
                response.raw_headers += charge.headers()
            return response

        return IdRoute(resource.path, endpoint, methods=["GET", "PATCH"], name=resource.noun)

    async def answer(
        self, resource: Resource[Any], request: Request, observed: Observation, *, writing: bool
    ) -> Response:
        try:
            principal = await self._principal(request, observed)
            if writing:
                row = await self._update(resource, request, principal)
            else:
                row = await resource.read(
                    db=self.db, principal=principal, raw_id=request.path_params["id"]
                )
        except EXPECTED as error:
            failure = error.failure if isinstance(error, Refused) else failure_of(error)
            assert failure is not None
            observed.results.append(failure.code)
            return self._failed(resource, request, failure)
        observed.results.append(resource.representation.__name__)
        tag = etag(row.updated_at)
        if not writing and not_modified(header(request, b"if-none-match"), tag):
            return Response(status_code=304, headers={"etag": tag})
        body = orjson.dumps(resource.present(row, self.prompts_url), option=orjson.OPT_UTC_Z)
        return _Representation(body, tag)

    async def _idempotent(
        self, resource: Resource[Any], request: Request, observed: Observation, key: str
    ) -> Response:
        """A PATCH with an Idempotency-Key: answered once per key (gateway/rest/idempotency.py)."""
        principal = await self._principal(request, observed)
        if principal is None:  # a key is the caller's: without one, it is a 401 first
            return await self.answer(resource, request, observed, writing=True)
        if not KEY.fullmatch(key):
            message = "Idempotency-Key must be 1-255 visible ASCII characters"
            return self._failed(resource, request, Failure(400, "IDEMPOTENCY_KEY_INVALID", message))
        try:
            return await self.idempotency.answer(
                request,
                principal,
                key,
                lambda: self.answer(resource, request, observed, writing=True),
            )
        except KeyRefused as refused:
            observed.results.append(refused.code)
            failure = Failure(refused.status, refused.code, refused.message)
            return self._failed(resource, request, failure)
        except DatabaseUnavailable as error:  # claiming the key, or reading the kept answer
            unavailable = failure_of(error)
            assert unavailable is not None
            return self._failed(resource, request, unavailable)

    async def _charge(self, request: Request, observed: Observation, cost: int) -> Charge | None:
        """The rate limit's charge, the same buckets as GraphQL's (None: no limit)."""
        if self.throttle is None:
            return None
        principal = await self._principal(request, observed)
        address = request.client.host if request.client else None
        refused = self.throttle.refusing(principal, address)
        return refused or await self.throttle.charge(principal, address, cost)

    def _throttled(
        self, resource: Resource[Any], request: Request, observed: Observation, charge: Charge
    ) -> Response:
        if charge.unavailable:
            failure = Failure(503, "RATE_LIMIT_UNAVAILABLE", "the rate limiter cannot be reached")
        else:
            failure = Failure(429, "THROTTLED", "this client is over its rate limit")
        observed.results.append(failure.code)
        response = self._failed(resource, request, failure)  # a 503 has its Retry-After
        throttled = failure.status == 429
        response.raw_headers += [h for h in charge.headers() if throttled or h[0] != b"retry-after"]
        return response

    async def _principal(self, request: Request, observed: Observation) -> Principal | None:
        """Authenticated once per request (the rate limit asks first, then the endpoint)."""
        if observed.authenticated is not None:
            return observed.authenticated_principal
        header = authorization_header(request.scope["headers"])
        principal = await self.authenticator.authenticate(header)
        observed.authenticated_principal, observed.authenticated = principal, True
        return principal

    async def _update(
        self, resource: Resource[Any], request: Request, principal: Principal | None
    ) -> Any:
        try:
            data = await json_object(request)
        except Refused:
            # 401 and 403 come before what is wrong with the body (415 or 400), as they do
            # for a body of the wrong shape below
            authorize(principal, resource.write_scope)
            raise
        raw_id = request.path_params["id"]
        try:
            fields = sent_fields(resource.body, data)
        except BodyInvalid as invalid:
            # The contract's order holds for a body of the wrong shape too: 401, 403, 400,
            # with the rules' verdict on the well-typed fields beside the shape's.
            authorize(principal, resource.write_scope)
            _, issues = resource.check(resource.patch(**invalid.rest.sent()))
            raise ValidationFailed(invalid.issues + issues) from None
        expected = await self._expected(resource, request, principal, raw_id, fields)
        if expected is not None:
            fields["expected_updated_at"] = expected
        return await resource.update(
            db=self.db, principal=principal, raw_id=raw_id, patch=resource.patch(**fields)
        )

    async def _expected(
        self,
        resource: Resource[Any],
        request: Request,
        principal: Principal | None,
        raw_id: str,
        fields: dict[str, Any],
    ) -> datetime | None:
        """The version If-Match requires; the resolvers' guard then checks it in the write."""
        accepted = versions(header(request, b"if-match"))
        if accepted is None or len(accepted) == 1:
            return accepted[0] if accepted else None
        # Several ETags: whichever is current is the one to guard against. Reading it must
        # not put 404 before what the write itself answers first (401, 403, 400).
        authorize(principal, resource.write_scope)
        _, issues = resource.check(resource.patch(**fields))
        if issues:
            raise ValidationFailed(issues)
        current = await resource.read(db=self.db, principal=principal, raw_id=raw_id)
        return current.updated_at if current.updated_at in accepted else NO_VERSION

    def _failed(self, resource: Resource[Any], request: Request, failure: Failure) -> Response:
        body = resource.dialect.render(failure, current_request_id(request.scope))
        headers = {}
        if failure.status == 401:
            headers["www-authenticate"] = "Bearer"
        elif failure.status == 503:
            headers["retry-after"] = "1"
        return _json(body, failure.status, headers)


class _Representation(Response):
    """A 200 with the resource and its ETag: the headers Response(body, 200, {"etag": tag},
    media_type=JSON) makes, in that order, without its general header building (~2 µs)."""

    media_type = JSON

    def __init__(self, body: bytes, tag: str) -> None:
        self.status_code = 200
        self.body = body
        self.background = None
        self.raw_headers = [
            (b"etag", tag.encode("latin-1")),
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]


def _json(body: BaseModel, status: int, headers: dict[str, str]) -> Response:
    return Response(body.model_dump_json(by_alias=True), status, headers, media_type=JSON)
