"""Request dependencies: settings, one database transaction per request, connections for
reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlmodel import Session

from dispatch import db
from dispatch.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Coroutines although they never wait: FastAPI runs a plain function dependency in the thread
# pool, a hop that costs more than the lookup.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it
    raises, so a failed mutation leaves nothing half-written. Requests that may write start
    as writers, so concurrent edits queue instead of failing on SQLite."""
    engine = request.app.state.engine
    if request.method not in SAFE_METHODS:
        engine = db.writers(engine)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for work that only reads. On PostgreSQL each statement is its own
    transaction: the snapshot per statement that READ COMMITTED gives anyway, without the
    round trips of BEGIN and ROLLBACK. SQLite keeps one transaction (one snapshot; it costs no
    round trip there, and its connections manage BEGIN themselves, see dispatch.db)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


# Threads for the hot read paths (a technician's day, tracking links), apart from the 40 of
# anyio's default pool: their work is mostly Python holding the GIL, so more threads than this
# only take turns at the GIL (each switch costs CPU) instead of adding throughput; two let one
# thread wait on the database while the other runs.
READ_THREADS = 2
T = TypeVar("T")
P = ParamSpec("P")


async def read_in_thread(
    request: Request, func: Callable[Concatenate[sa.Connection, P], T], *args: P.args
) -> T:
    """``func(connection, *args)`` in one of the app's READ_THREADS threads, on a reading()
    connection given back before the thread is: a request never holds a connection while it
    waits for a thread (when all threads wait for connections and all connections for
    threads, nothing moves)."""
    engine = request.app.state.engine
    # Made on first use, on the event loop (one thread), so never twice.
    limiter = getattr(request.app.state, "readers", None)
    if limiter is None:
        limiter = request.app.state.readers = anyio.CapacityLimiter(READ_THREADS)

    def read() -> T:
        with reading(engine) as connection:
            return func(connection, *args)

    return await anyio.to_thread.run_sync(read, limiter=limiter)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
# Function scope: the transaction commits before the answer is sent, so a commit that fails
# is answered as the failure it is, never after a 2xx already went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
