"""Authentication settings: production refuses to start without real key material, the
none algorithm cannot be configured, and development mode says so loudly."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from db.database import Database
from gateway.app import DEVELOPMENT_WARNING
from gateway.settings import DEVELOPMENT_JWT_SECRET, Settings
from tests.conftest import settings_for
from tests.credentials import REFUSED, viewer_with
from tests.factories import TEST_SECRET, client_for, token

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


def test_production_refuses_to_start_without_key_material() -> None:
    with pytest.raises(ValidationError, match="PATCHBAY_ENV=production needs"):
        Settings(env="production")


@pytest.mark.parametrize(
    "secret", ["x" * 31, "é" * 15 + "x"], ids=["31-ascii", "31-bytes-16-chars"]
)
def test_production_refuses_a_short_hs256_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="32\\+ bytes"):
        Settings(env="production", jwt_secret=secret)


@pytest.mark.parametrize(
    "material",
    [
        {"jwt_secret": "Kz8-vQ2rT5yWm1Xc4Fh7Lp0Nd3Gj6Sb9"},  # 32 bytes, none repeated
        {"jwt_secret": "αβγδЖЗИЙԱԲՁՂאבجح"},  # 16 characters, 32 bytes
        {"jwt_public_key": "-----BEGIN PUBLIC KEY-----"},
        {"jwks_url": "https://issuer.test/jwks.json"},
    ],
    ids=["32-byte-secret", "32-bytes-16-chars", "public-key", "jwks-url"],
)
def test_production_starts_with_real_key_material(material: dict[str, Any]) -> None:
    settings = Settings(env="production", **material)
    assert settings.env == "production"
    assert not settings.development_keys


@pytest.mark.parametrize("algorithms", ["none", "HS256 none", "None"])
def test_the_none_algorithm_cannot_be_configured(algorithms: str) -> None:
    with pytest.raises(ValidationError, match="unsupported JWT algorithms"):
        Settings(jwt_secret=TEST_SECRET, jwt_algorithms=algorithms)


async def test_development_mode_warns_once_and_accepts_only_the_development_secret(
    database_url: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING, logger="patchbay")
    # when
    async with client_for(Settings(database_url=database_url)) as client:
        result = await viewer_with(client, token(secret=DEVELOPMENT_JWT_SECRET))
        test_secret = await viewer_with(client, token())
    # then
    warnings = [r for r in caplog.records if r.name == "patchbay" and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [DEVELOPMENT_WARNING]
    assert "DEVELOPMENT MODE" in caplog.text
    assert result["__typename"] == "Viewer"
    assert test_secret == REFUSED


async def test_configured_key_material_gives_no_development_warning(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING, logger="patchbay")
    # when
    async with client_for(settings_for(database_url)):
        pass
    # then
    assert "DEVELOPMENT MODE" not in caplog.text
