"""GraphiQL's page with npm's files from PATCHBAY_GRAPHIQL_ASSETS (the download cache, used
when it is unset, is in test_graphiql_download.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html

from gateway.app import create_app
from gateway.graphql.graphiql import GraphiQLAssetsError, cdn_assets, self_hosted_graphiql
from gateway.settings import Settings
from tests.factories import TEST_SECRET, client_for
from tests.live_server import GRAPHIQL_ASSETS, REPO, unavailable

HTML = {"Accept": "text/html"}
STRAWBERRY_ASSETS = cdn_assets(get_graphql_ide_html("graphiql"))


def _settings(tmp_path: Path, **settings: object) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        jwt_secret=TEST_SECRET,
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
async def self_hosted(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    if not (GRAPHIQL_ASSETS / "graphiql").is_dir():
        unavailable("GraphiQL's assets are missing: npm ci in clients/graphiql")
    async with client_for(_settings(tmp_path, graphiql_assets=GRAPHIQL_ASSETS)) as client:
        yield client


def test_strawberrys_page_loads_the_files_we_know() -> None:
    assert {a.package for a in STRAWBERRY_ASSETS} >= {"graphiql", "react", "react-dom"}
    assert all(a.integrity for a in STRAWBERRY_ASSETS)


def test_clients_graphiql_pins_the_versions_strawberrys_page_loads() -> None:
    # A Strawberry upgrade that moves its CDN versions fails here: pin the same in npm.
    pinned = json.loads((REPO / "clients/graphiql/package.json").read_text())["dependencies"]
    needed = {asset.package: asset.version for asset in STRAWBERRY_ASSETS}
    assert {name: pinned.get(name) for name in needed} == needed


async def test_self_hosted_page_loads_nothing_from_elsewhere(
    self_hosted: httpx.AsyncClient,
) -> None:
    # when
    page = await self_hosted.get("/graphql", headers=HTML)
    # then
    assert page.status_code == 200
    loaded = re.findall(r'(?:src|href)="(/[^"]*|https?:[^"]*)"', page.text)
    assert loaded == [f"/graphiql/assets/{a.package}/{a.path}" for a in STRAWBERRY_ASSETS]
    assert "unpkg.com" not in page.text
    assert page.text.count("integrity=") == len(STRAWBERRY_ASSETS)


async def test_self_hosted_files_are_the_npm_files(self_hosted: httpx.AsyncClient) -> None:
    for asset in STRAWBERRY_ASSETS:
        response = await self_hosted.get(f"/graphiql/assets/{asset.package}/{asset.path}")
        assert response.status_code == 200
        assert response.content == (GRAPHIQL_ASSETS / asset.package / asset.path).read_bytes()
        kind = "text/css" if asset.path.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(kind)


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/assets/react/package.json",
        "/graphiql/assets/graphiql/graphiql.js",
        "/graphiql/assets/../pyproject.toml",
        "/graphiql/assets/%2e%2e/%2e%2e/pyproject.toml",
        "/graphiql/assets/",
    ],
)
async def test_only_the_pages_files_are_served(self_hosted: httpx.AsyncClient, path: str) -> None:
    assert (await self_hosted.get(path)).status_code == 404


async def test_graphql_still_answers_beside_the_assets(self_hosted: httpx.AsyncClient) -> None:
    response = await self_hosted.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["data"] == {"__typename": "Query"}


def test_switching_graphiql_off_serves_no_assets(tmp_path: Path) -> None:
    app = create_app(Settings(graphiql=False, graphiql_assets=tmp_path / "missing"))
    assert not any(getattr(r, "path", "").startswith("/graphiql") for r in app.routes)


def test_a_missing_directory_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(GraphiQLAssetsError, match="npm ci"):
        self_hosted_graphiql(tmp_path / "missing")


def test_another_version_is_refused_at_start(tmp_path: Path) -> None:
    react = next(asset for asset in STRAWBERRY_ASSETS if asset.package == "react")
    _fake_node_modules(tmp_path, version_of={"react": "0.0.1"})
    with pytest.raises(GraphiQLAssetsError, match=rf"react@{re.escape(react.version)} .* 0\.0\.1"):
        self_hosted_graphiql(tmp_path)


def test_a_file_that_differs_from_the_pinned_one_is_refused_at_start(tmp_path: Path) -> None:
    _fake_node_modules(tmp_path)
    with pytest.raises(GraphiQLAssetsError, match="differs from the file the page expects"):
        self_hosted_graphiql(tmp_path)


def _fake_node_modules(root: Path, version_of: dict[str, str] | None = None) -> None:
    for asset in STRAWBERRY_ASSETS:
        package = root / "node_modules" / asset.package
        (package / asset.path).parent.mkdir(parents=True, exist_ok=True)
        (package / asset.path).write_text("/* not the real file */")
        version = (version_of or {}).get(asset.package, asset.version)
        (package / "package.json").write_text(json.dumps({"version": version}))
