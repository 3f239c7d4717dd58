"""Patchbay's ASGI app driven in-process, without HTTP: CPU per request, and where it goes.

    python bench/inprocess.py --url URL --token FILE --ids FILE [--requests N] [--profile]
        [--reads [--page N] | --rest] [--setting NAME=VALUE ...] [--db-cpu]

Runs the harness's mutation (`description` of a random prepared prompt, variables in the
document), or with --reads the read of bench/compare.sh --reads (`prompts(first: 50)`, 9
fields), or with --rest the REST update of bench/rest.sh (`PATCH /v1/prompts/{id}`), with 32
requests in flight, like wrk in bench/compare.sh, and prints the
process CPU time per request. `--profile` prints cProfile's top functions as well. It
leaves out uvicorn's HTTP work, which the floor contenders pay too: use it to see what
a change of ours costs, and bench/compare.sh for figures against peers.
The access log line is written (to /dev/null) by the handler production writes it with.
`--db-cpu` (PostgreSQL on this machine) prints the database's CPU per request as well: the
run's change in the CPU time of the server processes serving the database of --url (from
/proc/PID/schedstat, nanoseconds; PostgreSQL shares the machine's cores with the gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import pstats
import random
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from gateway.app import create_app
from gateway.changes.listener import asyncpg_dsn
from gateway.observe.access_log import AccessLineWriter
from gateway.settings import Settings

DOCUMENT = (
    "mutation U($id: ID!, $input: UpdatePromptInput!) { updatePrompt(id: $id, input: $input) "
    "{ __typename ... on UpdatePromptSuccess { prompt { id name updatedAt } } "
    "... on NotFoundError { message } } }"
)
READ = (
    "query L($n: Int!) { prompts(first: $n) { ... on PromptConnection { edges { node { id name "
    "description title content model tags updatedAt updatedBy } } } } }"
)
IN_FLIGHT = 32


async def drive(
    app: Any,
    token: str,
    ids: list[str],
    requests: int,
    *,
    reads: bool,
    rest: bool = False,
    page: int = 50,
) -> None:
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    counter = 0
    failures = 0

    async def one() -> None:
        nonlocal counter, failures
        counter += 1
        prompt_id = random.choice(ids)  # noqa: S311 (a load, not a secret)
        path = f"/v1/prompts/{prompt_id}" if rest else "/graphql"
        body = orjson.dumps(
            {"description": f"d{counter}"}
            if rest
            else {"query": READ, "variables": {"n": page}}
            if reads
            else {
                "query": DOCUMENT,
                "variables": {"id": prompt_id, "input": {"description": f"d{counter}"}},
            }
        )
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "PATCH" if rest else "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(message.get("body", b""))

        await app(scope, receive, send)
        marker = b'"updatedBy"' if reads else b'"updated_at"' if rest else b"UpdatePromptSuccess"
        if marker not in b"".join(sent):
            failures += 1

    async def worker(share: int) -> None:
        for _ in range(share):
            await one()

    await asyncio.gather(*(worker(requests // IN_FLIGHT) for _ in range(IN_FLIGHT)))
    if failures:
        raise SystemExit(f"{failures} requests failed")


_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


async def backends_cpu(url: str) -> dict[int, int]:
    """CPU time (ns) of each server process connected to the database of `url` (but ours)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        pids = [row["pid"] for row in await conn.fetch(_BACKENDS)]
    finally:
        await conn.close()
    spent = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # gone in between
            spent[pid] = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])  # noqa: ASYNC240 (procfs)
    return spent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", type=Path, required=True)
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--reads", action="store_true", help="prompts(first: 50) instead")
    parser.add_argument("--page", type=int, default=50, help="with --reads: prompts(first: N)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Settings field, e.g. operation_cost=false or rate_limit=true (repeatable)",
    )
    parser.add_argument("--rest", action="store_true", help="PATCH /v1/prompts/{id} instead")
    parser.add_argument(
        "--db-cpu", action="store_true", help="PostgreSQL's CPU per request as well (local server)"
    )
    args = parser.parse_args()
    access = logging.getLogger("patchbay.access")
    # the handler `patchbay serve` gives it (one write per loop pass), to /dev/null
    access.addHandler(AccessLineWriter(Path("/dev/null").open("wb")))  # noqa: SIM115, ASYNC230
    access.setLevel(logging.INFO)
    access.propagate = False
    chosen = dict(setting.split("=", 1) for setting in args.setting)
    settings = Settings(
        env="production",
        database_url=args.url,
        jwt_secret=args.secret,
        metrics=False,
        **chosen,  # pydantic reads the strings
    )
    app = create_app(settings)
    token = args.token.read_text().strip()
    ids = args.ids.read_text().split()
    async with app.router.lifespan_context(app):
        options = {"reads": args.reads, "rest": args.rest, "page": args.page}
        await drive(app, token, ids, 2_000, **options)  # warm: plans learnt, pool filled
        profiler = cProfile.Profile() if args.profile else None
        db_before = await backends_cpu(args.url) if args.db_cpu else {}
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await drive(app, token, ids, args.requests, **options)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        db_after = await backends_cpu(args.url) if args.db_cpu else {}
    # backends that lived through the run (the lane keeps its connections)
    db_ns = sum(db_after[pid] - spent for pid, spent in db_before.items() if pid in db_after)
    print(
        f"{args.requests} requests: {args.requests / wall:.0f} req/s, "
        f"{cpu / args.requests * 1e6:.0f} us CPU per request"
        + (f", database {db_ns / args.requests / 1e3:.0f} us" if args.db_cpu else "")
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


if __name__ == "__main__":
    asyncio.run(main())
