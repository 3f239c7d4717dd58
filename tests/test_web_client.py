"""A real frontend client: clients/web, Apollo Client with generated types, against Patchbay.

Runs what a frontend's CI runs: graphql-codegen from schema.graphql, `tsc --noEmit` on code
that narrows UpdatePromptResult by `__typename`, and `node --test` against a live demo
(fragments on union members and on `Error`, Apollo's persisted-queries link).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import DEVELOPMENT_JWT_SECRET
from tests.factories import token
from tests.live_server import REPO, Demo, running_demo, unavailable

WEB = REPO / "clients" / "web"
NODE_TESTS_AT_LEAST = 12  # a runner that finds no test file must not pass


@pytest.fixture(scope="module")
def generated() -> None:
    """`npm run codegen`: types and possibleTypes from schema.graphql and src/documents.mjs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are needed for clients/web")
    if not (WEB / "node_modules" / "@apollo" / "client").is_dir():
        unavailable("clients/web has no node_modules: npm ci in clients/web")
    _run("npm", "run", "codegen", "--silent")
    assert (WEB / "src" / "generated" / "possible-types.json").is_file()


@pytest.fixture(scope="module")
def demo(generated: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("web")) as demo:
        yield demo


def test_typescript_narrows_update_prompt_result(generated: None) -> None:
    _run("npx", "--no-install", "tsc", "--noEmit")


def test_apollo_client_against_a_live_patchbay(demo: Demo) -> None:
    # when
    output = _run(
        "node",
        "--test",
        "--test-reporter=tap",
        "test/",
        env={"PATCHBAY_URL": f"{demo.url}/graphql", "PATCHBAY_TOKEN": demo.token},
    )
    # then
    counts = dict(re.findall(r"^# (tests|pass|fail|todo|skipped|cancelled) (\d+)$", output, re.M))
    assert counts.get("fail") == "0", output
    assert counts.get("cancelled") == "0", output
    assert int(counts.get("tests", 0)) >= NODE_TESTS_AT_LEAST, output


@pytest.fixture(scope="module")
def manifest(generated: None) -> Path:
    """`npm run manifest`: Apollo's generate-persisted-query-manifest, from src/."""
    _run("npm", "run", "manifest", "--silent")
    path = WEB / "persisted-query-manifest.json"
    assert path.is_file()
    return path


def test_the_apps_documents_run_where_only_trusted_documents_run(
    manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The app's manifest loaded by a gateway in enforce mode; the app's credential has no
    graphql:freeform scope: its documents run by id, anything else is refused."""
    settings = {
        "PATCHBAY_TRUSTED_DOCUMENTS": str(manifest),
        "PATCHBAY_TRUSTED_DOCUMENTS_POLICY": "enforce",
    }
    app_token = token(
        "alice", scope="prompts:read prompts:write", secret=DEVELOPMENT_JWT_SECRET, ttl=600
    )
    with running_demo(tmp_path_factory.mktemp("trusted"), **settings) as demo:
        output = _run(
            "node",
            "--test",
            "--test-reporter=tap",
            "test-trusted/",
            env={
                "PATCHBAY_URL": f"{demo.url}/graphql",
                "PATCHBAY_TOKEN": app_token,
                "PATCHBAY_MANIFEST": str(manifest),
            },
        )
    counts = dict(re.findall(r"^# (tests|pass|fail|todo|skipped|cancelled) (\d+)$", output, re.M))
    assert counts.get("fail") == "0", output
    assert counts.get("cancelled") == "0", output
    assert int(counts.get("tests", 0)) >= 6, output


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=WEB,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-6000:]}"
    return output
