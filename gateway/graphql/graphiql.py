"""GraphiQL served whole by Patchbay: Strawberry's own page, its CDN files served locally.

Strawberry's page loads React, GraphiQL and its explorer plugin from unpkg.com, which a machine
with no internet cannot reach. Patchbay serves the same page with each CDN address replaced by
a local one under `/graphiql/assets/`, the files coming from `PATCHBAY_GRAPHIQL_ASSETS` (a
`node_modules` from `npm ci` in `clients/graphiql`) or else from the cache that `patchbay demo`
and `patchbay serve` fill from the npm registry (`graphiql_download.py`). The page keeps its
`integrity` hashes, so the browser still refuses any file that is not the exact one pinned.
Without the files, the page says so and what to set: never a blank "Loading...".
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
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


def graphiql_front(assets: Path | None, *, cache: Path) -> SelfHostedGraphiQL:
    """The files of PATCHBAY_GRAPHIQL_ASSETS (a wrong directory stops the start), else those
    of the download cache; without them, a page that says what to do."""
    if assets is not None:
        return self_hosted_graphiql(assets)
    missing = missing_assets(cache, cdn_assets(get_graphql_ide_html("graphiql")))
    if missing:
        return SelfHostedGraphiQL(page=unavailable_page(cache, missing), routes=())
    return self_hosted_graphiql(cache)


def default_cache() -> Path:
    """Per user, like pip's and npm's caches: `$XDG_CACHE_HOME/patchbay/graphiql`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "patchbay" / "graphiql"


def missing_assets(directory: Path, assets: list[Asset]) -> list[Asset]:
    """The page's files `directory` lacks, or holds in another version or content."""
    missing = []
    for asset in assets:
        try:
            _check(directory, asset)
        except GraphiQLAssetsError:
            missing.append(asset)
    return missing


def self_hosted_graphiql(assets: Path) -> SelfHostedGraphiQL:
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
            f"{assets} is not a directory: run `npm ci` in clients/graphiql and point "
            "PATCHBAY_GRAPHIQL_ASSETS at its node_modules"
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
    stat = file.stat()
    return _hash_matches(str(file), integrity, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _hash_matches(file: str, integrity: str, _size: int, _mtime_ns: int) -> bool:
    """Hashed once per file version: every app a process builds checks the same files."""
    content = Path(file).read_bytes()
    for value in integrity.split():
        algorithm, _, expected = value.partition("-")
        if algorithm in ("sha256", "sha384", "sha512"):
            digest = hashlib.new(algorithm, content).digest()
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


UNAVAILABLE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not available</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 3em auto; line-height: 1.5">
<h1>GraphiQL's files are not available</h1>
<p>Patchbay serves GraphiQL's browser files itself, never from a CDN. <code>patchbay demo</code>
and <code>patchbay serve</code> fetch them once from the npm registry
(<code>PATCHBAY_GRAPHIQL_REGISTRY</code>) into <code>{cache}</code>, but these are not there:
{missing}. The server's output at start says why the download failed.</p>
<p>Either start Patchbay once where the npm registry (or a mirror named in
<code>PATCHBAY_GRAPHIQL_REGISTRY</code>) can be reached, or set
<code>PATCHBAY_GRAPHIQL_ASSETS</code> to a directory holding the files:
<code>(cd clients/graphiql &amp;&amp; npm ci)</code>, then
<code>PATCHBAY_GRAPHIQL_ASSETS=$PWD/clients/graphiql/node_modules</code>.</p>
<p>The API works meanwhile: <code>POST /graphql</code> with a JSON body, e.g.
<code>curl -s http://HOST/graphql -H 'Content-Type: application/json'
-d '{{"query": "{{ __typename }}"}}'</code>.</p>
</body></html>
"""


def unavailable_page(cache: Path, missing: list[Asset]) -> str:
    names = sorted({f"{a.package}@{a.version}" for a in missing})
    return UNAVAILABLE_PAGE.format(
        cache=html.escape(str(cache)), missing=html.escape(", ".join(names))
    )
