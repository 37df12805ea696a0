"""One settings object, read from the environment (prefix ``STOCKLINE_``)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stockline.adapters.bus.factory import unknown_bus

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/stockline.db"
# An origin as a browser sends it: scheme, host and port only (no path, no trailing slash).
_ORIGIN = re.compile(r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs users write and pick the async driver for them."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


LONE_PROCESS_CACHE_TTL = 2.0  # seconds: the read cache when one process serves alone


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKLINE_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # gRPC (package stockline.v1) on this port of the same host, served by every worker
    # process (SO_REUSEPORT); 0 serves none.
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    # Longer than a client's or load balancer's idle timeout, so the server is never the
    # side that closes a connection a client is about to reuse.
    keep_alive_seconds: int = Field(default=65, ge=1, le=3600)
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024,
        description="A request's line and headers together; more is a 431, connection closed")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300,
        description="From a new connection, or a request's first byte, until its headers are "
                    "whole; later is a 408, connection closed")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    var_dir: Path = Path("./var")

    db_pool_size: int = Field(default=16, ge=1, le=200)
    # Streaming replicas of a PostgreSQL primary (comma-separated URLs): lists, reports,
    # the ledger and the event log read from them (adapters.replicas).
    database_replica_urls: Annotated[tuple[str, ...], NoDecode] = ()
    replica_max_lag_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="A replica further behind than this is "
        "skipped (its reads go to the primary)")
    replica_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="How often each process reads every "
        "replica's replay position and lag")
    replica_pool_size: int = Field(default=8, ge=1, le=200)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_lines: int = Field(default=500, ge=1, le=10_000)
    # POST /v1/imports/{kind} takes a whole file in one body: its own limits (100,000
    # product rows with a few attributes are about 10 MB).
    import_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=100_000, ge=1, le=1_000_000)
    # Group commit: sales arriving within the window share one transaction and one commit.
    sale_batch_enabled: bool = True
    sale_batch_window_ms: float = Field(default=2.0, ge=0, le=100)
    sale_batch_max: int = Field(default=64, ge=1, le=1000)
    sale_batch_lanes: int = Field(default=2, ge=1, le=16)
    # Replenishment orders a low level up to its sales over the supplier's lead time plus
    # this many days (domain.replenishment).
    replenishment_cover_days: int = Field(default=14, ge=0, le=365)
    # The hottest routes (a sale, one level) answer their plain case without FastAPI's
    # dependency solving; false sends every request through the declared route alone.
    lean_routes: bool = True
    idempotency_retention_hours: int = Field(default=48, ge=24)
    idempotency_secret: SecretStr | None = Field(
        default=None, description="Keys the digests idempotency records keep of requests "
        "(HMAC-SHA256), 16+ characters; every node must share it (required, 32+, in "
        "production). Unset: a random one is made once and kept in "
        "var_dir/idempotency_secret (shared by one node's workers)")
    session_secret: SecretStr | None = Field(
        default=None, description="Signs the dashboard's session cookies (HMAC-SHA256), "
        "16+ characters; every node must share it (required, 32+, in production). Unset: "
        "a random one is made once and kept in var_dir/session_secret (shared by one "
        "node's workers)")
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)
    reservation_default_ttl_seconds: int = Field(default=900, ge=1)
    reservation_max_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    reservation_sweep_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # The sales report's rollup: how often waiting sales are folded into it, how many a
    # fold transaction takes (on SQLite sales wait while one runs), and how many folds a
    # round makes at most.
    rollup_interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    rollup_batch: int = Field(default=1_000, ge=1, le=1_000_000)
    rollup_batches: int = Field(default=20, ge=1, le=10_000)
    # Operations: the relay's leader reconciles every level this often and exports the
    # result as metrics (0: never; or run `stockline reconcile --textfile` from a timer).
    reconcile_interval_seconds: float = Field(default=0.0, ge=0, le=7 * 86_400)
    # /metrics reads its database numbers (outbox, webhooks, low levels) at most this often.
    metrics_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    # Events: the outbox relay, the bus between API nodes, streams to clients.
    # nats://..., redis://..., amqp://... (RabbitMQ), or in-process when unset
    bus_url: str | None = None
    bus_channel: str = Field(default="stockline", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    event_retention_days: float = Field(default=7.0, gt=0)
    # PostgreSQL: the monthly partitions of the ledger, event log and sales made ahead of
    # the current month (by the server, daily, and by `stockline maintain`).
    partition_months_ahead: int = Field(default=3, ge=1, le=60)
    relay_poll_interval_seconds: float = Field(default=0.02, gt=0, le=10)
    # How far the relay's poll stretches while it finds nothing (a commit in the same
    # process wakes it at once; the poll finds the node's other workers' commits).
    relay_idle_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    relay_lease_seconds: float = Field(default=10.0, ge=1, le=300)
    # Under load, how long the relay waits after a round for more commits to join the next.
    relay_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    hub_poll_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    stream_queue_size: int = Field(default=10_000, ge=10, le=1_000_000)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # The relay's lease holder and the node list's name of this process (100 characters).
    node_name: str = Field(default_factory=lambda: f"{socket.gethostname()[:80]}-{os.getpid()}",
                           min_length=1, max_length=100)

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _replicas(cls, value: object) -> tuple[str, ...]:
        given = value.split(",") if isinstance(value, str) else value
        if not isinstance(given, list | tuple):
            raise ValueError("give replica URLs separated by commas")
        urls = tuple(normalize_database_url(str(u).strip()) for u in given if str(u).strip())
        if wrong := [u for u in urls if not u.startswith("postgresql")]:
            raise ValueError("a replica is a PostgreSQL streaming replica: "
                             f"postgresql://... ({len(wrong)} of the URLs given is not)")
        return urls

    @model_validator(mode="after")
    def _replicas_need_postgres(self) -> Settings:
        if self.database_replica_urls and self.is_sqlite:
            raise ValueError("STOCKLINE_DATABASE_REPLICA_URLS needs a PostgreSQL primary "
                             "(STOCKLINE_DATABASE_URL is SQLite, which has no replicas)")
        return self

    @property
    def read_cache_ttl(self) -> float:
        """The read cache's time to live: as set, else on only where every read of a
        writer's next request meets the process that committed its write."""
        if self.cache_ttl_seconds is not None:
            return self.cache_ttl_seconds
        return LONE_PROCESS_CACHE_TTL if self.workers == 1 and self.bus_url is None else 0.0

    @field_validator("bus_url")
    @classmethod
    def _bus(cls, value: str | None) -> str | None:
        if problem := unknown_bus(value):
            raise ValueError(problem)
        return value or None

    @field_validator("idempotency_secret", "session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the secret needs at least 16 characters")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    # Webhooks: each delivery is a POST; a failing one is retried with exponential backoff
    # (base doubling up to the cap, with jitter) until it has failed for the give-up span,
    # then its subscription is paused with a reason (nothing is dropped).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_give_up_after_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    webhook_concurrency: int = Field(default=16, ge=1, le=1000)
    webhook_poll_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    # How far the dispatcher's poll stretches while nothing is due (deliveries queued in
    # the same process wake it at once).
    webhook_idle_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_allow_private: bool = Field(default=False, description=(
        "Let webhooks go to loopback, private, link-local and other non-public addresses "
        "(tests, receivers on the operator's own network); by default only public ones"))

    # Access: API keys, access tokens (OAuth2 client credentials), external identity provider.
    token_secret: SecretStr | None = None  # HS256 signing secret
    token_private_key_file: Path | None = None  # RS256: a PEM RSA private key (JWKS published)
    token_issuer: str = "stockline"
    token_audience: str = "stockline-api"
    token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    token_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="How many seconds past its exp (or before its "
        "nbf) a token is still accepted, for clocks that differ between issuer and server")
    external_jwks_url: str | None = None
    external_issuer: str | None = None
    external_audience: str | None = None
    external_role_claim: str = "role"
    external_locations_claim: str = "locations"
    key_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    # Rate limits: a token bucket per principal, shared between processes through Redis.
    redis_url: str | None = None
    redis_timeout_seconds: float = Field(
        default=0.25, gt=0, le=30, description="How long a rate-limit check waits for Redis "
        "before this process limits on its own buckets for a while")
    rate_limit_enabled: bool = True
    # The read cache of single levels and products (adapters.cache, adapters.reads).
    cache_ttl_seconds: float | None = Field(
        default=None, ge=0, le=300, description="How long a cached level or product may be "
        "served before it is read again, however it was kept fresh (0: no cache; unset: 2 s "
        "when this server is the only process, one worker and no bus, else no cache: a "
        "client that writes through one process and reads through another sees its write "
        "at once without sending Stockline-Read-After)")
    cache_max_entries: int = Field(default=100_000, ge=100, le=10_000_000)
    cache_redis_url: str | None = Field(
        default=None, description="Redis shared by every process and node as the cache's "
        "second tier (may be the rate limits' Redis); unset: each process caches alone")
    cache_redis_timeout_seconds: float = Field(
        default=0.05, gt=0, le=5, description="How long a read waits for the cache's Redis "
        "before it reads the database (and leaves Redis alone for a second)")
    rate_limits: dict[str, float] = Field(default_factory=lambda: {
        "admin": 2000.0, "manager": 1000.0, "warehouse_staff": 300.0, "store_staff": 300.0,
        "partner": 50.0})  # requests per second by role; a key may set its own
    rate_limit_burst_seconds: float = Field(default=2.0, gt=0, le=60)
    auth_failure_limit: int = Field(
        default=20, ge=0, le=1_000_000, description="Refused credentials a client address "
        "may send at once; past that it is answered 429 before any check (0: no limit)")
    auth_failure_per_minute: float = Field(
        default=10.0, gt=0, le=1_000_000, description="How many refused credentials a "
        "minute an address earns back")
    audit_burst_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="Requests from one address refused for "
        "too many failed credentials within this window are one audit entry with a count")
    max_streams_per_principal: int = Field(default=20, ge=1, le=100_000)

    # TLS (uvicorn serves it directly; HSTS is sent when it is on).
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    # Rate limits in Redis live under "<prefix>:ratelimit:<principal id>", the read cache's
    # shared tier under "<prefix>:cache:" (deployments sharing a Redis need their own).
    rate_limit_prefix: str = Field(default="stockline", pattern=r"^[A-Za-z0-9_.:-]{1,60}$")
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips: comma-separated addresses or networks, "*" for any). Unset: the
    # client address is the peer's, and those headers are ignored.
    trusted_proxies: str | None = None
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0)  # two years
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Web origins whose pages may call the API from a browser "
        "(comma-separated, such as https://shop.example.com,http://localhost:5173; `*`: any "
        "origin). None by default: browsers keep other origins' pages out")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> tuple[str, ...]:
        given = value.split(",") if isinstance(value, str) else value
        if not isinstance(given, list | tuple):
            raise ValueError("give origins separated by commas")
        origins = tuple(str(o).strip() for o in given if str(o).strip())
        if wrong := [o for o in origins if o != "*" and not _ORIGIN.fullmatch(o)]:
            raise ValueError("not an origin (scheme://host[:port], no path or trailing "
                             f"slash): {', '.join(wrong[:5])}")
        return origins

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        """In production no default or weak secret is accepted."""
        if self.env != "production":
            return self
        problems = []
        if self.admin_key is None or len(self.admin_key.get_secret_value()) < 32:
            problems.append("STOCKLINE_ADMIN_KEY must be set to at least 32 characters")
        if self.token_secret is not None and len(self.token_secret.get_secret_value()) < 32:
            problems.append("STOCKLINE_TOKEN_SECRET must be at least 32 characters")
        if self.token_secret is None and self.token_private_key_file is None:
            problems.append("set STOCKLINE_TOKEN_SECRET or STOCKLINE_TOKEN_PRIVATE_KEY_FILE "
                            "(access tokens need a signing key)")
        # Every node must key idempotency records alike, or a retry reaching another node
        # would be refused instead of replayed: a secret made in one node's var_dir is not.
        if (self.idempotency_secret is None
                or len(self.idempotency_secret.get_secret_value()) < 32):
            problems.append("STOCKLINE_IDEMPOTENCY_SECRET must be set to at least 32 "
                            "characters (the same on every node)")
        # Every node must sign the dashboard's session cookies alike, or a browser signed
        # in on one node would be signed out by the next: a secret made in var_dir is not.
        if self.session_secret is None or len(self.session_secret.get_secret_value()) < 32:
            problems.append("STOCKLINE_SESSION_SECRET must be set to at least 32 characters "
                            "(the same on every node: it signs the dashboard's session "
                            "cookies)")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            problems.append("STOCKLINE_SSL_CERTFILE and STOCKLINE_SSL_KEYFILE go together")
        problems += _weak_secrets(self)
        if problems:
            raise ValueError("production settings refused: " + "; ".join(problems))
        return self


# Placeholders a copy-pasted example or test setup would carry into production.
PLACEHOLDERS = ("changeme", "change-me", "change_me", "password", "test-admin-key",
                "example", "replace-me", "your-")


def _weak_secrets(settings: Settings) -> list[str]:
    """Secrets long enough but still guessable, one secret used twice, missing files."""
    problems = []
    named = (("STOCKLINE_ADMIN_KEY", settings.admin_key),
             ("STOCKLINE_TOKEN_SECRET", settings.token_secret),
             ("STOCKLINE_IDEMPOTENCY_SECRET", settings.idempotency_secret),
             ("STOCKLINE_SESSION_SECRET", settings.session_secret))
    for name, secret in named:
        value = secret.get_secret_value() if secret is not None else ""
        if len(value) >= 32 and (len(set(value)) < 8 or
                                 any(p in value.lower() for p in PLACEHOLDERS)):
            problems.append(f"{name} is too easy to guess (use a random value, such as "
                            "the output of `openssl rand -base64 32`)")
    values = [(name, s.get_secret_value()) for name, s in named if s is not None]
    for i, (name, value) in enumerate(values):
        if any(value == earlier for _, earlier in values[:i]):
            problems.append(f"{name} must differ from the other secrets")
    for name, path in (("STOCKLINE_SSL_CERTFILE", settings.ssl_certfile),
                       ("STOCKLINE_SSL_KEYFILE", settings.ssl_keyfile),
                       ("STOCKLINE_TOKEN_PRIVATE_KEY_FILE", settings.token_private_key_file)):
        if path is not None and not path.is_file():
            problems.append(f"{name} names no readable file: {path}")
    return problems
