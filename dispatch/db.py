"""Database engines, sessions with one transaction per unit of work, and schema migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import Session

from dispatch.settings import Settings

log = logging.getLogger(__name__)
WRITER_OPTION = "dispatch_sqlite_immediate"


# Without pre-ping (a round trip on every checkout), a connection the database dropped fails
# the one request using it (503, see api.errors) and the pool replaces its connections;
# recycling keeps connections from outliving idle timeouts on the way.
SERVER_RECYCLE_SECONDS = 1800


# The API server's pool is sized by settings (DISPATCH_DATABASE_POOL_SIZE and the like, see
# dispatch.settings for the defaults and the connection budget). Its capacity (size plus
# overflow) should reach the number of anyio's threads for blocking calls (40 by default), so
# that threads cannot all be waiting for connections held by requests that wait for a thread
# (a route on a request's session keeps its connection through one more call in the pool:
# FastAPI validates a plain function's answer there). A longer wait than the pool timeout
# means an overloaded database: a quick refusal beats a 30 s queue.
def server_pool(settings: Settings | None = None) -> dict[str, Any]:
    """The API server's pool options from ``settings``; without, from the settings' defaults
    (not from the environment: a caller without settings gets the out-of-the-box pool)."""
    settings = settings if settings is not None else Settings.model_construct()
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
    }


def make_engine(
    url: str, *, server: bool = False, settings: Settings | None = None, **kwargs: Any
) -> sa.Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and real transactions switched on.
    ``server``: the API server's engine, its pool sized by ``settings`` (see server_pool);
    an in-memory SQLite database keeps SQLAlchemy's pool of one connection per thread."""
    parsed = make_url(url)
    in_memory = _in_memory(parsed)
    if server and not in_memory:
        kwargs = {**server_pool(settings), **kwargs}
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = sa.create_engine(url, **kwargs)
        _configure_sqlite(engine, in_memory=in_memory)
        return engine
    if server:
        kwargs.setdefault("pool_recycle", SERVER_RECYCLE_SECONDS)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _in_memory(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


# A read on an API process's event loop stalls the whole process while it runs: bounded.
LOOP_READ_TIMEOUT_SECONDS = 2


def loop_reader(engine: sa.Engine) -> sa.Engine:
    """An engine for the short reads an API process makes on its event loop (the hottest
    paths, see api.deps.read_on_loop): one connection, never waited for, since the loop runs
    one read at a time and a read never awaits. On PostgreSQL in autocommit (no BEGIN and
    ROLLBACK round trips; each statement sees its own snapshot, as READ COMMITTED gives anyway)
    with connection and statement timeouts of LOOP_READ_TIMEOUT_SECONDS. An in-memory SQLite
    database has its data in its one engine: that engine itself."""
    if _in_memory(engine.url):
        return engine
    bounded: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        timeout = LOOP_READ_TIMEOUT_SECONDS
        bounded = {
            "isolation_level": "AUTOCOMMIT",
            "connect_args": {
                "connect_timeout": timeout,
                "options": f"-c statement_timeout={timeout * 1000}",
            },
        }
    return make_engine(
        engine.url.render_as_string(hide_password=False),
        server=True,
        pool_size=1,
        max_overflow=0,
        **bounded,
    )


def _configure_sqlite(engine: sa.Engine, *, in_memory: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and never for SAVEPOINT; take over BEGIN so that
        # nested transactions (and rolled-back test transactions) behave as on PostgreSQL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 5000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A transaction that reads and then writes must take the write lock up front: SQLite
        # cannot upgrade a reader while another writer is busy, and fails it at once instead
        # of waiting (writers() asks for this).
        immediate = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writers(engine: sa.Engine) -> sa.Engine:
    """``engine`` for transactions that will write: on SQLite they queue for the write lock
    from their first statement (waiting up to the busy timeout); elsewhere the same engine."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{WRITER_OPTION: True})


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls everything back if it raises."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("migrations")))
    if url is not None:
        # '%' is interpolation syntax in alembic's config parser.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision``: the only way the schema is created."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    """The schema revision recorded in the database; None for an empty database."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
