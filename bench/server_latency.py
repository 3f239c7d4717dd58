"""Patchbay's own latency in a harness run, from its access lines: p50 and p99 per round.

    python bench/server_latency.py SERVER_LOG [--from-byte N] [--warmup SECONDS]

The shared harness appends each round's server output to one log, after a `=== … ours`
header. `duration_ms` in an access line is the time from the request reaching the
gateway to its response: the gateway and its database, without the load generator.
(wrk's own figures include its pauses: with a million ids in its Lua table they add
tens of ms to its p99 whatever the server does.) Lines of the first `--warmup` seconds
of each round are left out, as the harness leaves out its warm-up.

Works for either workload (`compare.sh` or `compare.sh --reads`): the last line counts what
the gateway answered in the measured lines (the access line's `results`, e.g.
`UpdatePromptSuccess` or `PromptConnection`) and any status other than 200.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson


def rounds(text: str) -> list[list[bytes]]:
    found: list[list[bytes]] = []
    for line in text.encode().splitlines():
        if line.startswith(b"=== "):
            found.append([])
        elif line.startswith(b"{") and found:
            found[-1].append(line)
    return [lines for lines in found if lines]


def measured(lines: list[bytes], warmup: float) -> list[dict]:
    entries = [e for e in map(orjson.loads, lines) if "duration_ms" in e and "time" in e]
    if not entries:
        return []
    start = datetime.fromisoformat(entries[0]["time"])
    return [
        e for e in entries if (datetime.fromisoformat(e["time"]) - start).total_seconds() >= warmup
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path)
    parser.add_argument("--from-byte", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    with args.log.open("rb") as log:
        log.seek(args.from_byte)
        text = log.read().decode("utf-8", "replace")
    p50s, p99s = [], []
    answers: Counter[str] = Counter()
    for number, lines in enumerate(rounds(text), start=1):
        entries = measured(lines, args.warmup)
        if not entries:
            continue
        durations = sorted(e["duration_ms"] for e in entries)
        for e in entries:
            answers.update(e.get("results") or ["(none)"])
            if e.get("status") != 200:
                answers[f"status {e.get('status')}"] += 1
        p50 = durations[len(durations) // 2]
        p99 = durations[int(len(durations) * 0.99)]
        p50s.append(p50)
        p99s.append(p99)
        print(f"  round {number}: {len(durations)} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if p99s:
        print(
            f"ours, inside the gateway (access lines, median of {len(p99s)} rounds): "
            f"p50 {statistics.median(p50s):.2f} ms, p99 {statistics.median(p99s):.2f} ms"
        )
        print("  answered: " + ", ".join(f"{name} {n}" for name, n in answers.most_common()))


if __name__ == "__main__":
    main()
