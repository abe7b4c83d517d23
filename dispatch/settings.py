"""Runtime configuration, read from ``DISPATCH_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "secret",
        "dev-secret-change-me",
        "dev-secret-change-me-dev-secret-change-me",
    }
)
# At least 32 bytes, as HS256 wants, though it is public: refused outside development.
DEFAULT_SECRET = "dev-secret-change-me-dev-secret-change-me"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Everything the service reads from its environment; build one per process and inject it."""

    model_config = SettingsConfigDict(
        env_prefix="DISPATCH_", env_file=".env", extra="ignore", validate_default=True
    )

    environment: Environment = Field(
        Environment.development,
        description="`development`, `test` or `production`; outside development a real secret "
        "key is required.",
    )
    database_url: str = Field(
        "sqlite:///./dispatch.db",
        description="SQLAlchemy URL; an SQLite file in the working directory by default, "
        "e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/dispatch` for PostgreSQL.",
    )
    # The API server's pool, per process: `uvicorn --workers N` opens up to N x (pool size +
    # overflow + 1, the event loop's read connection, see dispatch.db.loop_reader)
    # connections, which must fit PostgreSQL's max_connections (100 by default, 3 of them
    # reserved for superusers) with room left for the CLI and `dispatch worker`.
    # 20 + 20: each process has as many connections as anyio has threads for blocking routes
    # (40), so threads never all wait for connections held by requests waiting for a thread
    # (see dispatch.db); 20 of them stay open, which covers the 32 requests at once measured
    # over 2 processes (about 16 each) without a new connection per request (about 0.9 ms of
    # PostgreSQL's CPU each, and overflow connections close after use); and 2 processes stay
    # at 82 connections at worst. A pool of 40 without overflow would have the same worst
    # case but keep 80 idle backends (memory on the database) after every burst.
    database_pool_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        20,
        description="Connections the API server keeps open per process (PostgreSQL and SQLite "
        "files; an in-memory SQLite database has one).",
    )
    # Not -1 (SQLAlchemy's "no limit"): an unbounded pool has no connection budget.
    database_max_overflow: Annotated[int, Field(ge=0, le=1000)] = Field(
        20,
        description="Connections the API server may open per process beyond the pool size "
        "under load, closed again after use; per process, pool size + overflow should be at "
        "least 40 (anyio's threads).",
    )
    database_pool_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        5.0,
        description="How long a request waits for a free connection before it fails (503): "
        "a longer wait means an overloaded database, and a quick refusal beats a long queue.",
    )
    default_timezone: str = Field(
        "Europe/Moscow",
        description="IANA timezone used where a region gives none (seed anchor day, CLI dates).",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET),
        description="Key that signs tokens; placeholders are refused outside development.",
    )
    solver_time_limit_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Wall-clock budget of a planning run."
    )
    replan_time_limit_seconds: Annotated[float, Field(gt=0, le=600)] = Field(
        3.0, description="Solver budget of a re-plan during the day."
    )
    osrm_url: str | None = Field(
        None,
        description="Base URL of an OSRM server for road travel times; unset: ellipsoid "
        "distance times the region's detour factor at its average speed.",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (e.g. `redis://127.0.0.1:6379/0`): set, the API hands planning "
        "jobs to `dispatch worker` processes; unset, it plans in its own process.",
    )
    broker_queue: str = Field(
        "planning", min_length=1, max_length=100, description="Broker queue of planning jobs."
    )
    territory_visits: Annotated[int, Field(ge=50, le=1_000_000)] = Field(
        1500,
        description="A region with more open visits than this in a plan is cut into territories "
        "(by where its technicians live) solved in parallel on the workers and assembled into "
        "one plan; fewer visits each solve faster, at some cost in routes that could cross "
        "a territory's edge.",
    )
    job_lease_seconds: Annotated[float, Field(ge=1, le=600)] = Field(
        30.0,
        description="How long a planning task stays its worker's without a heartbeat (renewed "
        "every third of it): a task whose worker died is taken over by another after this.",
    )
    geocoder_url: str | None = Field(
        None,
        description="Base URL of a Nominatim server (e.g. a self-hosted one at "
        "`http://127.0.0.1:8080`) that geocodes new sites given by address only; unset: "
        "geocoding is off and new sites need coordinates.",
    )
    geocoder_user_agent: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        "field-dispatch", description="User-Agent header sent to the geocoder."
    )
    geocoder_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, description="How long to wait for the geocoder before giving up."
    )
    host: str = Field("127.0.0.1", description="Address `dispatch serve` binds to.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8000, description="Port `dispatch serve` listens on."
    )
    access_token_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        15, description="Lifetime of an API access token."
    )
    refresh_token_days: Annotated[int, Field(ge=1, le=365)] = Field(
        14, description="Lifetime of an API refresh token (each use replaces it)."
    )
    login_max_failures: Annotated[int, Field(ge=1, le=1000)] = Field(
        5, description="Failed logins per username and address allowed in the login window."
    )
    login_window_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(
        300, description="Window over which failed logins are counted."
    )
    max_plan_visits: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        5000, description="Largest number of open visits one API planning request may take on."
    )
    max_plan_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        300, description="Largest solver time limit an API planning request may ask for."
    )
    max_upload_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = Field(
        2 * 1024 * 1024, description="Largest CSV upload the API accepts (413 beyond)."
    )
    max_import_rows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        5000, description="Largest number of rows one CSV import may carry."
    )
    log_level: str = Field("info", description="Log level of the server and CLI.")
    seed_dir: str | None = Field(
        None,
        description="Seed directory `dispatch demo` loads; the committed demo data when unset.",
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value

    @field_validator("geocoder_url")
    @classmethod
    def _http_base_url(cls, value: str | None) -> str | None:
        # An empty DISPATCH_GEOCODER_URL= in a .env file reads as "off", not as a broken URL.
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"geocoder_url {value!r} is not an http(s) base URL such as http://127.0.0.1:8080"
            )
        return value.strip().rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        levels = {"critical", "error", "warning", "info", "debug"}
        if value.lower() not in levels:
            raise ValueError(f"log_level {value!r} is not one of {sorted(levels)}")
        return value.lower()

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment is not Environment.development and (
            secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32
        ):
            raise ValueError(
                f"secret_key must be set to a random value of at least 32 characters when "
                f"environment is {self.environment.value!r} (set DISPATCH_SECRET_KEY, e.g. "
                f"from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return self
