"""A well-behaved client's latency, alone and beside 4 connections sending hostile documents.

    .venv/bin/python bench/noisy_neighbour.py [--seconds 10] [--attackers 4] [--rate-limit]
        [--postgres URL]

Starts `patchbay serve` (production settings, SQLite or, with --postgres, a fresh database on
that server, demo data) pinned to CPU 0; this
process (on CPU 1) reads one prompt over and over as alice, first alone, then beside N
connections that send back to back, without a credential: `{ __typename }` (any busy
neighbour), then the largest document of every family of tests/hostile_documents.py that
fits the body limit, as is and with a new comment each time (so no cache helps). Prints the
client's p50 and p99 in each phase and their ratio to the client alone.

With --rate-limit the gateway runs with PATCHBAY_RATE_LIMIT=true: the default buckets, but for
alice's organization, whose own is large enough for a client that never pauses (`patchbay
ratelimit set acme`). A last phase has another organization's user (carol) rename her prompt
back to back on N connections, far over her budget: she gets 429s, and alice should not
notice. Alice is measured from carol's first 429 on: the burst her full bucket admits before
that is within her budget, and the issue's target is about a client over it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hostile_documents import FAMILIES, MAX_BODY  # noqa: E402

PATCHBAY = str(ROOT / ".venv" / "bin" / "patchbay")
READ = '{ prompt(id: "prm_acme_welcome") { ... on Prompt { id title updatedAt } } }'


def largest(shape: str) -> bytes:
    count, body = 1, b""
    while count <= 20_000:
        candidate = json.dumps({"query": FAMILIES[shape](count)}).encode()
        if len(candidate) > MAX_BODY:
            break
        body, count = candidate, count * 2
    return body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def client_latencies(url: str, token: str, seconds: float) -> list[float]:
    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": READ}, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.json()["data"]["prompt"]["id"] == "prm_acme_welcome"
    return latencies


async def attacker(
    url: str,
    bodies: list[bytes],
    stop: asyncio.Event,
    sent: list[int],
    *,
    vary: bool,
    token: str | None = None,
    statuses: dict[int, int] | None = None,
) -> None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while not stop.is_set():
            for body in bodies:
                if vary:  # a new comment each time: no cache helps the gateway
                    body = body.replace(b'{"query": "', b'{"query": "#%d\\n' % sent[0], 1)
                response = await client.post("/graphql", content=body, headers=headers)
                sent[0] += 1
                if statuses is not None:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if stop.is_set():
                    return


def summary(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


BENIGN = [json.dumps({"query": "{ __typename }"}).encode()]


# carol renames her own prompt: 10 points each, all of them used (a page would give most back)
BUSY = json.dumps(
    {
        "query": 'mutation { updatePrompt(id: "prm_globex_welcome", input: {title: "Busy"}) '
        "{ __typename } }"
    }
).encode()


async def beside(
    url: str,
    token: str,
    seconds: float,
    attackers: int,
    bodies: list[bytes],
    *,
    vary: bool,
    as_user: str | None = None,
    statuses: dict[int, int] | None = None,
) -> tuple[tuple[float, float], int]:
    stop, sent = asyncio.Event(), [0]
    tasks = [
        asyncio.create_task(
            attacker(url, bodies, stop, sent, vary=vary, token=as_user, statuses=statuses)
        )
        for _ in range(attackers)
    ]
    await asyncio.sleep(1)  # the attack is under way before measuring
    if statuses is not None:  # carol: measured once she is over her budget, not in her burst
        for _ in range(600):
            if statuses.get(429):
                break
            await asyncio.sleep(0.05)
    loaded = summary(await client_latencies(url, token, seconds))
    stop.set()
    await asyncio.gather(*tasks)
    return loaded, sent[0]


async def measure(url: str, token: str, seconds: float, attackers: int, busy: str | None) -> None:
    alone = summary(await client_latencies(url, token, seconds))
    print(f"alone: p50 {alone[0] * 1000:.2f} ms, p99 {alone[1] * 1000:.2f} ms")
    hostile = [largest(shape) for shape in FAMILIES]
    phases = {
        "benign { __typename } flood": (BENIGN, False),
        "hostile documents, repeated": (hostile, False),
        "hostile documents, each new": (hostile, True),
    }
    for name, (bodies, vary) in phases.items():
        (p50, p99), sent = await beside(url, token, seconds, attackers, bodies, vary=vary)
        print(
            f"beside {attackers} connections, {name} ({sent} sent): p50 {p50 * 1000:.2f} ms "
            f"(x{p50 / alone[0]:.2f}), p99 {p99 * 1000:.2f} ms (x{p99 / alone[1]:.2f})"
        )
    if busy is not None:
        statuses: dict[int, int] = {}
        (p50, p99), sent = await beside(
            url, token, seconds, attackers, [BUSY], vary=False, as_user=busy, statuses=statuses
        )
        print(
            f"beside carol over her budget on {attackers} connections ({sent} sent, statuses "
            f"{dict(sorted(statuses.items()))}): p50 {p50 * 1000:.2f} ms "
            f"(x{p50 / alone[0]:.2f}), p99 {p99 * 1000:.2f} ms (x{p99 / alone[1]:.2f})"
        )


@contextlib.contextmanager
def database(server: str | None, directory: str) -> Iterator[str]:
    """A SQLite file in `directory`, or a fresh database on the PostgreSQL `server`."""
    if server is None:
        yield f"sqlite+aiosqlite:///{directory}/noisy.db"
        return
    admin = make_url(server).set(drivername="postgresql")
    name = "patchbay_noisy"

    def run(sql: str) -> None:
        subprocess.run(["psql", "-q", admin.render_as_string(False), "-c", sql], check=True)

    run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    run(f"CREATE DATABASE {name}")
    try:
        yield make_url(server).set(database=name).render_as_string(False)
    finally:
        run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--rate-limit", action="store_true", help="PATCHBAY_RATE_LIMIT=true")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (postgresql+asyncpg://user@host:port/db): the run makes and "
        "drops a database patchbay_noisy there instead of using SQLite",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, database(args.postgres, directory) as url:
        env = {
            **os.environ,
            "PATCHBAY_ENV": "production",
            "PATCHBAY_DATABASE_URL": url,
            "PATCHBAY_JWT_SECRET": secrets.token_urlsafe(32),
            "PATCHBAY_LOG_LEVEL": "warning",
            "PATCHBAY_RATE_LIMIT": "true" if args.rate_limit else "false",
        }
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run([PATCHBAY, *command], env=env, check=True, capture_output=True)
        token, carol = (
            subprocess.run(
                [PATCHBAY, "token", "--sub", user, "--org", org],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            for user, org in (("alice", "acme"), ("carol", "globex"))
        )
        if args.rate_limit:  # alice never pauses: her organization gets a bucket to match
            limit = ["ratelimit", "set", "acme", "--maximum", "1e9", "--restore-rate", "1e9"]
            subprocess.run([PATCHBAY, *limit], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            ["taskset", "-c", "0", PATCHBAY, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            os.sched_setaffinity(0, {1})
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            asyncio.run(
                measure(
                    url, token, args.seconds, args.attackers, carol if args.rate_limit else None
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
