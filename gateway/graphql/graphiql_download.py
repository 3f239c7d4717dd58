"""GraphiQL's files fetched once from the npm registry, so the page works with only Python.

Strawberry's page names each file it loads (package, version, path, SRI hash). Each package's
tarball is downloaded by that exact version, checked against the pinned npm integrity
(`graphiql_pins.py`), and only the page's files are kept, in a cache laid out like a
`node_modules` directory; `self_hosted_graphiql` then checks every file's SRI hash again.
Nothing is fetched when the cache already holds the right files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import ssl
import tarfile
import tempfile
from pathlib import Path

import httpx
from strawberry.http.ides import get_graphql_ide_html

from gateway.graphql.graphiql import (
    Asset,
    GraphiQLAssetsError,
    cdn_assets,
    missing_assets,
    self_hosted_graphiql,
)
from gateway.graphql.graphiql_pins import TARBALL_INTEGRITY

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def fetch_graphiql(directory: Path, *, registry: str) -> list[str]:
    """Fill `directory` with the page's files; returns the packages it downloaded.

    Raises GraphiQLAssetsError, in one line, when they cannot be had.
    """
    assets = cdn_assets(get_graphql_ide_html("graphiql"))
    missing = {(a.package, a.version) for a in missing_assets(directory, assets)}
    # The system's certificate store, as npm and pip use: a company's TLS proxy is trusted there
    trusted = ssl.create_default_context()
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True, verify=trusted) as client:
        for package, version in sorted(missing):
            tarball = _download(client, registry, package, version)
            wanted = [a for a in assets if a.package == package]
            try:
                _unpack(tarball, wanted, directory / package)
            except OSError as error:  # a read-only home, a full disk, another start racing
                raise GraphiQLAssetsError(f"cannot write {directory}: {error}") from error
    self_hosted_graphiql(directory)  # every file against the page's own SRI hash
    return [f"{package}@{version}" for package, version in sorted(missing)]


def _download(client: httpx.Client, registry: str, package: str, version: str) -> bytes:
    pinned = TARBALL_INTEGRITY.get(f"{package}@{version}")
    if pinned is None:
        raise GraphiQLAssetsError(
            f"{package}@{version} is not pinned in gateway/graphql/graphiql_pins.py"
        )
    url = f"{registry.rstrip('/')}/{package}/-/{package.split('/')[-1]}-{version}.tgz"
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        message = f"cannot download {url}: {error or type(error).__name__}"
        raise GraphiQLAssetsError(message) from error
    algorithm, _, expected = pinned.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, response.content).digest()).decode()
    if digest != expected:
        raise GraphiQLAssetsError(f"{url} does not match its pinned integrity {pinned}")
    return response.content


def _unpack(tarball: bytes, assets: list[Asset], target: Path) -> None:
    """The package's package.json and the page's files, swapped in whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for inside in ["package.json", *(a.path for a in assets)]:
                member = archive.extractfile(f"package/{inside}")
                if member is None:
                    raise GraphiQLAssetsError(f"{target.name}'s tarball has no {inside}")
                (staging / inside).parent.mkdir(parents=True, exist_ok=True)
                (staging / inside).write_bytes(member.read())
        json.loads((staging / "package.json").read_text())  # a tarball's own manifest
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except GraphiQLAssetsError:
        raise
    except (KeyError, tarfile.TarError, ValueError) as error:
        raise GraphiQLAssetsError(f"{target.name}'s tarball is unreadable: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
