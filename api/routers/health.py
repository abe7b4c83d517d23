"""Liveness and readiness: is the database reachable and its schema at the code's revision."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import EngineDep
from api.errors import RETRY_AFTER_SECONDS, problem
from dispatch.db import current_revision

router = APIRouter(tags=["health"])


class HealthRead(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    schema_revision: str = Field(examples=["0007"])
    version: str = Field(examples=["0.1.0"])


@router.get(
    "/healthz",
    response_model=HealthRead,
    summary="Database reachable and schema up to date",
    responses={
        503: {
            "description": "Database unreachable or schema not migrated",
            "content": {"application/problem+json": {}},
        }
    },
)
def healthz(request: Request, engine: EngineDep) -> HealthRead | JSONResponse:
    expected = request.app.state.schema_head
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            revision = current_revision(connection)
    except sa.exc.DBAPIError as exc:
        return _unhealthy(request, f"database unreachable: {type(exc.orig).__name__}")
    if revision != expected:
        return _unhealthy(
            request,
            f"schema at revision {revision!r}, code expects {expected!r}; "
            f"run `dispatch db upgrade`",
        )
    return HealthRead(
        status="ok",
        database="ok",
        schema_revision=revision or "",
        version=request.app.version,
    )


def _unhealthy(request: Request, detail: str) -> JSONResponse:
    return problem(
        503,
        "Unhealthy",
        detail,
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
