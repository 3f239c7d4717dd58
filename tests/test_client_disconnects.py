"""A client that goes away mid-body is a client event: one short log line at most, status
499 on its access line and in metrics, never a traceback or a 500. Against a real
`patchbay serve` and a real socket, on both databases."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.factories import TEST_SECRET

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
STARTUP_SECONDS = 30
CUT_SHORT = 5


@dataclass
class Served:
    url: str
    port: int
    stdout: Path
    stderr: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
    }
    subprocess.run([PATCHBAY, "seed"], env=env, check=True, capture_output=True, timeout=60)
    port = _free_port()
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [PATCHBAY, "serve", "--port", str(port)], env=env, stdout=out, stderr=err
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "Application startup complete" not in stderr.read_text():
            assert process.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)  # polling a subprocess's log: no event to wait on
        yield Served(url, port, stdout, stderr)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _send_a_body_cut_short(port: int) -> None:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head.encode() + b'{"query": "{ viewer')


def _access_lines(stdout: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.read_text().splitlines() if line.startswith("{")]


def test_a_body_cut_short_is_logged_as_499_without_a_traceback(served: Served) -> None:
    # when: clients go away before their bodies arrive, then a client asks for the metrics
    for _ in range(CUT_SHORT):
        _send_a_body_cut_short(served.port)
    deadline = time.monotonic() + 10
    while sum(line["status"] == 499 for line in _access_lines(served.stdout)) < CUT_SHORT:
        assert time.monotonic() < deadline, served.stdout.read_text()
        time.sleep(0.05)  # the access lines of closed connections reach the file soon after
    metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
    # then: their own status, their own metrics label, no traceback, no error
    statuses = [line["status"] for line in _access_lines(served.stdout)]
    assert 500 not in statuses
    assert '{operation="(none)",result="(http 499)"} 5.0' in metrics.replace(
        "patchbay_graphql_request_duration_seconds_count", ""
    )
    assert "(http 500)" not in metrics
    log = served.stderr.read_text()
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert log.count("client disconnected") <= CUT_SHORT
