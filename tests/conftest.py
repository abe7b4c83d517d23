"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, each test inside a
transaction that is rolled back, on a schema built by the migrations."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from dispatch import db

POSTGRES_URL = os.environ.get(
    "DISPATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def _postgres_or_skip() -> sa.Engine:
    """An AUTOCOMMIT engine on the server's maintenance database, or a skip (a failure in CI)."""
    # Pre-ping: a test may restart the server between creating a database and dropping it.
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({exc.orig})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must test both databases")
        pytest.skip(message + "; set DISPATCH_TEST_POSTGRES_URL to test on PostgreSQL")
    return admin


def new_database(backend: str, tmp: Path) -> tuple[str, callable]:
    """A fresh, empty database of ``backend``; returns its URL and a function that drops it."""
    if backend == "sqlite":
        path = tmp / f"{uuid.uuid4().hex}.db"
        return f"sqlite:///{path}", lambda: None
    admin = _postgres_or_skip()
    name = f"dispatch_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database shared by the session's tests of one backend."""
    url, drop = new_database(backend, tmp_path_factory.mktemp(backend))
    try:
        db.upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no schema, for tests of migrations and of startup."""
    url, drop = new_database(backend, tmp_path)
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process started with start_new_session=True and everything it started: SIGTERM,
    then SIGKILL after ``timeout`` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def free_port() -> int:
    """A loopback port nobody listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REDIS_URL = os.environ.get("DISPATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip() -> None:
    """Skip a test that needs Redis when it is not running; in CI, fail it instead."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {REDIS_URL} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must test the Celery executor")
        pytest.skip(message)
