"""The processes deploy/topology.py starts: finding them, waiting for them, asking them."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from string import Template

WAIT_SECONDS = 60.0


def render(template: Path, target: Path, **values: object) -> None:
    text = Template(template.read_text()).substitute(
        {key: str(value) for key, value in values.items()}
    )
    target.write_text(text)


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if found is None:
        raise SystemExit(f"{name} is not installed: apt-get install {name}")
    return found


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def server_states(stats_socket: Path, backend: str) -> dict[str, str]:
    """HAProxy's view of each server of `backend` (UP, DOWN, ...), from its stats socket."""
    try:
        with socket.socket(socket.AF_UNIX) as stats:
            stats.settimeout(2)
            stats.connect(str(stats_socket))
            stats.sendall(b"show stat\n")
            raw = b""
            while chunk := stats.recv(65536):
                raw += chunk
    except OSError:
        return {}
    lines = raw.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {
        row["svname"]: row["status"].split()[0]
        for row in rows
        if row.get("pxname") == backend and row["svname"] not in ("BACKEND", "FRONTEND")
    }


def wait_gone(pid: int, *, timeout: float) -> bool:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(gone, what="", timeout=timeout)
    except SystemExit:
        return False
    return True


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} within {timeout:.0f} s")
        time.sleep(0.05)


def user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
