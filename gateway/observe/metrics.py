"""Prometheus metrics: GraphQL requests by operation and result type, REST requests by route
and status, and the database pool.

Each app has its own registry (tests and several apps in one process stay independent). The
request middleware calls `RequestMetrics.observe` once per request; label children are kept
in a dict, so the hot path is a dict lookup, a histogram observation and one increment per
root field. The pool is read only when `/metrics` is scraped.

With several worker processes, counts must be summed over the processes: `patchbay serve
--workers N` sets PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) before the
workers start, and every worker's `/metrics` then answers with the totals of all workers. The
pool gauges are the one exception: they describe the answering worker's own pool and carry
its `pid`.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Receive, Scope, Send

from db.database import Database
from gateway.authorization import authorization_header

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
# Label values that are never GraphQL names, so a client cannot collide with them.
ANONYMOUS = "(anonymous)"  # an operation without a name
OTHER = "(other)"  # a name past the cap, or not a GraphQL name
NO_GRAPHQL = "(none)"  # the request never reached GraphQL: its result is "(http STATUS)"
NO_RESULT = "(none)"  # GraphQL answered 200 with no root field result (top-level errors)
MIXED = "(mixed)"  # the root fields answered with different types
MAX_OPERATION_NAMES = 100  # operation names are chosen by callers: bounded label cardinality
GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


def multiprocess_mode() -> bool:
    """The mode prometheus_client chose from PROMETHEUS_MULTIPROC_DIR when it was imported."""
    return values.ValueClass is not values.MutexValue  # the one single-process value class


class RequestMetrics:
    """The per-request metrics, with their label children cached."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        labels = ("operation", "result")
        # The histogram's `_count` is the request count: no second counter to keep in step.
        self.duration = Histogram(
            "patchbay_graphql_request_duration_seconds",
            "GraphQL requests by operation name and result type, and the time from receiving "
            "each to the end of its response (`_count`: requests)",
            labels,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.results = Counter(
            "patchbay_graphql_results",
            "Results of root fields, by operation name and result type (__typename)",
            labels,
            registry=registry,
        )
        self.untrusted = Counter(
            "patchbay_untrusted_documents",
            "Free-form documents that are not trusted documents, by operation name "
            "(PATCHBAY_TRUSTED_DOCUMENTS_POLICY=log)",
            ("operation",),
            registry=registry,
        )
        self.throttled = Counter(
            "patchbay_rate_limit_throttled",
            "Requests refused because their client was over its rate limit",
            registry=registry,
        )
        self.limiter_unreachable = Counter(
            "patchbay_rate_limiter_unreachable",
            "Rate-limit checks that could not reach Redis (PATCHBAY_RATE_LIMIT_REDIS_FAILURE "
            "chose what the request got)",
            registry=registry,
        )
        # REST routes: a bounded set of route templates (never a raw path) and statuses.
        self.routes = Histogram(
            "patchbay_rest_request_duration_seconds",
            "REST requests by route template (`METHOD /path/{id}`) and HTTP status, and the "
            "time from receiving each to the end of its response (`_count`: requests)",
            ("route", "status"),
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self._operations: set[str] = set()
        self._request_children: dict[tuple[str, str], Any] = {}
        self._result_children: dict[tuple[str, str], Any] = {}
        self._route_children: dict[tuple[str, int], Any] = {}

    def observe(
        self, operation: str | None, results: list[str] | None, status: int, seconds: float
    ) -> None:
        """One `/graphql` request; `results` is None when the view made no GraphQL context."""
        if not results:
            self._observe_request(self._without_results(operation, results, status), seconds)
            return
        name = self._operation_label(operation)
        self._observe_request((name, _request_result(results)), seconds)
        for result in results:
            key = (name, result)
            child = self._result_children.get(key)
            if child is None:
                child = self._result_children[key] = self.results.labels(*key)
            child.inc()

    def untrusted_document(self, operation: str | None) -> None:
        self.untrusted.labels(self._operation_label(operation)).inc()

    def observe_route(self, route: str, status: int, seconds: float) -> None:
        """One REST request, answered by the route `route` (a template the front chose)."""
        child = self._route_children.get((route, status))
        if child is None:
            child = self._route_children[route, status] = self.routes.labels(route, str(status))
        child.observe(seconds)

    def _without_results(
        self, operation: str | None, results: list[str] | None, status: int
    ) -> tuple[str, str]:
        if status == 200 and results is not None:  # top-level errors only, or `{ __typename }`
            return self._operation_label(operation), NO_RESULT
        if results is None or operation is None:  # refused before any operation was known
            return NO_GRAPHQL, f"(http {status})"
        return self._operation_label(operation), f"(http {status})"

    def _observe_request(self, key: tuple[str, str], seconds: float) -> None:
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.duration.labels(*key)
        child.observe(seconds)

    def _operation_label(self, operation: str | None) -> str:
        if operation is None:
            return ANONYMOUS
        if operation in self._operations:
            return operation
        if len(self._operations) >= MAX_OPERATION_NAMES or not GRAPHQL_NAME.fullmatch(operation):
            return OTHER
        self._operations.add(operation)
        return operation


def _request_result(results: list[str]) -> str:
    first = results[0]
    for result in results:
        if result != first:
            return MIXED
    return first


class PoolCollector:
    """The SQLAlchemy pool, read at scrape time."""

    def __init__(self, db: Database, *, per_process: bool) -> None:
        self.db = db
        self.labels = {"pid": str(os.getpid())} if per_process else {}

    def collect(self) -> Iterator[Metric]:
        pool: Any = self.db.engine.pool
        lent = self.db.idle_outside_pool  # checked out, but idle (db/lane.py)
        readings = {
            "patchbay_db_pool_size": ("Connections the pool keeps open", "size", 0),
            "patchbay_db_pool_checked_out": ("Connections in use by requests", "checkedout", -lent),
            "patchbay_db_pool_idle": ("Open connections waiting in the pool", "checkedin", lent),
        }
        for name, (documentation, method, correction) in readings.items():
            read = getattr(pool, method, None)
            if read is None:  # a pool class without this notion (e.g. NullPool)
                continue
            family = GaugeMetricFamily(name, documentation, labels=list(self.labels))
            family.add_metric(list(self.labels.values()), float(read() + correction))
            yield family


class MetricsEndpoint:
    """`/metrics`: the exposition, behind a bearer token when one is configured."""

    def __init__(self, collectors: Iterable[Collector], token: str | None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            self.registry.register(collector)
        self.token = token.encode() if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is not None and not _bearer_matches(scope, self.token):
            await _respond(send, 401, b"unauthorized\n", [(b"www-authenticate", b"Bearer")])
            return
        body = generate_latest(self.registry)
        await _respond(send, 200, body, [(b"content-type", CONTENT_TYPE)])


def _bearer_matches(scope: Scope, token: bytes) -> bool:
    authorization = authorization_header(scope["headers"])
    if authorization is None:
        return False
    scheme, _, credential = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credential.encode("latin-1"), token)


def build_metrics(
    db: Database, token: str | None, extra: Iterable[Collector] = ()
) -> tuple[RequestMetrics, MetricsEndpoint]:
    """The request metrics and the endpoint that exposes them with the pool's gauges (and
    the `extra` collectors of other rooms)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
    if multiprocess_mode():
        # Values live in files shared by the workers; the endpoint sums them at scrape time.
        request_metrics = RequestMetrics(registry=None)
        aggregate = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
        collectors: list[Collector] = [aggregate, PoolCollector(db, per_process=True)]
    else:
        registry = CollectorRegistry(auto_describe=False)
        request_metrics = RequestMetrics(registry)
        process = ProcessCollector(registry=None)  # CPU, memory, open files of this process
        collectors = [registry, PoolCollector(db, per_process=False), process]
    return request_metrics, MetricsEndpoint([*collectors, *extra], token)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
