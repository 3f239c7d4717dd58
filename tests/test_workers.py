"""`patchbay serve --workers 2` as an operator runs it: a real process tree on a SQLite file.

Both workers answer; each worker's `/metrics` reports the totals of both (prometheus_client's
multiprocess mode, set up by `serve`); every request writes one bare JSON line to stdout.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.cli.serve import _multiprocess_metrics_dir
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, token
from tests.waiting import poll_until

PATCHBAY = str(Path(sys.executable).parent / "patchbay")
COMMAND_SECONDS = 60
STARTUP_SECONDS = 30
MAX_REQUESTS = 400  # bound on the loop that waits for both workers to have answered
STARTED = re.compile(r"Started server process \[(\d+)\]")
RENAME = """
mutation Rename($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) { __typename }
}
"""
READ = 'query Read { prompt(id: "prm_acme_after_hours") { __typename } }'
READ_WELCOME = """
query ReadWelcome { prompt(id: "prm_acme_welcome") { __typename ... on Prompt { title } } }
"""


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    tmp: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _patchbay(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [PATCHBAY, *args], env=env, capture_output=True, text=True, timeout=COMMAND_SECONDS
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),  # where `serve` makes its metrics directory
        "PATCHBAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'patchbay.db'}",
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
    }
    _patchbay(env, "db", "upgrade")
    _patchbay(env, "seed")
    port = _free_port()
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [PATCHBAY, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_both_workers_started(process, stderr)
        yield Served(url, process, stdout, stderr, tmp_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_both_workers_started(process: subprocess.Popen[bytes], stderr: Path) -> None:
    started = poll_until(
        lambda: _both_started(stderr.read_text()) or process.poll() is not None,
        timeout=STARTUP_SECONDS,
    )
    assert process.poll() is None, stderr.read_text()
    assert started, f"workers did not start: {stderr.read_text()}"


def _both_started(stderr: str) -> bool:
    return len(_worker_pids(stderr)) == 2 and stderr.count("Application startup complete") == 2


def _worker_pids(stderr: str) -> set[str]:
    return set(STARTED.findall(stderr))


def _post(
    url: str, query: str, variables: dict[str, str] | None, auth: str | None
) -> dict[str, Any]:
    """One request on a connection of its own, so the kernel may hand it to either worker;
    returns the value of its one root field."""
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    data: dict[str, dict[str, Any]] = response.json()["data"]
    return next(iter(data.values()))


def _counts(metrics_text: str) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["operation"], sample.labels["result"]): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "patchbay_graphql_request_duration_seconds_count"
    }


def _workers_with_metrics(tmp: Path) -> set[str]:
    """Pids that wrote metrics files: each worker that answered a request has one."""
    return {path.stem.rsplit("_", 1)[-1] for path in tmp.glob("patchbay-metrics-*/histogram_*.db")}


def test_responses_name_no_server_software_but_carry_the_date(served: Served) -> None:
    # when
    response = httpx.get(f"{served.url}/healthz", timeout=10)
    # then: HTTP's Date (an origin server with a clock sends it), no `server: uvicorn`
    assert response.status_code == 200
    assert "date" in response.headers
    assert "server" not in response.headers


def test_two_workers_answer_and_every_scrape_reports_both(served: Served) -> None:
    # given
    alice, carol = token("alice"), token("carol")
    kinds = [
        (RENAME, {"title": "From a worker"}, alice, "Rename", "UpdatePromptSuccess"),
        (RENAME, {"title": "x"}, carol, "Rename", "NotFoundError"),
        (RENAME, {"title": "x"}, None, "Rename", "UnauthorizedError"),
        (READ, None, alice, "Read", "Prompt"),
    ]
    made: Counter[tuple[str, str]] = Counter()
    # when: requests until both workers have answered some (bounded)
    while len(made) < len(kinds) or len(_workers_with_metrics(served.tmp)) < 2:
        assert made.total() < MAX_REQUESTS, "one worker answered every request"
        for query, variables, auth, operation, expected in kinds:
            assert _post(served.url, query, variables, auth)["__typename"] == expected
            made[(operation, expected)] += 1
    scrapes = [httpx.get(f"{served.url}/metrics", timeout=10) for _ in range(6)]
    # then: whichever worker answers a scrape, it reports the requests of both
    assert all(scrape.status_code == 200 for scrape in scrapes)
    assert all(_counts(scrape.text) == made for scrape in scrapes)
    pool_pids = {
        sample.labels["pid"]
        for scrape in scrapes
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "patchbay_db_pool_size"
    }
    assert pool_pids
    assert pool_pids <= _worker_pids(served.stderr.read_text())  # a pool is one worker's
    # then: what one worker wrote, whichever worker answers reads
    assert _post(served.url, READ_WELCOME, None, alice) == {
        "__typename": "Prompt",
        "title": "From a worker",
    }
    # then: stdout holds one bare JSON line per request, and only those
    served.process.terminate()
    served.process.wait(timeout=COMMAND_SECONDS)
    lines = [json.loads(line) for line in served.stdout.read_text().splitlines()]
    graphql = Counter(
        (line["operation"], line["results"][0]) for line in lines if line["path"] == "/graphql"
    )
    assert graphql == made + Counter({("ReadWelcome", "Prompt"): 1})
    assert [line["path"] for line in lines].count("/metrics") == len(scrapes)
    output = served.stdout.read_text() + served.stderr.read_text()
    assert alice not in output
    assert carol not in output
    # then: the metrics directory `serve` made is gone with it
    assert not list(served.tmp.glob("patchbay-metrics-*"))


def test_an_operators_metrics_directory_is_emptied_of_the_last_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_123.db").write_bytes(b"stale")
    (chosen / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    # when
    made = _multiprocess_metrics_dir(settings_for("sqlite+aiosqlite:///unused.db"), workers=4)
    # then
    assert made is None
    assert sorted(path.name for path in chosen.iterdir()) == ["keep.txt"]
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(chosen)
