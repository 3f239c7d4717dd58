"""A bounded load test: N clients update their own prompts through a real server, and every
acknowledged write must be in the database afterwards.

    python bench/load.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_load \
        [--clients 8] [--seconds 10] [--max-requests 100000] [--prompts-per-client 4]

It prepares the database (migrate, seed, clients x prompts-per-client prompts owned by
`bench-user`, with bench/prepare.py), starts `uvicorn gateway.app:app_from_environment` on
127.0.0.1 and a free port (production settings, a random HS256 secret), and runs N tasks that
each update only their own prompts, one request at a time, with a unique description per
request, until the time or the request budget runs out. Writes to a prompt are therefore
sequential: the description stored at the end must be the last one acknowledged for it.
After the server has stopped, the rows are read back and compared.

Traffic stays on the loopback interface. Prints one line, of this form:

    load: 4 clients x 3.0 s on postgresql: 446 served (148/s), 0 errors, p50 22.7 ms, \
p99 130.8 ms, 0 lost writes

and exits 1 on any error or lost write (or when nothing was served).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import jwt
from prepare import USER, prepare
from sqlalchemy import select
from sqlalchemy.engine import make_url

from db.database import Database
from db.models import prompts
from db.seed import ACME

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
READY_WITHIN_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 10.0
ERROR_SAMPLES = 5
UPDATE = """
mutation LoadUpdate($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id description } }
    ... on Error { code message }
  }
}
"""


@dataclass
class Tally:
    """What the clients saw; acked maps a prompt id to the last description acknowledged."""

    budget: int
    issued: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    acked: dict[str, str] = field(default_factory=dict)

    def take(self) -> bool:
        """One request from the budget; False once it is spent."""
        if self.issued >= self.budget:
            return False
        self.issued += 1
        return True

    def fail(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(what[:300])


@dataclass(frozen=True)
class Report:
    clients: int
    seconds: float
    backend: str
    served: int
    errors: int
    p50_ms: float
    p99_ms: float
    lost: int

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.lost == 0 and self.served > 0

    def line(self) -> str:
        return (
            f"load: {self.clients} clients x {self.seconds:.1f} s on {self.backend}: "
            f"{self.served} served ({self.served / max(self.seconds, 1e-9):.0f}/s), "
            f"{self.errors} errors, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, {self.lost} lost writes"
        )


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def bench_token(secret: str) -> str:
    claims = {
        "sub": USER,
        "org_id": str(ACME),
        "scope": "prompts:write",
        "name": "Bench User",
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def start_server(url: str, secret: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PATCHBAY_ENV": "production",
        "PATCHBAY_DATABASE_URL": url,
        "PATCHBAY_JWT_SECRET": secret,
        "PATCHBAY_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "gateway.app:app_from_environment",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    # Our own interpreter and a fixed module: no untrusted input reaches the command.
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


async def wait_until_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            if (await client.get("/readyz", timeout=2)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {READY_WITHIN_SECONDS:.0f} s")


async def one_client(
    client: httpx.AsyncClient,
    number: int,
    own_prompts: list[str],
    *,
    run: str,
    until: float,
    tally: Tally,
    headers: dict[str, str],
) -> None:
    """Updates its own prompts one request at a time until the time or the budget is out."""
    sequence = 0
    while time.monotonic() < until and tally.take():
        prompt_id = own_prompts[sequence % len(own_prompts)]
        description = f"load-{run}-c{number}-{sequence}"
        sequence += 1
        variables = {"id": prompt_id, "input": {"description": description}}
        started = time.perf_counter()
        try:
            response = await client.post(
                "/graphql", json={"query": UPDATE, "variables": variables}, headers=headers
            )
        except httpx.HTTPError as error:
            tally.fail(f"{prompt_id}: {type(error).__name__}: {error}")
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        result = _update_result(response)
        if result.get("__typename") != "UpdatePromptSuccess" or (
            result.get("prompt", {}).get("description") != description
        ):
            tally.fail(f"{prompt_id}: HTTP {response.status_code} {response.text}")
            continue
        tally.latencies_ms.append(elapsed_ms)
        tally.acked[prompt_id] = description


def _update_result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    result = data.get("updatePrompt") if isinstance(data, dict) else None
    return result if isinstance(result, dict) else {}


async def stored_descriptions(url: str, ids: list[str]) -> dict[str, str | None]:
    db = Database(url)
    try:
        async with db.read() as conn:
            query = select(prompts.c.id, prompts.c.description).where(prompts.c.id.in_(ids))
            return {row.id: row.description for row in (await conn.execute(query)).all()}
    finally:
        await db.dispose()


async def run_load(
    url: str, *, clients: int, seconds: float, max_requests: int, prompts_per_client: int
) -> tuple[Report, Tally]:
    ids = await prepare(url, clients * prompts_per_client)
    secret = secrets.token_urlsafe(32)
    port = free_port()
    tally = Tally(budget=max_requests)
    with tempfile.TemporaryFile() as log:
        server = start_server(url, secret, port, log)
        try:
            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{port}", limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
            ) as client:
                await wait_until_ready(client, server)
                headers = {"Authorization": f"Bearer {bench_token(secret)}"}
                run = secrets.token_hex(4)
                started = time.monotonic()
                await asyncio.gather(
                    *(
                        one_client(
                            client,
                            number,
                            ids[number * prompts_per_client : (number + 1) * prompts_per_client],
                            run=run,
                            until=started + seconds,
                            tally=tally,
                            headers=headers,
                        )
                        for number in range(clients)
                    )
                )
                elapsed = time.monotonic() - started
        except BaseException:
            stop_server(server)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        stop_server(server)
        if tally.errors:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
    stored = await stored_descriptions(url, ids)
    lost = sum(1 for pid, description in tally.acked.items() if stored.get(pid) != description)
    report = Report(
        clients=clients,
        seconds=elapsed,
        backend=make_url(url).get_backend_name(),
        served=len(tally.latencies_ms),
        errors=tally.errors,
        p50_ms=percentile(tally.latencies_ms, 0.50),
        p99_ms=percentile(tally.latencies_ms, 0.99),
        lost=lost,
    )
    return report, tally


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="database URL (the database must exist)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--prompts-per-client", type=int, default=4)
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1:
        parser.error("--clients, --seconds and --max-requests must be positive")
    if args.prompts_per_client < 1:
        parser.error("--prompts-per-client must be positive")
    report, tally = asyncio.run(
        run_load(
            args.url,
            clients=args.clients,
            seconds=args.seconds,
            max_requests=args.max_requests,
            prompts_per_client=args.prompts_per_client,
        )
    )
    for sample in tally.error_samples:
        print(f"  error: {sample}", file=sys.stderr)
    print(report.line(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
