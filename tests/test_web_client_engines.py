"""`clients/web` installs on the Node the README names without one engine warning.

npm checks every locked package's `engines` against the running Node; `--engine-strict`
turns each warning into a refusal, and `--dry-run` reads the lock file without installing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.live_server import REPO, unavailable

WEB = REPO / "clients" / "web"
README_NODE = re.compile(r"Node\.js (?P<major>\d+)\+")


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("node and npm are needed for clients/web")
    return npm


def _readme_node() -> str:
    named = README_NODE.search((REPO / "README.md").read_text())
    assert named, "the README names no Node.js version (`Node.js NN+`)"
    return named["major"]


def _running_node() -> str:
    running = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return running.stdout.lstrip("v").split(".")[0]


def test_the_readme_names_the_node_this_machine_runs() -> None:
    _npm()
    assert _running_node() == _readme_node()


def test_every_locked_package_accepts_this_node(tmp_path: Path) -> None:
    # given: the project's manifest and lock file, nothing else, on the README's Node
    npm = _npm()
    if _running_node() != _readme_node():
        unavailable(f"the README's Node.js {_readme_node()} is needed, not {_running_node()}")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(WEB / name, tmp_path / name)
    # when
    result = subprocess.run(
        [npm, "ci", "--dry-run", "--engine-strict", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    assert "EBADENGINE" not in output
