"""After each response: its access line and, for the observed paths, its metrics."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Scope

from gateway.observe import access_log
from gateway.observe.metrics import RequestMetrics
from gateway.observe.observed import ROUTE_KEY, STATE_KEY


class RequestObserver:
    def __init__(
        self,
        metrics: RequestMetrics | None,
        *,
        metered_paths: frozenset[str],
        trace_id: Callable[[], str | None] | None = None,
    ) -> None:
        self.metrics = metrics
        self.metered_paths = metered_paths
        self.trace_id = trace_id  # None while tracing is off: no call at all then

    def finished(self, scope: Scope, status: int, seconds: float) -> None:
        state = scope.get("state", {})
        observed = state.get(STATE_KEY)
        route = state.get(ROUTE_KEY)
        if self.metrics is not None and route is not None:
            self.metrics.observe_route(route, status, seconds)
        elif self.metrics is not None and scope["path"] in self.metered_paths:
            if observed is None:
                self.metrics.observe(None, None, status, seconds)
            else:
                self.metrics.observe(observed.operation, observed.results, status, seconds)
        if access_log.enabled():
            access_log.write(
                request_id=state.get("request_id", "-"),
                method=scope["method"],
                path=scope["path"],
                status=status,
                seconds=seconds,
                context=observed,
                trace_id=self.trace_id() if self.trace_id is not None else None,
            )
