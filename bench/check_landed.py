"""After a run: Patchbay's ratios to the baselines, its errors, and the writes that landed.

On PostgreSQL the prompts table's n_tup_upd delta over the whole run must be at least the
ok responses of the measured runs (it also counts warm-up and sanity writes, which the
harness does not report for a contender it cannot verify itself). BEFORE = -1 (SQLite, or a
read workload, which writes nothing) skips that check.

    python bench/check_landed.py RESULT_JSON BEFORE AFTER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    result = json.loads(Path(sys.argv[1]).read_text())
    before, after = int(sys.argv[2]), int(sys.argv[3])
    summary = {row["name"]: row for row in result["summary"]}
    ours = summary.get("ours")
    if not ours or not ours.get("runs"):
        print("ours did not run", file=sys.stderr)
        return 1
    # "before" (BEFORE_ROOT in compare.sh) writes to the same table
    ok_writes = sum(r.get("ok", 0) for r in result["runs"] if r.get("name") in ("ours", "before"))
    print(
        f"\nours: {ours['rps']:.0f} req/s, p50 {ours['p50_ms']:.1f} ms, "
        f"p99 {ours['p99_ms']:.1f} ms, errors {ours['errors']}"
    )
    # update floors and peers, then their read counterparts (compare.sh --reads)
    for base in ("before", "A", "E", "E5", "S", "A-list", "E-list", "E5-list", "S-list"):
        if summary.get(base, {}).get("rps"):
            b = summary[base]
            print(
                f"  vs {base}: throughput x{ours['rps'] / b['rps']:.2f}, "
                f"p99 x{ours['p99_ms'] / b['p99_ms']:.2f}"
            )
    landed_ok = True
    if before >= 0:
        landed = after - before
        landed_ok = landed >= ok_writes
        print(
            f"  rows updated {landed} >= ok responses measured {ok_writes}: "
            f"{'yes' if landed_ok else 'NO'}"
        )
    return 0 if ours["errors"] == 0 and landed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
