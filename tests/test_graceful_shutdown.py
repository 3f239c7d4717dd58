"""`patchbay serve` on SIGTERM: /readyz 503 at once, still serving for the unready time,
then no new connections, in-flight requests finished within the drain time, exit status 0.

A request is kept in flight by sending its body slowly over a raw socket: the server has
the request and cannot answer before the last byte.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from db.migrate import upgrade
from deploy.topology import accepts
from tests.factories import TEST_SECRET, token
from tests.own_servers import free_port
from tests.waiting import wait_until

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
VIEWER = json.dumps({"query": "{ viewer { ... on Viewer { subject } } }"}).encode()


@contextmanager
def serving(
    directory: Path, *args: str, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`patchbay serve` on a free port, on a migrated and seeded SQLite file."""
    url = f"sqlite+aiosqlite:///{directory / 'patchbay.db'}"
    if not (directory / "patchbay.db").exists():
        upgrade(url)
        env = {**os.environ, "PATCHBAY_DATABASE_URL": url}
        subprocess.run([PATCHBAY, "seed"], env=env, check=True, capture_output=True)
    port = free_port()
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": url,
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
        "PATCHBAY_LOG_LEVEL": "warning",
        **settings,
    }
    with (directory / "serve.log").open("ab") as log:
        server = subprocess.Popen(
            [PATCHBAY, "serve", "--port", str(port), *args], env=env, stdout=log, stderr=log
        )
    try:
        wait_until(lambda: _status(port, "/readyz") == 200, timeout=30, what="serve did not start")
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _status(port: int, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code
    except httpx.TransportError:
        return None


def _start_slow_request(port: int) -> socket.socket:
    """A POST /graphql whose body stops halfway: in flight until the rest is sent."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: patchbay\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token('alice')}\r\nContent-Length: {len(VIEWER)}\r\n\r\n"
    ).encode()
    conn.sendall(head + VIEWER[:10])
    return conn


def _finish(conn: socket.socket) -> bytes:
    conn.sendall(VIEWER[10:])
    answer = b""
    while b'"subject"' not in answer:
        chunk = conn.recv(65536)
        if not chunk:
            break
        answer += chunk
    conn.close()
    return answer


def test_sigterm_turns_readiness_off_at_once_finishes_in_flight_and_exits_zero(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, PATCHBAY_SHUTDOWN_UNREADY_SECONDS="2") as (server, port):
        # given: a request in flight
        in_flight = _start_slow_request(port)
        time.sleep(0.2)  # the server has read its head
        # when
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        # then: not ready at once, while everything else is still served
        wait_until(lambda: _status(port, "/readyz") == 503, timeout=1.5, what="/readyz not 503")
        assert time.monotonic() - signalled < 1.5  # the first check after the signal
        assert _status(port, "/healthz") == 200
        # ... then no new connection is accepted, and the one in flight is answered
        wait_until(lambda: not accepts(port), timeout=5, what="still accepting")
        assert time.monotonic() - signalled >= 2.0
        answer = _finish(in_flight)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'{"data":{"viewer":{"subject":"alice"}}' in answer
        assert server.wait(timeout=10) == 0


def test_a_request_past_the_drain_time_does_not_hold_the_exit(tmp_path: Path) -> None:
    settings = {"PATCHBAY_SHUTDOWN_UNREADY_SECONDS": "0", "PATCHBAY_SHUTDOWN_DRAIN_SECONDS": "1"}
    with serving(tmp_path, **settings) as (server, port):
        stuck = _start_slow_request(port)  # its body never comes
        time.sleep(0.2)
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        assert time.monotonic() - signalled < 4.0  # drain time 1 s, plus the app's shutdown
        stuck.close()


def test_every_worker_drains_and_the_supervisor_exits_zero(tmp_path: Path) -> None:
    settings = {"PATCHBAY_SHUTDOWN_UNREADY_SECONDS": "3", "PATCHBAY_LOG_LEVEL": "info"}
    with serving(tmp_path, "--workers", "2", **settings) as (server, port):
        log = tmp_path / "serve.log"
        wait_until(
            lambda: log.read_text().count("Application startup complete") == 2,
            timeout=60,
            what="both workers did not start",
        )
        server.send_signal(signal.SIGTERM)
        wait_until(lambda: _status(port, "/readyz") == 503, timeout=3.0, what="/readyz not 503")
        assert server.wait(timeout=20) == 0
        assert log.read_text().count("Application shutdown complete") == 2
