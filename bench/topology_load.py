"""Writes through HAProxy to the deploy/ topology, with every write accounted for.

    python bench/topology_load.py [--clients 12] [--seconds 8] [--database-url URL]
                                  [--scaling] [--json FILE]

Starts the topology (deploy/topology.py: Redis, PgBouncer in transaction pooling mode,
three replicas, HAProxy) on free ports, then runs three phases of N clients, each sending
one update at a time through HAProxy:

  steady   the load alone;
  kill     replica 2 is SIGKILLed a third of the way in, and started again;
  rolling  every replica is restarted in turn with SIGTERM while the load runs.

Each write goes to a prompt no other write touches, with a unique description, so each
acknowledged write can be looked up on its own afterwards: `missing` counts acknowledged
writes whose description is not in the database (must be 0). `failed` counts requests
without an acknowledgement (transport errors, non-200, any other result): only those in
flight on the killed replica may fail in `kill`, none in `rolling`.

--scaling instead measures steady throughput with 1, 2 and 3 replicas, and with 1 replica
of `--workers 2`. All of it shares the machine with PostgreSQL, PgBouncer, HAProxy and the
load generator: on 2 cores the CPU is the limit (see docs/deploy.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import select

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # bench/prepare.py and deploy/topology.py

from prepare import USER, prepare  # noqa: E402

from db.database import Database  # noqa: E402
from db.models import prompts  # noqa: E402
from db.seed import ACME  # noqa: E402
from deploy import topology  # noqa: E402

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
UPDATE = """
mutation TopologyWrite($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id description } }
  }
}
"""
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    acked: dict[str, str] = field(default_factory=dict)  # prompt id -> its one description
    failed: int = 0
    failure_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = -1  # acknowledged writes not in the database; -1 until checked
    events: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "seconds": round(self.seconds, 1),
            "acknowledged": len(self.acked),
            "missing": self.missing,
            "failed": self.failed,
            "throughput": round(len(self.acked) / max(self.seconds, 1e-9), 1),
            "p50_ms": round(percentile(self.latencies_ms, 0.50), 1),
            "p99_ms": round(percentile(self.latencies_ms, 0.99), 1),
            "failure_samples": self.failure_samples,
            "events": self.events,
        }


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


def token(secret: str) -> str:
    claims = {"sub": USER, "org_id": str(ACME), "scope": "prompts:write", "name": "Bench"}
    return jwt.encode({**claims, "exp": int(time.time()) + 3600}, secret, algorithm="HS256")


async def drive(
    url: str,
    ids: Iterator[str],
    phase: Phase,
    *,
    clients: int,
    headers: dict[str, str],
    while_running: Callable[[], Awaitable[None]],
) -> Phase:
    """N clients write until `while_running` returns."""
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:

        async def writer(number: int) -> None:
            while not done.is_set():
                prompt_id = next(ids)
                description = f"topology-{phase.name}-{uuid.uuid4().hex}"
                await write(client, phase, prompt_id, description, headers)

        started = time.monotonic()
        writers = [asyncio.create_task(writer(n)) for n in range(clients)]
        try:
            await while_running()
        finally:
            done.set()
            await asyncio.gather(*writers)
        phase.seconds = time.monotonic() - started
    return phase


async def write(
    client: httpx.AsyncClient,
    phase: Phase,
    prompt_id: str,
    description: str,
    headers: dict[str, str],
) -> None:
    variables = {"id": prompt_id, "input": {"description": description}}
    started = time.perf_counter()
    try:
        response = await client.post(
            "/graphql", json={"query": UPDATE, "variables": variables}, headers=headers
        )
        body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as error:
        _failed(phase, f"{type(error).__name__}: {error}")
        return
    result = (body.get("data") or {}).get("updatePrompt") or {}
    if result.get("prompt", {}).get("description") != description:
        _failed(phase, f"HTTP {response.status_code}: {response.text[:200]}")
        return
    phase.latencies_ms.append((time.perf_counter() - started) * 1000)
    phase.acked[prompt_id] = description


def _failed(phase: Phase, what: str) -> None:
    phase.failed += 1
    if len(phase.failure_samples) < 5:
        phase.failure_samples.append(what)


async def count_missing(database_url: str, phase: Phase) -> None:
    db = Database(database_url)
    stored: dict[str, str | None] = {}
    try:
        ids = list(phase.acked)
        async with db.read() as conn:
            for start in range(0, len(ids), 1000):
                query = select(prompts.c.id, prompts.c.description).where(
                    prompts.c.id.in_(ids[start : start + 1000])
                )
                stored.update({row.id: row.description for row in (await conn.execute(query))})
    finally:
        await db.dispose()
    phase.missing = sum(1 for pid, text in phase.acked.items() if stored.get(pid) != text)


def sleeping(seconds: float) -> Callable[[], Awaitable[None]]:
    return lambda: asyncio.sleep(seconds)


def killing(
    layout: topology.Topology, seconds: float, phase: Phase
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.sleep(seconds / 3)
        status = await asyncio.to_thread(topology.restart, layout, 2, kill=True)
        phase.events.append(f"replica 2 SIGKILLed (exit status {status}) and back up")
        await asyncio.sleep(seconds / 3)

    return run


def rolling(layout: topology.Topology, phase: Phase) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.sleep(1.0)
        statuses = await asyncio.to_thread(topology.rolling_restart, layout)
        phase.events.append(f"rolling restart with SIGTERM, exit statuses {statuses}")
        await asyncio.sleep(1.0)

    return run


def free_ports(count: int) -> list[int]:
    import socket

    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def layout_for(
    run_dir: Path, database_url: str, *, replicas: int = 3, workers: int = 1
) -> topology.Topology:
    ports = free_ports(replicas + 3)
    return topology.Topology(
        run_dir=str(run_dir),
        lb_port=ports[0],
        replica_ports=ports[3:],
        pgbouncer_port=ports[1],
        database_url=database_url,
        pool_mode="transaction",
        workers=workers,
        redis_url=f"redis://127.0.0.1:{ports[2]}/0",
        own_redis_port=ports[2],
    )


async def phases(
    layout: topology.Topology, *, clients: int, seconds: float, rows: int
) -> list[Phase]:
    """The three phases on a topology that is up."""
    ids = iter(await prepare(layout.database_url, rows))
    headers = {"Authorization": f"Bearer {token(os.environ['PATCHBAY_JWT_SECRET'])}"}
    url = f"http://127.0.0.1:{layout.lb_port}"
    steady, kill, roll = Phase("steady"), Phase("kill"), Phase("rolling")
    plans = [
        (steady, sleeping(seconds)),
        (kill, killing(layout, seconds, kill)),
        (roll, rolling(layout, roll)),
    ]
    for phase, plan in plans:
        await drive(url, ids, phase, clients=clients, headers=headers, while_running=plan)
        await count_missing(layout.database_url, phase)
    return [steady, kill, roll]


async def scaling(
    database_url: str, run_root: Path, *, clients: int, seconds: float
) -> list[dict[str, Any]]:
    figures = []
    for replicas, workers in ((1, 1), (2, 1), (3, 1), (1, 2)):
        layout = layout_for(
            run_root / f"r{replicas}w{workers}", database_url, replicas=replicas, workers=workers
        )
        await asyncio.to_thread(topology.up, layout)
        try:
            ids = iter(await prepare(database_url, 40_000))
            headers = {"Authorization": f"Bearer {token(os.environ['PATCHBAY_JWT_SECRET'])}"}
            url = f"http://127.0.0.1:{layout.lb_port}"
            warm_up = Phase("warm-up")  # each process learns its plans, fills its caches
            await drive(
                url, ids, warm_up, clients=clients, headers=headers, while_running=sleeping(2.0)
            )
            phase = Phase(f"{replicas} replica(s) x {workers} worker(s)")
            await drive(
                f"http://127.0.0.1:{layout.lb_port}",
                ids,
                phase,
                clients=clients,
                headers=headers,
                while_running=sleeping(seconds),
            )
            await count_missing(database_url, phase)
            figures.append(phase.summary())
        finally:
            await asyncio.to_thread(topology.down, layout)
    return figures


async def on_admin_database(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL.replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--database-url", help="an existing database (default: a new one)")
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("PATCHBAY_JWT_SECRET", secrets.token_urlsafe(32))
    os.environ.setdefault("PATCHBAY_LOG_LEVEL", "warning")
    name = f"patchbay_topology_{secrets.token_hex(4)}"
    if args.database_url is None:
        asyncio.run(on_admin_database(f'CREATE DATABASE "{name}"'))
    database_url = args.database_url or ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        figures = run(args, database_url)
    finally:
        if args.database_url is None:
            asyncio.run(on_admin_database(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for figure in figures:
        print(json.dumps({k: v for k, v in figure.items() if k != "failure_samples"}))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run(args: argparse.Namespace, database_url: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="pb-topology-") as run_root:
        Path(run_root).chmod(0o755)  # PgBouncer, switched to another user, reaches its files
        if args.scaling:
            figures = asyncio.run(
                scaling(database_url, Path(run_root), clients=args.clients, seconds=args.seconds)
            )
        else:
            layout = layout_for(Path(run_root), database_url)
            topology.up(layout)
            try:
                done = asyncio.run(
                    phases(layout, clients=args.clients, seconds=args.seconds, rows=60_000)
                )
            finally:
                topology.down(layout)
            figures = [phase.summary() for phase in done]
    return figures


if __name__ == "__main__":
    sys.exit(main())
