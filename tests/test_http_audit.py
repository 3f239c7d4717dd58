"""The GraphQL over HTTP audit of `graphql-http` (its `auditServer`, a test suite nobody here
wrote) against a live `patchbay demo`: every audit, MUST, SHOULD and MAY, must be "ok".

clients/http-audit is its own npm project (graphql-http pinned in its lock file); its node
test turns each audit into one test, so the counts below are the audit's own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.live_server import REPO, running_demo, unavailable

AUDIT = REPO / "clients" / "http-audit"
AUDITS = 61  # graphql-http 1.23.1's server audits: a runner that finds fewer must not pass


def test_graphql_http_audit_passes_every_audit(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        unavailable("node is needed for the GraphQL over HTTP audit")
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        unavailable("clients/http-audit has no node_modules: npm ci in clients/http-audit")
    with running_demo(tmp_path) as demo:
        # when
        result = subprocess.run(
            ["node", "--test", "--test-reporter=tap", "test/"],
            cwd=AUDIT,
            env={**os.environ, "PATCHBAY_URL": f"{demo.url}/graphql"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # then
    output = result.stdout + result.stderr
    counts = dict(re.findall(r"^# (tests|pass|fail|cancelled) (\d+)$", output, re.M))
    failed = re.findall(r"^not ok \d+ - (.*)$", output, re.M)
    assert failed == [], output[-6000:]
    assert counts.get("pass") == str(AUDITS), output[-6000:]
    assert result.returncode == 0, output[-6000:]
