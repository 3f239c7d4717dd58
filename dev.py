#!/usr/bin/env python3
"""Set-up and everyday commands, needing nothing but Python 3.11+.

    python3 dev.py demo     # venv + install + migrate + seed, print a token, serve on SQLite
    python3 dev.py test     # venv + install + ruff + mypy + the suite (SQLite and PostgreSQL)
    python3 dev.py install  # only the venv and the install (used by bench/compare.sh)
    python3 dev.py docs     # regenerate docs/configuration.md from gateway/settings.py

Extra arguments after `demo` go to `patchbay demo` (--host, --port), after `test` to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_environment() -> None:
    """Create .venv and install the project once per change of pyproject.toml."""
    if sys.version_info < (3, 11):
        sys.exit("Patchbay needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("creating .venv", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if not stamp.exists():
        print("installing Patchbay and its test tools into .venv", flush=True)
        pip = [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "--editable", f"{ROOT}[test]"], check=True)
        stamp.touch()


def run(*command: str) -> None:
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode:
        sys.exit(result.returncode)


def main() -> None:
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action in ("-h", "--help", "help"):
        print(__doc__)
        return
    if action not in ("demo", "test", "install", "docs"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ensure_environment()
    if action == "install":
        return
    if action == "docs":
        run(str(BIN / "python"), "-m", "gateway.cli.configuration_doc", "docs/configuration.md")
        return
    if action == "demo":
        os.execv(BIN / "patchbay", [str(BIN / "patchbay"), "demo", *sys.argv[2:]])
    run(str(BIN / "ruff"), "check", ".")
    run(str(BIN / "ruff"), "format", "--check", ".")
    run(str(BIN / "mypy"))
    run(str(BIN / "python"), "-m", "pytest", *sys.argv[2:])


if __name__ == "__main__":
    main()
