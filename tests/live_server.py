"""A real Patchbay for the browser and Node tests: the README's run command, `python3 dev.py
demo`, in a subprocess.

The demo migrates and seeds a fresh SQLite file, fetches GraphiQL's files into the home
directory's cache and prints alice's header, as a newcomer sees it. These tests need tools
outside Python (Chromium, node and npm): without them they skip locally, but fail where the
suite must prove them (PATCHBAY_REQUIRE_BROWSER=1 or CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests.waiting import poll_until

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
GRAPHIQL_ASSETS = REPO / "clients" / "graphiql" / "node_modules"
PATCHBAY = str(Path(sys.executable).parent / "patchbay")
# The README's command: the system's python3 (the suite's own Python where there is none)
RUN_COMMAND = [shutil.which("python3") or sys.executable, str(REPO / "dev.py"), "demo"]
REQUIRED = os.environ.get("PATCHBAY_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"
_HEADER = re.compile(r'\{"Authorization": "Bearer (?P<token>[^"]+)"\}')


def unavailable(reason: str) -> NoReturn:
    if REQUIRED:
        pytest.fail(f"{reason} (required: PATCHBAY_REQUIRE_BROWSER=1 or CI=true)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Demo:
    url: str  # http://127.0.0.1:<port>
    token: str  # alice of acme, every scope, as the demo prints it
    log: Path


@contextmanager
def running_demo(directory: Path, **settings: str) -> Iterator[Demo]:
    """`python3 dev.py demo` on a free port, its database and home in `directory`, with
    PATCHBAY_* settings."""
    for attempt in range(3):  # a free port can be taken before the server binds it
        log = directory / f"demo-{attempt}.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [*RUN_COMMAND, "--port", str(port := _free_port())],
                cwd=directory,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ["PATH"], "HOME": str(directory), **settings},
            )
        try:
            token = _wait_until_serving(server, log, f"http://127.0.0.1:{port}")
            if token is not None:
                yield Demo(url=f"http://127.0.0.1:{port}", token=token, log=log)
                return
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    pytest.fail(f"patchbay demo did not start:\n{log.read_text()[-3000:]}")


def _wait_until_serving(server: subprocess.Popen[bytes], log: Path, url: str) -> str | None:
    """Alice's token once the demo printed it and answers /healthz; None if it exited or
    did not get there within 30 s."""
    tokens: list[str] = []

    def serving_or_exited() -> bool:
        if server.poll() is not None:
            return True
        match = _HEADER.search(log.read_text())
        if match is None:
            return False
        try:
            httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
        except httpx.HTTPError:
            return False
        tokens.append(match["token"])
        return True

    poll_until(serving_or_exited, timeout=30)
    return tokens[0] if tokens else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
