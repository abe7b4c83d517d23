"""The API server's database pool is sized by DISPATCH_DATABASE_POOL_SIZE,
DISPATCH_DATABASE_MAX_OVERFLOW and DISPATCH_DATABASE_POOL_TIMEOUT_SECONDS, on SQLite files and
PostgreSQL; values outside their bounds stop the server from starting."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app_from_env
from dispatch import db
from dispatch.settings import Settings

# PostgreSQL's defaults: max_connections, of which superuser_reserved_connections are kept
# for superusers; and connections left for the CLI, `dispatch worker` and psql.
POSTGRES_MAX_CONNECTIONS = 100
POSTGRES_RESERVED = 3
OTHER_CLIENTS = 10


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the variables a test sets: none from the shell, no stray .env file."""
    for name in list(os.environ):
        if name.startswith("DISPATCH_") and not name.startswith("DISPATCH_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_server_pool_follows_the_environment(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the variables to the running app's engine: 3 connections kept, 2 more under load,
    and a request for one more gives up after the pool timeout."""
    monkeypatch.setenv("DISPATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("DISPATCH_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DISPATCH_DATABASE_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DISPATCH_DATABASE_POOL_TIMEOUT_SECONDS", "0.3")
    app = create_app_from_env()
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        pool = app.state.engine.pool
        assert pool.size() == 3
        with ExitStack() as held:
            connections = [held.enter_context(app.state.engine.connect()) for _ in range(5)]
            for connection in connections:
                assert connection.execute(sa.text("SELECT 1")).scalar() == 1
            assert (pool.checkedout(), pool.overflow()) == (5, 2)
            began = time.monotonic()
            with pytest.raises(sa.exc.TimeoutError):
                app.state.engine.connect()
            assert 0.3 <= time.monotonic() - began < 3
        # The overflow connections are closed on their return; the pool keeps its size.
        assert (pool.checkedout(), pool.checkedin(), pool.overflow()) == (0, 3, 0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DISPATCH_DATABASE_POOL_SIZE", "0"),
        ("DISPATCH_DATABASE_POOL_SIZE", "-1"),
        ("DISPATCH_DATABASE_POOL_SIZE", "1001"),
        ("DISPATCH_DATABASE_POOL_SIZE", "ten"),
        # -1 is SQLAlchemy's "no limit": no connection budget at all.
        ("DISPATCH_DATABASE_MAX_OVERFLOW", "-1"),
        ("DISPATCH_DATABASE_POOL_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_bad_pool_setting_stops_the_server_naming_field_and_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        create_app_from_env()
    field = variable.removeprefix("DISPATCH_").lower()
    assert [(e["loc"], e["input"]) for e in refused.value.errors()] == [((field,), value)]
    assert field in str(refused.value)
    assert f"input_value={value!r}" in str(refused.value)


def test_the_default_pool_covers_the_threads_and_two_processes_fit_postgres() -> None:
    """Out of the box: a connection for each of anyio's threads (see dispatch.db), and two
    server processes within PostgreSQL's default max_connections with room to spare."""
    pool = db.server_pool()
    capacity = pool["pool_size"] + pool["max_overflow"]

    async def threads() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in
    # the main thread for the whole session.
    with ThreadPoolExecutor(1) as aside:
        assert capacity >= aside.submit(anyio.run, threads).result()
    # Each process also has its event loop's read connection (db.loop_reader).
    assert 2 * (capacity + 1) <= POSTGRES_MAX_CONNECTIONS - POSTGRES_RESERVED - OTHER_CLIENTS
    assert pool == db.server_pool(Settings())


def test_in_memory_sqlite_keeps_its_own_pool() -> None:
    """An in-memory database lives in its connection: it keeps SQLAlchemy's one connection
    per thread, whatever the pool settings say."""
    settings = Settings(database_pool_size=3, database_max_overflow=2)
    engine = db.make_engine("sqlite://", server=True, settings=settings)
    try:
        assert isinstance(engine.pool, sa.pool.SingletonThreadPool)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
