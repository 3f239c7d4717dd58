"""The one access log line per request: a JSON object on the `patchbay.access` logger.

    {"time": "2026-11-22T15:20:01.123456+00:00", "request_id": "7cb8…", "method": "POST",
     "path": "/graphql", "status": 200, "duration_ms": 1.234, "operation": "Rename",
     "results": ["UpdatePromptSuccess"], "principal": {"subject": "alice", "kind": "USER"},
     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}

`operation` and `results` are null when the request never reached a front (a refused body,
`/healthz`); `principal` is null when no credential was checked or it was refused;
`trace_id` (OpenTelemetry's, as in `traceparent`) is null while tracing is off. The
line is built from the request id, the route, the trace id (32 hex digits, whatever a
caller's `traceparent` held) and what the front observed only: never from a header's text,
so no token, API key or other secret can reach it (an API key's principal is its visible
prefix).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from gateway.observe.observed import Observed

access_log = logging.getLogger("patchbay.access")
# A caller chooses both: keep lines short whatever they send. (The path has no query string.)
MAX_OPERATION_CHARS = 100
MAX_PATH_CHARS = 200


def enabled() -> bool:
    return access_log.isEnabledFor(logging.INFO)


def write(
    *,
    request_id: str,
    method: str,
    path: str,
    status: int,
    seconds: float,
    context: Observed | None,
    trace_id: str | None = None,
) -> None:
    line: dict[str, Any] = {
        "time": datetime.now(UTC),
        "request_id": request_id,
        "method": method,
        "path": path[:MAX_PATH_CHARS],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "operation": None,
        "results": None,
        "principal": None,
        "trace_id": trace_id,
    }
    if context is not None:
        operation = context.operation
        line["operation"] = operation[:MAX_OPERATION_CHARS] if operation else operation
        line["results"] = sorted(context.results)  # root fields finish in any order
        principal = context.authenticated_principal
        if principal is not None:
            # (a StrEnum: orjson writes its value, without the enum's Python `value` property)
            line["principal"] = {"subject": principal.subject, "kind": principal.kind}
    try:
        data = orjson.dumps(line)
    except orjson.JSONEncodeError:  # a lone surrogate in a caller's path or operation name
        data = orjson.dumps({k: _printable(v) for k, v in line.items()})
    writer = _direct_writer()
    if writer is not None:
        writer.write_line(data)
        return
    # `handle` of a record made here: what `info` does, less its walk of the call stack.
    access_log.handle(
        access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, data.decode(), (), None)
    )


def _direct_writer() -> AccessLineWriter | None:
    """The writer, when it is the logger's only destination (as `patchbay serve` sets it
    up): a line then skips the LogRecord and the handler chain, which cost ~2/3 of its
    time. Any other set-up (a test's capture, an operator's handlers) gets records."""
    handlers = access_log.handlers
    if len(handlers) != 1 or access_log.propagate or access_log.filters:
        return None
    writer = handlers[0]
    return writer if type(writer) is AccessLineWriter and not writer.filters else None


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode()
    return value


class AccessLineWriter(logging.Handler):
    """The access log's handler under `patchbay serve`: lines to standard output, written
    once per pass of the event loop.

    Every line finished in one pass reaches the stream in one system call, microseconds
    after the request ended, instead of a write and a flush each. Outside a running loop
    (start-up, shutdown) a line is written at once."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stdout.buffer
        self._pending = bytearray()
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record).encode())
        except Exception:
            self.handleError(record)

    def write_line(self, data: bytes) -> None:
        self._pending += data
        self._pending += b"\n"
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            self.stream.write(data)
            self.stream.flush()
