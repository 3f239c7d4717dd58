"""Instructions per GraphQL update of the real server: `patchbay serve` under valgrind.

    python bench/served_instructions.py --url URL --token FILE --ids FILE --secret SECRET \
        [--root TREE] [--sizes 320,1920] [--env NAME=VALUE ...]

Starts the server of --root (default: this checkout) under callgrind, as bench/compare.sh
starts it (production settings, the access line written, uvloop and httptools), warms it,
sends N updates (the harness's mutation on random prompts of --ids, 32 keep-alive
connections, like wrk in bench/compare.sh) and stops it; twice, with the two --sizes. The
difference of the two runs' totals over the difference of their sizes is the user-space
instructions per update, start-up and warm-up cancelled: uvicorn's HTTP work included,
the kernel's left out. Unlike req/s on a shared machine it does not move with the load
beside it (repeated runs agree within ~1%), so it can tell a 1-3% change, which rounds of
bench/compare.sh cannot. `--env` sets a setting for the server, e.g.
PATCHBAY_OPERATION_COST=false or PATCHBAY_RATE_LIMIT=true (repeatable). Needs valgrind and
a database prepared by bench/prepare.py (--ids, --token).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CONNECTIONS = 32
WARMUP = 320
READY_WITHIN_SECONDS = 300.0  # under valgrind the start-up takes tens of seconds
DOCUMENT = (
    "mutation U($id: ID!, $input: UpdatePromptInput!) { updatePrompt(id: $id, input: $input) "
    "{ __typename ... on UpdatePromptSuccess { prompt { id name updatedAt } } "
    "... on NotFoundError { message } } }"
)
_COLLECTED = re.compile(rb"Collected : (\d+)")
SERVE = "import sys; from gateway.cli import main; sys.argv[0] = 'patchbay'; sys.exit(main())"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def _updates(port: int, token: str, ids: list[str], count: int) -> int:
    """Sends `count` updates over keep-alive connections; the number answered with a success."""
    succeeded = 0

    async def connection(share: int) -> None:
        nonlocal succeeded
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for n in range(share):
                prompt = random.choice(ids)  # noqa: S311 (a load, not a secret)
                body = orjson.dumps(
                    {
                        "query": DOCUMENT,
                        "variables": {"id": prompt, "input": {"description": f"{n}"}},
                    }
                )
                head = (
                    f"POST /graphql HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
                    f"accept: application/json\r\nauthorization: Bearer {token}\r\n"
                    f"content-length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                status, length = await reader.readline(), 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                succeeded += b" 200 " in status and b"UpdatePromptSuccess" in answer
        finally:
            writer.close()

    share, extra = divmod(count, CONNECTIONS)
    await asyncio.gather(*(connection(share + (i < extra)) for i in range(CONNECTIONS)))
    return succeeded


def served_total(args: argparse.Namespace, count: int, token: str, ids: list[str]) -> int:
    """The server's instructions over its whole life, having served WARMUP + count updates."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(args.root),
        "PYTHONHASHSEED": "0",
        "PATCHBAY_ENV": "production",
        "PATCHBAY_DATABASE_URL": args.url,
        "PATCHBAY_JWT_SECRET": args.secret,
        "PATCHBAY_LOG_LEVEL": "info",
        **dict(pair.split("=", 1) for pair in args.env),
    }
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch, "server.log")
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={scratch}/callgrind.out",
                    sys.executable,
                    "-c",
                    SERVE,
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                ],
                cwd=args.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(port, server)
                warmed = asyncio.run(_updates(port, token, ids, WARMUP))
                served = asyncio.run(_updates(port, token, ids, count))
                if warmed != WARMUP or served != count:
                    raise SystemExit(f"{WARMUP + count - warmed - served} updates failed")
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=120)
        found = _COLLECTED.search(log.read_bytes())
        if found is None:
            raise SystemExit(f"callgrind printed no total; see the server's output:\n{log}")
        return int(found.group(1))


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server stopped before it was ready")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server was not ready in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", type=Path, required=True)
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree whose server runs")
    parser.add_argument("--sizes", default="320,1920", help="two request counts")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    small, large = (int(size) for size in args.sizes.split(","))
    token, ids = args.token.read_text().strip(), args.ids.read_text().split()
    low = served_total(args, small, token, ids)
    high = served_total(args, large, token, ids)
    print(f"{(high - low) / (large - small):,.0f} instructions per update ({low:,} / {high:,})")


if __name__ == "__main__":
    main()
