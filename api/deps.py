"""Request dependencies: settings, one database transaction per request, reads on the event
loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

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


T = TypeVar("T")
P = ParamSpec("P")


def read_on_loop(
    request: Request, func: Callable[Concatenate[sa.Connection, P], T], *args: P.args
) -> T:
    """``func(connection, *args)`` right here on the event loop, on the app's loop reader (see
    dispatch.db.loop_reader), for the hot reads of technicians' phones and customers' links:
    a hop to a worker thread and back cost more CPU than the read itself (0.6 ms a request on
    the 2-core benchmark machine against ~0.3 ms for a technician's day), and a read this short
    holds the loop for less than the hop's own share of it. ``func`` must only read, briefly:
    every other request of the process waits meanwhile."""
    with request.app.state.reader.connect() as connection:
        return func(connection, *args)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
# Function scope: the transaction commits before the answer is sent, so a commit that fails
# is answered as the failure it is, never after a 2xx already went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
