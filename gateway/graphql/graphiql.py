"""GraphiQL with self-hosted assets: Strawberry's own page, its CDN files served from npm's.

Strawberry's page loads React, GraphiQL and its explorer plugin from unpkg.com, which a machine
with no internet cannot reach. With `PATCHBAY_GRAPHIQL_ASSETS` pointing at a `node_modules`
directory holding the same packages (`npm ci` in `clients/graphiql`), the same page is served
with each CDN address replaced by a local one under `/graphiql/assets/`. The page keeps its
`integrity` hashes, so the browser still refuses any file that is not the exact one pinned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.http.ides import get_graphql_ide_html

ASSETS_PATH = "/graphiql/assets"

_CDN_URL = re.compile(
    r"https://unpkg\.com/(?P<package>(?:@[\w.-]+/)?[\w.-]+)@(?P<version>[\w.+-]+)/(?P<path>[^\"']+)"
)
_TAG = re.compile(r"""<(?:script|link)\b(?:[^>"]|"[^"]*")*>""")
_ATTRIBUTE = re.compile(r"""\b(?P<name>src|href|integrity)\s*=\s*"(?P<value>[^"]*)\"""", re.S)


class GraphiQLAssetsError(ValueError):
    """The assets directory does not hold the files the page needs."""


@dataclass(frozen=True)
class Asset:
    """One file Strawberry's page loads from the CDN."""

    package: str
    version: str
    path: str  # inside the package
    integrity: str | None  # the page's Subresource Integrity value, e.g. "sha384-…"

    @property
    def local_path(self) -> str:
        return f"{self.package}/{self.path}"


@dataclass(frozen=True)
class SelfHostedGraphiQL:
    page: str
    routes: tuple[BaseRoute, ...]


def self_hosted_graphiql(assets: Path | None) -> SelfHostedGraphiQL | None:
    """None when no assets directory is configured: Strawberry's CDN page is served."""
    if assets is None:
        return None
    directory = _node_modules(assets)
    page = get_graphql_ide_html("graphiql")
    required = cdn_assets(page)
    for asset in required:
        _check(directory, asset)
    local_page = _CDN_URL.sub(lambda m: f"{ASSETS_PATH}/{m['package']}/{m['path']}", page)
    remote = [url for url in _loaded_urls(local_page) if re.match(r"(?i)(https?:)?//", url)]
    if remote:  # Strawberry changed its page in a way this module does not know
        raise GraphiQLAssetsError(f"GraphiQL's page still loads {remote}")
    files = _AllowedFiles(directory, allowed={a.local_path for a in required})
    return SelfHostedGraphiQL(page=local_page, routes=(Mount(ASSETS_PATH, app=files),))


def cdn_assets(page: str) -> list[Asset]:
    """The files a GraphiQL page loads from unpkg.com, with their integrity hashes."""
    found = []
    for tag in _TAG.findall(page):
        attributes = {m["name"]: m["value"] for m in _ATTRIBUTE.finditer(tag)}
        url = attributes.get("src") or attributes.get("href") or ""
        if match := _CDN_URL.fullmatch(url):
            found.append(
                Asset(
                    package=match["package"],
                    version=match["version"],
                    path=match["path"],
                    integrity=attributes.get("integrity"),
                )
            )
    return found


def _loaded_urls(page: str) -> list[str]:
    return [
        m["value"]
        for tag in _TAG.findall(page)
        for m in _ATTRIBUTE.finditer(tag)
        if m["name"] in ("src", "href")
    ]


def _node_modules(assets: Path) -> Path:
    """Accept the npm project (`clients/graphiql`) as well as its `node_modules`."""
    if (assets / "node_modules").is_dir():
        assets = assets / "node_modules"
    if not assets.is_dir():
        raise GraphiQLAssetsError(
            f"PATCHBAY_GRAPHIQL_ASSETS={assets} is not a directory: run `npm ci` in "
            "clients/graphiql and point the setting at its node_modules"
        )
    return assets.resolve()


def _check(directory: Path, asset: Asset) -> None:
    manifest = directory / asset.package / "package.json"
    try:
        installed = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != asset.version:
        raise GraphiQLAssetsError(
            f"GraphiQL needs {asset.package}@{asset.version} in {directory}, found "
            f"{installed or 'nothing'}: pin that version in clients/graphiql/package.json "
            "and run `npm ci` there"
        )
    file = directory / asset.local_path
    if not file.is_file():
        raise GraphiQLAssetsError(f"GraphiQL needs {file}, which is missing")
    if asset.integrity and not _matches(file, asset.integrity):
        raise GraphiQLAssetsError(
            f"{file} differs from the file the page expects ({asset.integrity})"
        )


def _matches(file: Path, integrity: str) -> bool:
    """Subresource Integrity: any one of the space-separated `alg-base64` values."""
    for value in integrity.split():
        algorithm, _, expected = value.partition("-")
        if algorithm in ("sha256", "sha384", "sha512"):
            digest = hashlib.new(algorithm, file.read_bytes()).digest()
            if base64.b64encode(digest).decode() == expected:
                return True
    return False


class _AllowedFiles(StaticFiles):
    """Serves the page's files only, not the rest of node_modules."""

    def __init__(self, directory: Path, *, allowed: set[str]) -> None:
        super().__init__(directory=directory)
        self.allowed = frozenset(os.path.normpath(path) for path in allowed)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self.allowed:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
