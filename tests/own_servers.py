"""Servers a test starts for itself, on free ports, and may kill: Redis, PgBouncer, and TCP
servers of its own in the test's event loop.

The machine's PostgreSQL and Redis are shared by every test run and are never stopped; a
test that makes a server fail starts its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from deploy.topology import accepts
from tests.waiting import poll_until

REQUIRED = os.environ.get("CI") == "true" or os.environ.get("PATCHBAY_REQUIRE_POSTGRES") == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def tcp_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A server on 127.0.0.1 that runs `handle` for each connection; its port. At the end a
    handler still running is cancelled and awaited: no task outlives the test."""
    tasks: set[asyncio.Task[None]] = set()

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def program(name: str, *, debian_package: str) -> str:
    """The path of a server program; a skip locally without it, a failure in CI."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        reason = f"{name} is not installed (apt-get install {debian_package})"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


class OwnRedis:
    """A redis-server of the test's own, without persistence, that it can stop and start."""

    def __init__(self, directory: Path) -> None:
        self.binary = program("redis-server", debian_package="redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert poll_until(lambda: accepts(self.port), timeout=10), "redis-server did not start"

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


class OwnPgBouncer:
    """A pgbouncer of the test's own in front of the machine's PostgreSQL."""

    def __init__(self, directory: Path, *, pool_mode: str, server_connections: int = 20) -> None:
        self.binary = program("pgbouncer", debian_package="pgbouncer")
        self.directory = directory
        self.port = free_port()
        # PgBouncer refuses to run as root; as another user it must reach its files.
        directory.chmod(0o777)
        (directory / "users.txt").write_text('"postgres" ""\n')
        (directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            "* = host=127.0.0.1 port=5432\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"pool_mode = {pool_mode}\nauth_type = trust\n"
            f"auth_file = {directory / 'users.txt'}\n"
            f"max_client_conn = 400\ndefault_pool_size = {server_connections}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        command = [self.binary, str(self.directory / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert poll_until(lambda: accepts(self.port), timeout=10), "pgbouncer did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def own_pgbouncer(
    directory: Path, *, pool_mode: str, server_connections: int = 20
) -> Iterator[OwnPgBouncer]:
    pgbouncer = OwnPgBouncer(directory, pool_mode=pool_mode, server_connections=server_connections)
    pgbouncer.start()
    try:
        yield pgbouncer
    finally:
        pgbouncer.stop()
