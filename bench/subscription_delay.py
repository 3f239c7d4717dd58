"""Commit-to-delivery delay of subscriptions across processes (PostgreSQL).

    python bench/subscription_delay.py --url URL --secret SECRET [--subscribers 100]
        [--changes 50]

Starts two `patchbay serve` processes on the database at URL (migrated and seeded, e.g. by
bench/prepare.py), opens `--subscribers` graphql-transport-ws connections to the second,
each subscribed to `promptChanged` of the organization, and writes `--changes` prompt
updates one after another through the first. The delay of a delivery is the time it
arrives minus the entry's `recordedAt` (the write's own stamp, taken inside its
transaction on the same machine's clock): it covers commit, NOTIFY, the LISTEN connection,
the process's one read of the change and the WebSocket. Prints p50, p99 and max over every delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import jwt
import websockets

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
SUBSCRIPTION = "subscription { promptChanged { entry { version recordedAt } prompt { id } } }"
UPDATE = (
    "mutation ($id: ID!, $d: String) "
    "{ updatePrompt(id: $id, input: {description: $d}) { __typename } }"
)


def _token(secret: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "org_id": "11111111-1111-4111-8111-111111111111",
        "scope": "prompts:read prompts:write",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _serve(url: str, secret: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": url,
        "PATCHBAY_JWT_SECRET": secret,
        # every subscriber is the same user here: its limits must let them all in
        "PATCHBAY_SUBSCRIPTIONS_PER_PRINCIPAL": "100000",
        "PATCHBAY_CONNECTIONS_PER_PRINCIPAL": "100000",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [PATCHBAY, "serve", "--port", str(port)], env=env, stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"patchbay serve did not start: {log.read_text()}")


async def _subscriber(base: str, token: str, delays: list[float], ready: asyncio.Event) -> None:
    url = base.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        ready.set()
        async for raw in ws:
            arrived = time.time()
            message = json.loads(raw)
            if message["type"] != "next":
                return
            stamp = message["payload"]["data"]["promptChanged"]["entry"]["recordedAt"]
            delays.append(arrived - datetime.fromisoformat(stamp).timestamp())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    token = _token(args.secret)
    logs = Path(tempfile.mkdtemp(prefix="patchbay-delay-"))
    first, writer_url = _serve(args.url, args.secret, logs / "delay-writer.log")
    second, reader_url = _serve(args.url, args.secret, logs / "delay-reader.log")
    delays: list[float] = []
    try:
        readies = [asyncio.Event() for _ in range(args.subscribers)]
        tasks = [
            asyncio.create_task(_subscriber(reader_url, token, delays, ready)) for ready in readies
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        await asyncio.sleep(1.0)  # every subscription registered, the LISTEN connection open
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
            for n in range(args.changes):
                body = {
                    "query": UPDATE,
                    "variables": {"id": "prm_acme_welcome", "d": f"delay {n} {time.time()}"},
                }
                answer = (await client.post(f"{writer_url}/graphql", json=body)).json()
                assert answer["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess", answer
                await asyncio.sleep(0.05)
        expected = args.subscribers * args.changes
        for _ in range(300):
            if len(delays) >= expected:
                break
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
    finally:
        for server in (first, second):
            server.terminate()
            server.wait(timeout=15)
    ordered = sorted(delays)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    print(
        f"{len(delays)}/{args.subscribers * args.changes} deliveries, "
        f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms, "
        f"mean {statistics.fmean(ordered) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
