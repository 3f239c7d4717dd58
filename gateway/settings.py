"""Settings read once from PATCHBAY_* environment variables into a frozen object."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development only: lets a newcomer run the demo with nothing configured. Production
# refuses to start with it (see `_refuse_weak_keys`).
DEVELOPMENT_JWT_SECRET = "patchbay-development-secret-not-for-production"
MIN_HS_SECRET_BYTES = 32
MIN_METRICS_TOKEN_BYTES = 16
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


# What shows a caller the schema: off by default when PATCHBAY_ENV=production.
SCHEMA_REVEALING = ("introspection", "graphiql", "suggestions")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATCHBAY_", frozen=True, extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./patchbay.db"
    database_timeout_seconds: float = 5.0
    database_pool_size: int = 10

    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwks_refresh_seconds: float = 300.0
    jwks_min_refetch_seconds: float = 30.0
    jwt_algorithms: str = ""  # space- or comma-separated; empty = derived from key material
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_org_claim: str = "org_id"
    jwt_leeway_seconds: float = 0.0

    introspection: bool = True
    graphiql: bool = True
    suggestions: bool = True  # "Did you mean …?" in GraphQL errors: names schema fields
    graphiql_assets: Path | None = None  # npm files for GraphiQL: see gateway/graphiql.py
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_body_bytes: int = 1024 * 1024

    fast_path: bool = True  # run documents seen before without the generic executor
    prompts_url: str = "/v1/prompts"
    log_level: str = "INFO"
    # Browser origins allowed to call the gateway (CORS): exact origins such as
    # "https://app.example.com", comma- or space-separated; "*" allows any origin.
    # Empty = no CORS headers at all.
    cors_origins: str = ""

    # /metrics: on by default in development; in production only with a token, which
    # scrapers send as `Authorization: Bearer <token>` (see README: Running in production).
    metrics: bool | None = None
    metrics_token: SecretStr | None = None

    @property
    def development_keys(self) -> bool:
        """No key material configured: tokens are signed with the built-in secret."""
        return self.jwt_secret is None and not self.jwt_public_key and not self.jwks_url

    @property
    def metrics_enabled(self) -> bool:
        if self.metrics is not None:
            return self.metrics
        return self.env == "development" or self.metrics_token is not None

    @property
    def metrics_token_value(self) -> str | None:
        return self.metrics_token.get_secret_value() if self.metrics_token is not None else None

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o for o in self.cors_origins.replace(",", " ").split() if o)

    @property
    def hmac_secret(self) -> str | None:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return DEVELOPMENT_JWT_SECRET if self.development_keys else None

    @property
    def algorithms(self) -> tuple[str, ...]:
        chosen = tuple(a for a in self.jwt_algorithms.replace(",", " ").split() if a)
        if chosen:
            return chosen
        derived: list[str] = []
        if self.hmac_secret is not None:
            derived.append("HS256")
        if self.jwt_public_key or self.jwks_url:
            derived += ["RS256", "ES256"]
        return tuple(derived)

    @model_validator(mode="before")
    @classmethod
    def _production_hides_the_schema(cls, data: Any) -> Any:
        """In production, introspection, GraphiQL and suggestions are off unless set."""
        if isinstance(data, dict) and data.get("env") == "production":
            return dict.fromkeys(SCHEMA_REVEALING, False) | data
        return data

    @model_validator(mode="after")
    def _refuse_weak_keys(self) -> Settings:
        unknown = set(self.algorithms) - SYMMETRIC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
        if unknown:  # includes "none": never accepted
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown)}")
        if self.env == "production":
            if self.development_keys:
                raise ValueError(
                    "PATCHBAY_ENV=production needs PATCHBAY_JWT_SECRET, "
                    "PATCHBAY_JWT_PUBLIC_KEY or PATCHBAY_JWKS_URL"
                )
            secret = self.hmac_secret
            if secret is not None and len(secret.encode()) < MIN_HS_SECRET_BYTES:
                raise ValueError(
                    f"PATCHBAY_JWT_SECRET needs {MIN_HS_SECRET_BYTES}+ bytes in production"
                )
            if self.metrics_enabled:
                token = self.metrics_token.get_secret_value() if self.metrics_token else ""
                if len(token.encode()) < MIN_METRICS_TOKEN_BYTES:
                    raise ValueError(
                        "PATCHBAY_METRICS in production needs PATCHBAY_METRICS_TOKEN "
                        f"({MIN_METRICS_TOKEN_BYTES}+ bytes), or PATCHBAY_METRICS=false"
                    )
        return self
