"""GraphiQL with nothing but Python: its pinned files fetched once from the npm registry into the
user's cache, served by Patchbay; without them, a page that says what to set."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html

from gateway.graphql.graphiql import GraphiQLAssetsError, cdn_assets, missing_assets
from gateway.graphql.graphiql_download import fetch_graphiql
from gateway.graphql.graphiql_pins import TARBALL_INTEGRITY
from gateway.settings import Settings
from tests.factories import TEST_SECRET, client_for
from tests.live_server import REPO, unavailable

HTML = {"Accept": "text/html"}
NPM = "https://registry.npmjs.org"
PAGE_ASSETS = cdn_assets(get_graphql_ide_html("graphiql"))
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache filled from the real npm registry, once for this module."""
    cache = tmp_path_factory.mktemp("cache") / "patchbay" / "graphiql"
    try:
        fetch_graphiql(cache, registry=NPM)
    except GraphiQLAssetsError as error:
        unavailable(f"the npm registry cannot be reached: {error}")
    return cache


def _settings(tmp_path: Path, **settings: object) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        jwt_secret=TEST_SECRET,
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
async def empty_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nothing-here"))
    async with client_for(_settings(tmp_path)) as client:
        yield client


def test_the_pins_cover_the_page_and_equal_the_lock_file() -> None:
    lock = json.loads((REPO / "clients/graphiql/package-lock.json").read_text())["packages"]
    page = {f"{a.package}@{a.version}" for a in PAGE_ASSETS}
    assert set(TARBALL_INTEGRITY) == page
    for pinned, integrity in TARBALL_INTEGRITY.items():
        package, _, version = pinned.rpartition("@")
        assert lock[f"node_modules/{package}"]["version"] == version
        assert lock[f"node_modules/{package}"]["integrity"] == integrity


def test_the_cache_holds_exactly_the_pages_files(downloaded: Path) -> None:
    assert missing_assets(downloaded, PAGE_ASSETS) == []
    kept = {
        str(path.relative_to(downloaded))
        for path in downloaded.rglob("*")
        if path.is_file() and path.name != "package.json"
    }
    assert kept == {a.local_path for a in PAGE_ASSETS}


def test_a_filled_cache_is_used_without_the_network(downloaded: Path) -> None:
    assert fetch_graphiql(downloaded, registry=NOWHERE) == []


def test_an_unreachable_registry_is_one_line_naming_the_address(tmp_path: Path) -> None:
    with pytest.raises(GraphiQLAssetsError, match=r"cannot download http://127\.0\.0\.1:9/"):
        fetch_graphiql(tmp_path / "cache", registry=NOWHERE)
    assert not list((tmp_path / "cache").rglob("*.js"))


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    # given: a registry that answers every tarball with a well-formed but different package
    impostor = _tarball({"package.json": b'{"version": "18.2.0"}'})
    with (
        _registry_serving(impostor) as registry,
        pytest.raises(GraphiQLAssetsError, match="does not match its pinned integrity"),
    ):
        fetch_graphiql(tmp_path / "cache", registry=registry)
    assert not list((tmp_path / "cache").rglob("*.js"))


async def test_without_the_files_the_page_says_what_to_set(
    empty_cache: httpx.AsyncClient,
) -> None:
    # when
    page = await empty_cache.get("/graphql", headers=HTML)
    # then: words and the settings' names, no CDN, no endless "Loading..."
    assert page.status_code == 200
    assert "GraphiQL's files are not available" in page.text
    assert "PATCHBAY_GRAPHIQL_ASSETS" in page.text
    assert "PATCHBAY_GRAPHIQL_REGISTRY" in page.text
    assert "graphiql@3.8.3" in page.text
    assert "unpkg.com" not in page.text
    assert "Loading" not in page.text
    assert "<script" not in page.text
    # and the API still answers
    answer = await empty_cache.post("/graphql", json={"query": "{ __typename }"})
    assert answer.json()["data"] == {"__typename": "Query"}


async def test_with_the_cache_filled_the_page_loads_only_patchbays_files(
    downloaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("XDG_CACHE_HOME", str(downloaded.parent.parent))
    async with client_for(_settings(tmp_path)) as client:
        # when
        page = await client.get("/graphql", headers=HTML)
        # then
        assert "unpkg.com" not in page.text
        for asset in PAGE_ASSETS:
            served = await client.get(f"/graphiql/assets/{asset.local_path}")
            assert served.status_code == 200
            assert served.content == (downloaded / asset.local_path).read_bytes()
            assert f'"/graphiql/assets/{asset.local_path}"' in page.text


async def test_the_root_leads_to_graphiql(empty_cache: httpx.AsyncClient) -> None:
    response = await empty_cache.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/graphql"


async def test_without_graphiql_the_root_is_not_found(tmp_path: Path) -> None:
    async with client_for(_settings(tmp_path, graphiql=False)) as client:
        assert (await client.get("/")).status_code == 404
        assert (
            await client.get("/graphiql/assets/react/umd/react.production.min.js")
        ).status_code == 404


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


class _Registry(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def _registry_serving(body: bytes) -> Iterator[str]:
    handler = type("Registry", (_Registry,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cache_that_cannot_be_written_is_one_line(downloaded: Path, tmp_path: Path) -> None:
    # given: the registry answers (`downloaded`), but a file stands where the cache should be
    (tmp_path / "cache").write_text("not a directory")
    # when / then
    with pytest.raises(GraphiQLAssetsError, match=rf"cannot write {tmp_path / 'cache'}: "):
        fetch_graphiql(tmp_path / "cache", registry=NPM)
