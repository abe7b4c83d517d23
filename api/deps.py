"""Request dependencies: settings, one database transaction per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlmodel import Session

from dispatch import db
from dispatch.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> sa.Engine:
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


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
# Function scope: the transaction commits before the answer is sent, so a commit that fails
# is answered as the failure it is, never after a 2xx already went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
