"""Bulk against single updates: items per second of updatePrompts (100 items a request)
against updatePrompt (one item a request, 32 connections), through a real server.

    python bench/bulk.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_bulk \
        [--items 3200] [--connections 32]

It prepares the database (bench/prepare.py: 100 prompts of `bench-user`), starts
`uvicorn gateway.app:app_from_environment` (bench/load.py's server), warms both documents
up, then sends --items single updates over --connections connections, and the same number
of items as bulk requests of 100 (REJECT_EVERYTHING), one request at a time on one
connection. Every answer must be a success for every item. Prints, e.g.:

    bulk on postgresql: single 1450 items/s (32 connections), bulk 9800 items/s (100 per
    request, 1 connection): x6.76 (target >= x5)

and exits 1 when an item failed (not when the ratio misses the target: a loaded machine
is no place to judge it).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from typing import Any

import httpx
from load import bench_token, free_port, start_server, stop_server, wait_until_ready
from prepare import prepare
from sqlalchemy.engine import make_url

BATCH = 100
SINGLE = """
mutation BenchSingle($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id version } }
  }
}
"""
BULK = """
mutation BenchBulk($items: [UpdatePromptItem!]!) {
  updatePrompts(items: $items) {
    __typename
    ... on UpdatePromptsPayload {
      writtenCount
      results { __typename ... on UpdatePromptSuccess { prompt { id version } } }
    }
  }
}
"""


async def singles(client: httpx.AsyncClient, ids: list[str], items: int, connections: int) -> float:
    """Items per second of single updates, `connections` requests in flight."""
    queue = list(range(items))

    async def worker() -> None:
        while queue:
            n = queue.pop()
            variables = {"id": ids[n % len(ids)], "input": {"description": f"single {n}"}}
            body = (
                await client.post("/graphql", json={"query": SINGLE, "variables": variables})
            ).json()
            if (
                body.get("data", {}).get("updatePrompt", {}).get("__typename")
                != "UpdatePromptSuccess"
            ):
                raise RuntimeError(f"single update failed: {body}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return items / (time.perf_counter() - started)


async def bulks(client: httpx.AsyncClient, ids: list[str], items: int) -> float:
    """Items per second of bulk updates of BATCH items, one request at a time."""
    started = time.perf_counter()
    for first in range(0, items, BATCH):
        batch = [
            {"id": ids[n % len(ids)], "input": {"description": f"bulk {n}"}}
            for n in range(first, min(first + BATCH, items))
        ]
        answer = (
            await client.post("/graphql", json={"query": BULK, "variables": {"items": batch}})
        ).json()
        payload: dict[str, Any] = answer.get("data", {}).get("updatePrompts", {})
        if payload.get("writtenCount") != len(batch):
            raise RuntimeError(f"bulk update failed: {str(answer)[:500]}")
    return items / (time.perf_counter() - started)


async def run(url: str, items: int, connections: int) -> int:
    ids = await prepare(url, BATCH)
    secret = secrets.token_urlsafe(32)
    port = free_port()
    headers = {"Authorization": f"Bearer {bench_token(secret)}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    with tempfile.TemporaryFile() as log:
        server = start_server(url, secret, port, log)
        base = f"http://127.0.0.1:{port}"

        def client() -> httpx.AsyncClient:
            # One per phase: connections idle through another phase are closed by the server
            # (keep-alive timeout), and a request on one of them would fail.
            return httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60)

        try:
            async with client() as ready:
                await wait_until_ready(ready, server)
                await singles(ready, ids, connections * 4, connections)  # warm-up: plans, lanes
                await bulks(ready, ids, BATCH * 2)
            async with client() as measured:
                single_rate = await singles(measured, ids, items, connections)
            async with client() as measured:
                bulk_rate = await bulks(measured, ids, items)
        finally:
            stop_server(server)
    backend = make_url(url).get_backend_name()
    print(
        f"bulk on {backend}: single {single_rate:.0f} items/s ({connections} connections), "
        f"bulk {bulk_rate:.0f} items/s ({BATCH} per request, 1 connection): "
        f"x{bulk_rate / single_rate:.2f} (target >= x5)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--items", type=int, default=3200)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    try:
        return asyncio.run(run(args.url, args.items, args.connections))
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
