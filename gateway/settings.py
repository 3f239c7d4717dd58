"""Settings read once from PATCHBAY_* environment variables into a frozen object."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development only: lets a newcomer run the demo with nothing configured. Production
# refuses to start with it (see `_refuse_weak_keys`).
DEVELOPMENT_JWT_SECRET = "patchbay-development-secret-not-for-production"
MIN_HS_SECRET_BYTES = 32
MIN_HS_SECRET_BITS = 128  # by `estimated_bits`: what production asks of PATCHBAY_JWT_SECRET
MIN_METRICS_TOKEN_BYTES = 16
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


# What shows a caller the schema: off by default when PATCHBAY_ENV=production.
SCHEMA_REVEALING = ("introspection", "graphiql", "suggestions")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting (a weak secret) is never echoed in the error.
    model_config = SettingsConfigDict(
        env_prefix="PATCHBAY_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    # `production` refuses to start without JWT key material or with a weak HS256 secret, and
    # turns introspection, GraphiQL and suggestions off unless they are set.
    env: Literal["development", "production"] = "development"
    # sqlite+aiosqlite:///path.db (a relative path follows the working directory; the CLI
    # prints the absolute one) or postgresql+asyncpg://user:password@host:5432/database.
    database_url: str = "sqlite+aiosqlite:///./patchbay.db"
    # Bound on all of a request's database work, waiting for a connection included (SQLite
    # waits half of it for another process's lock): then SERVICE_UNAVAILABLE or OUTCOME_UNKNOWN.
    database_timeout_seconds: float = 5.0
    # Connections each worker holds open (plus at most 2 for the CLI's transactions).
    database_pool_size: int = 10

    # HS256 shared secret. Unset (and no key below): a built-in development secret, with a
    # loud warning. Production refuses that one, a blank one, one under 32 bytes and one under
    # 128 bits by its entropy estimate (`openssl rand -base64 32` passes).
    jwt_secret: SecretStr | None = None
    # PEM public key for RS256/ES256 tokens.
    jwt_public_key: str | None = None
    # JWKS URL of the identity provider: keys fetched before keep working while it is down.
    jwks_url: str | None = None
    # How often each worker fetches the JWKS again.
    jwks_refresh_seconds: float = 300.0
    # Least time between two fetches caused by a token whose `kid` no known key has.
    jwks_min_refetch_seconds: float = 30.0
    jwks_timeout_seconds: float = 5.0  # one whole fetch: connect, headers and body
    jwt_algorithms: str = ""  # space- or comma-separated; empty = derived from key material
    # Checked against the token's `iss` when set.
    jwt_issuer: str | None = None
    # Checked against the token's `aud` when set.
    jwt_audience: str | None = None
    # The claim that holds the organization id.
    jwt_org_claim: str = "org_id"
    # Clock skew allowed on exp, nbf and iat: identity providers' clocks drift a little.
    jwt_leeway_seconds: float = 30.0

    # Schema introspection; false by default when PATCHBAY_ENV=production.
    introspection: bool = True
    # The GraphiQL page at GET /graphql (and / leading to it); false by default in production.
    graphiql: bool = True
    # "Did you mean …?" in GraphQL errors, which names fields the caller did not write; false
    # by default in production.
    suggestions: bool = True
    # GraphiQL's files (node_modules of clients/graphiql); unset: the npm download cache
    graphiql_assets: Path | None = None
    # Deepest selection a document may have, fragments included.
    max_depth: int = 10
    # Aliases a document may use.
    max_aliases: int = 30
    # Lexical tokens a document may have.
    max_tokens: int = 5000
    # Pairs of fields answering under one response path that validation may compare (a field
    # repeated n times is n(n-1)/2 pairs): past it, refused before the quadratic work.
    max_repeated_pairs: int = 5000
    # Characters of a document's text: lexing 1 MB costs the event loop ~150 ms. Long values
    # belong in variables.
    max_document_chars: int = 100_000
    # Fields, fragment spreads and inline fragments written in one document: each costs the
    # event loop ~30 µs to parse, validate and collect, and real documents need a few hundred.
    max_selections: int = 1000
    # Larger request bodies get HTTP 413; larger WebSocket messages close it with 1009.
    max_body_bytes: int = 1024 * 1024

    fast_path: bool = True  # run documents seen before without the generic executor
    # Base of `Prompt.links`.
    prompts_url: str = "/v1/prompts"
    # INFO writes one JSON access line per request to stdout; WARNING silences them.
    log_level: str = "INFO"
    # Browser origins allowed to call the gateway (CORS): exact origins such as
    # "https://app.example.com", comma- or space-separated; "*" allows any origin.
    # Empty = no CORS headers at all.
    cors_origins: str = ""

    # /metrics: on by default in development; in production only with a token, which
    # scrapers send as `Authorization: Bearer <token>` (docs/production.md).
    metrics: bool | None = None
    # When set, /metrics answers 401 without `Authorization: Bearer <token>`; production needs
    # 16+ bytes.
    metrics_token: SecretStr | None = None

    # State shared by every process and replica (rate-limit buckets, persisted queries), e.g.
    # redis://127.0.0.1:6379/0. Unset: that state lives in each process.
    redis_url: str | None = None
    # One command's bound. A busy event loop reads replies late: too tight a bound turns a
    # loaded gateway's answers from Redis into timeouts (and fail-open admissions).
    redis_timeout_seconds: float = 1.0

    # Trusted documents (docs/trusted-documents.md): Apollo persisted-query manifests,
    # comma-separated paths, checked, costed and planned at start.
    trusted_documents: str = ""
    # Every other document: off (run it), log (run it, count it in metrics) or enforce
    # (refuse it, except for credentials with the graphql:freeform scope).
    trusted_documents_policy: Literal["off", "log", "enforce"] = "off"
    # Operation cost (object fields 1, scalars 0, mutation fields 10, pages times `first`),
    # reported as extensions.cost on every response.
    operation_cost: bool = True
    # An operation that costs more is refused before it runs (OPERATION_TOO_COSTLY).
    max_operation_cost: int | None = Field(default=5000, gt=0)
    # A token bucket of cost points per client: API key, user, or address when anonymous.
    rate_limit: bool = False
    rate_limit_restore_rate: float = Field(default=50.0, gt=0, allow_inf_nan=False)  # points/s
    rate_limit_maximum: float = Field(default=1000.0, gt=0, allow_inf_nan=False)  # when full
    # Callers without a valid credential: a small bucket per address.
    rate_limit_anonymous_restore_rate: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    # Points an anonymous caller's bucket holds when full.
    rate_limit_anonymous_maximum: float = Field(default=50.0, gt=0, allow_inf_nan=False)
    # With PATCHBAY_REDIS_URL and Redis unreachable: admit the request (open) or answer 503
    # RATE_LIMIT_UNAVAILABLE (closed). Either way the event is counted in metrics.
    rate_limit_redis_failure: Literal["open", "closed"] = "open"
    # With PATCHBAY_REDIS_URL: each process takes a lease of this fraction of a client's
    # maximum from Redis along with a request's cost, and charges later requests to it without
    # a round trip; a process may admit up to one lease beyond the shared budget, per client
    # (docs/trusted-documents.md). 0: every charge and refund is a round trip to Redis.
    rate_limit_lease_fraction: float = Field(default=0.02, ge=0, le=0.5, allow_inf_nan=False)
    # A lease unused this long goes back to Redis, so a client's budget follows it elsewhere.
    rate_limit_lease_idle_seconds: float = Field(default=2.0, gt=0, le=60, allow_inf_nan=False)
    # A throttled request is answered once its points are back (spread over up to half as long
    # again, so refused connections do not all return at once), after at most this long: a
    # client that ignores Retry-After waits anyway, instead of taking the server with refusals.
    rate_limit_hold_seconds: float = Field(default=1.0, ge=0, le=60, allow_inf_nan=False)

    # Where `patchbay demo` and `patchbay serve` fetch GraphiQL's pinned files from when
    # PATCHBAY_GRAPHIQL_ASSETS is unset (once, into the user's cache): an npm registry or mirror.
    graphiql_registry: str = "https://registry.npmjs.org"

    # Replicas behind a balancer and a pooler (docs/deploy.md). "pgbouncer": PgBouncer in
    # transaction pooling mode, whose server connections change between transactions, so no
    # prepared statement may outlive the transaction that made it.
    database_pooler: Literal["none", "pgbouncer"] = "none"
    # Keys of the shared state in Redis start with this: several deployments (or test runs)
    # can share one Redis.
    redis_key_prefix: str = "patchbay:"
    # On SIGTERM, `patchbay serve` answers /readyz with 503 at once and keeps serving this
    # long, so that the balancer's health checks take it out of rotation before it stops
    # accepting; then it finishes in-flight requests within the drain time and exits 0.
    shutdown_unready_seconds: float = 0.0
    # Then in-flight requests have this long to finish before they are cancelled.
    shutdown_drain_seconds: int = 10

    # Idempotency-Key (docs/safe-writes.md): how long a mutation's answer is kept for a retry
    # with the same key. Older records are ignored, and removed by `patchbay db prune`.
    idempotency_ttl_seconds: float = Field(default=86_400.0, gt=0)

    # Subscriptions (docs/history.md). Changes queued for one subscriber at most: one that
    # falls further behind is disconnected (close code 4008) instead of buffered.
    subscription_queue_size: int = Field(default=100, ge=1, le=100_000)
    # Operations in flight per WebSocket connection at most (one more: TOO_MANY_SUBSCRIPTIONS).
    subscriptions_per_connection: int = Field(default=20, ge=1, le=1000)
    # Open subscriptions per principal (organization and subject) in one process at most.
    subscriptions_per_principal: int = Field(default=100, ge=1, le=100_000)
    # Open WebSocket connections and SSE streams, together, per principal (organization and
    # subject) in one process at most: one more WebSocket is closed with code 4029, one more
    # stream is refused with 429 TOO_MANY_CONNECTIONS.
    connections_per_principal: int = Field(default=10, ge=1, le=100_000)
    # Seconds a new WebSocket may stay open without its connection_init (then closed with
    # 4408): such a connection belongs to no principal yet, so only this bounds how long
    # unauthenticated sockets are held (Strawberry's default is a minute).
    connection_init_seconds: float = Field(default=10.0, gt=0, le=600)
    # How often a quiet subscription re-checks its credential: an expired or revoked one
    # ends the stream within this time (at once when a change arrives).
    subscription_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    # PostgreSQL: where the process's one LISTEN connection goes. Empty: the database URL.
    # Behind PgBouncer in transaction mode LISTEN does not work: point this at PostgreSQL.
    changes_listen_url: str = ""

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
    def trusted_document_paths(self) -> tuple[Path, ...]:
        return tuple(Path(p.strip()) for p in self.trusted_documents.split(",") if p.strip())

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
            if self.hmac_secret is not None:
                _refuse_weak_secret(self.hmac_secret)
            if self.metrics_enabled:
                token = self.metrics_token.get_secret_value() if self.metrics_token else ""
                if len(token.encode()) < MIN_METRICS_TOKEN_BYTES:
                    raise ValueError(
                        "PATCHBAY_METRICS in production needs PATCHBAY_METRICS_TOKEN "
                        f"({MIN_METRICS_TOKEN_BYTES}+ bytes), or PATCHBAY_METRICS=false"
                    )
        return self


_MAKE_ONE = "make one with `openssl rand -base64 32`"


def _refuse_weak_secret(secret: str) -> None:
    """Production's rules for PATCHBAY_JWT_SECRET, each refusal one line naming it."""
    if secret == DEVELOPMENT_JWT_SECRET:
        raise ValueError(
            "PATCHBAY_JWT_SECRET is the built-in development secret, which is public; " + _MAKE_ONE
        )
    if not secret.strip():
        raise ValueError(f"PATCHBAY_JWT_SECRET is blank (whitespace only); {_MAKE_ONE}")
    if len(secret.encode()) < MIN_HS_SECRET_BYTES:
        raise ValueError(f"PATCHBAY_JWT_SECRET needs {MIN_HS_SECRET_BYTES}+ bytes in production")
    if estimated_bits(secret) < MIN_HS_SECRET_BITS:
        raise ValueError(
            f"PATCHBAY_JWT_SECRET is too predictable: under {MIN_HS_SECRET_BITS} bits by its "
            f"entropy estimate (see docs/authentication.md); {_MAKE_ONE}"
        )


def estimated_bits(secret: str) -> float:
    """A Shannon estimate of a secret's entropy: the entropy of its byte frequencies times
    its length in bytes, where a repeated pattern (`abcabcab`) counts once. It errs low for
    short random strings: 32 hex digits (16 random bytes) nearly always score under 128."""
    data = secret.encode()
    period = _shortest_period(data)
    # Repeated only if the pattern comes at least twice: a random string whose end happens
    # to match its start (1 in 64 for base64) is no pattern.
    pattern = data[:period] if period * 2 <= len(data) else data
    counts = Counter(pattern).values()
    return -sum(n * math.log2(n / len(pattern)) for n in counts)


def _shortest_period(data: bytes) -> int:
    """The length of the shortest p with data[i] == data[i + p] throughout (KMP)."""
    if not data:
        return 0
    border = [0] * len(data)
    for i in range(1, len(data)):
        k = border[i - 1]
        while k and data[i] != data[k]:
            k = border[k - 1]
        border[i] = k + 1 if data[i] == data[k] else k
    return len(data) - border[-1]


def describe_invalid(error: ValueError) -> str:
    """Invalid settings in one line (pydantic's own text spans lines)."""
    if not isinstance(error, ValidationError):
        return str(error)
    return "; ".join(
        (f"PATCHBAY_{detail['loc'][0]}".upper() + ": " if detail["loc"] else "")
        + detail["msg"].removeprefix("Value error, ")
        for detail in error.errors()
    )
