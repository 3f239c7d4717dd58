"""Searches for the documents that cost the gateway the most event-loop time before they
are refused or executed, under every cap, and prints the worst found.

    .venv/bin/python bench/worst_documents.py            # the search, ~1 min
    .venv/bin/python bench/worst_documents.py --quick    # the sizes the test suite uses

Each family of shapes grows (doubling its repeat count, then bisecting towards the caps:
5000 tokens, a 1 MiB body, depth, aliases, repeated pairs) and every document is sent to an
in-process gateway on SQLite, without a credential, as an attacker would. The cost is the
CPU time of the event loop's thread for the whole request (time.thread_time), execution of
the documents that are served included: what other clients wait for, and stable on a busy
machine, unlike wall time. Garbage collection is paused during each request and its full
collections are reported apart: they come due whatever the document.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.migrate import upgrade_async  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.hostile_documents import FAMILIES, Shape  # noqa: E402

MAX_BODY = 1024 * 1024


@dataclass
class Found:
    family: str
    count: int
    seconds: float
    bytes: int
    answer: str


async def cost(client: httpx.AsyncClient, query: str) -> tuple[float, str]:
    body = json.dumps({"query": query}).encode()
    if len(body) > MAX_BODY:
        return -1.0, "too large"
    gc.disable()  # a collection due anyway is nobody's document: reported apart (main)
    started = time.thread_time()
    try:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
    finally:
        spent = time.thread_time() - started
        gc.enable()
    answer = response.json()
    if answer.get("errors"):
        return spent, str(answer["errors"][0].get("message", ""))[:60]
    return spent, "served"


async def search(client: httpx.AsyncClient, family: str, shape: Shape, quick: bool) -> Found:
    worst = Found(family, 0, 0.0, 0, "")
    count = 1
    sizes = []
    while len(json.dumps({"query": shape(count)})) <= MAX_BODY and count <= 20000:
        sizes.append(count)
        count *= 2
    if not quick:  # between the powers of two, towards the largest that fits
        sizes += [s + s // 2 for s in sizes]
    for size in sorted(set(sizes)):
        query = shape(size)
        # A new comment each time: the cost of a document the gateway has not seen (a cached
        # refusal costs a hash); the least of the tries, against the machine's noise.
        tries = [f"# try {n}\n{query}" for n in range(1 if quick else 3)]
        seconds = min([(await cost(client, text))[0] for text in tries])
        _, answer = await cost(client, query)
        if seconds > worst.seconds:
            worst = Found(family, size, seconds, len(query), answer)
    return worst


async def main(quick: bool) -> list[Found]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/worst.db"
        await upgrade_async(url)
        app = create_app(
            Settings(
                database_url=url,
                env="production",
                jwt_secret="x" * 8 + "Kz8-vQ2rT5yWm1Xc4Fh7Lp0Nd3Gj6Sb9",
            )
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worst") as client:
            await cost(client, "{ __typename }")
            gc.collect()
            gc.freeze()  # as `patchbay serve` does once started: later objects are walked
            found = [await search(client, f, s, quick) for f, s in FAMILIES.items()]
        await app.state.db.dispose()
    return found


PAUSES: list[float] = []
_STARTED: list[float] = []


def _time_collections(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _STARTED[:] = [time.perf_counter()]
    elif _STARTED and info["generation"] == 2:
        PAUSES.append(time.perf_counter() - _STARTED[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    gc.callbacks.append(_time_collections)
    results = asyncio.run(main(parser.parse_args().quick))
    for found in sorted(results, key=lambda f: -f.seconds):
        print(
            f"{found.seconds * 1000:8.1f} ms  {found.family} (n={found.count}, "
            f"{found.bytes} bytes): {found.answer}"
        )
    worst = max(results, key=lambda f: f.seconds)
    print(f"worst: {worst.seconds * 1000:.1f} ms of event-loop CPU ({worst.family})")
    print(
        f"full garbage collections meanwhile: {len(PAUSES)}, the longest "
        f"{max(PAUSES, default=0) * 1000:.1f} ms (the search's own strings included)"
    )
