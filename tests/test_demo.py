"""The README's run command, as a newcomer runs it: a real server on a fresh SQLite file."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_until

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
HEADER = re.compile(r'\{"Authorization": "Bearer (?P<token>[^"]+)"\}')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = _free_port()
    server = subprocess.Popen(
        [PATCHBAY, "demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no PATCHBAY_* settings at all
    )
    assert server.stdout is not None
    try:
        token = None
        for line in server.stdout:
            if match := HEADER.search(line):
                token = match.group("token")
                break
        assert token, "demo printed no Authorization header"
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), timeout=20, what="the demo server did not answer")
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (tmp_path / "patchbay.db").exists()


def test_demo_serves_graphiql_and_alices_viewer(demo: tuple[str, str]) -> None:
    url, token = demo
    # when: a browser opens GraphiQL
    page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"}, timeout=5)
    # then
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    # when: the printed header is used
    answer = httpx.post(
        f"{url}/graphql",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": "{ viewer { ... on Viewer { subject kind organization { slug } } } }"},
        timeout=5,
    )
    # then
    assert json.loads(answer.text)["data"]["viewer"] == {
        "subject": "alice",
        "kind": "USER",
        "organization": {"slug": "acme"},
    }
    # and the demo data is there
    prompts = httpx.post(
        f"{url}/graphql",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": "{ prompts { ... on PromptConnection { edges { node { name } } } } }"},
        timeout=5,
    ).json()
    names = {edge["node"]["name"] for edge in prompts["data"]["prompts"]["edges"]}
    assert names == {"welcome", "hold-music", "after-hours"}
