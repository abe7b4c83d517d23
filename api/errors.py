"""RFC 9457 problem+json responses: the one place where errors become HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schedules.errors import (
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    TooLargeError,
    UnavailableError,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5
# SQLite (WAL) refuses to let a transaction write after another committed since it read: the
# same lost-update race optimistic locking catches on PostgreSQL.
SQLITE_BUSY_SNAPSHOT = 517
UNPARSABLE_BODY = "There was an error parsing the body"
# How much of a refused value an error echoes back.
MAX_ECHO = 200
STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (TooLargeError, 413),
    (ConflictError, 409),
    (InvalidError, 422),
    (UnavailableError, 503),
)


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _short(value: Any) -> Any:
    """``value`` as given when small; otherwise the start of its repr, so that a huge input is
    named without being echoed back whole."""
    shown = repr(value)
    return value if len(shown) <= MAX_ECHO else shown[:MAX_ECHO] + "..."


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field_path(e["loc"]), "value": _short(e.get("input")), "message": e["msg"]}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "?", "value": None, "message": "invalid"}
    detail = f"{first['field']}: {first['message']} (value {first['value']!r})"
    return problem(422, "Invalid input", detail, instance=request.url.path, errors=errors)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
        # FastAPI's answer to a body it cannot decode: invalid input like any other.
        return problem(
            422,
            "Invalid input",
            "the body could not be read as JSON text (UTF-8)",
            instance=request.url.path,
            errors=[{"field": "body", "value": None, "message": "not decodable"}],
        )
    title = {
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        413: "Request too large",
    }.get(exc.status_code, "Request refused")
    extra = {"errors": exc.errors} if getattr(exc, "errors", None) else {}  # type: ignore[attr-defined]
    return problem(
        exc.status_code,
        title,
        str(exc.detail) if exc.detail else None,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
        **extra,
    )


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 400)
    extra: dict[str, Any] = {}
    if exc.errors:
        extra["errors"] = exc.errors
    elif exc.field is not None:
        extra["errors"] = [{"field": exc.field, "value": exc.value, "message": exc.message}]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return problem(
        status,
        type(exc).__name__.removesuffix("Error") or "Refused",
        exc.message,
        instance=request.url.path,
        headers=headers,
        **extra,
    )


async def _database_down(request: Request, exc: DBAPIError) -> JSONResponse:
    if getattr(exc.orig, "sqlite_errorcode", None) == SQLITE_BUSY_SNAPSHOT:
        return await _stale(request, exc)  # type: ignore[arg-type]
    if not isinstance(exc, OperationalError) and not exc.connection_invalidated:
        return await _unexpected(request, exc)
    log.warning("database unavailable: %s", exc.orig)
    return problem(
        503,
        "Service unavailable",
        "the database is not reachable; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _constraint(exc: IntegrityError) -> tuple[bool, str]:
    """Whether the database refused a duplicate (rather than another rule), and the rule's
    name as the driver reports it (constraint names follow schedules.db's convention)."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # PostgreSQL
        return getattr(orig, "sqlstate", "") == "23505", diag.constraint_name or str(orig)
    message = str(orig)  # SQLite: "UNIQUE constraint failed: site.code"
    return message.startswith("UNIQUE"), message.split(": ", 1)[-1]


async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    # The domain checks what it can first; this is the database's own refusal of a rule it
    # enforces (a check constraint, a duplicate raced in by another request).
    duplicate, rule = _constraint(exc)
    if duplicate:
        return problem(
            409, "Conflict", f"this duplicates an existing one ({rule})", instance=request.url.path
        )
    return problem(
        422,
        "Invalid",
        f"the change breaks the rule {rule}",
        instance=request.url.path,
        errors=[{"field": rule, "value": None, "message": "constraint violated"}],
    )


async def _out_of_range(request: Request, exc: DataError) -> JSONResponse:
    # A value the column's type cannot hold (a number past its integer range on PostgreSQL).
    log.info("value refused by the database: %s", exc.orig)
    return problem(
        422,
        "Invalid",
        "a value is out of range for where it is stored",
        instance=request.url.path,
        errors=[{"field": "?", "value": None, "message": str(exc.orig).splitlines()[0]}],
    )


async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> JSONResponse:
    # Every connection of the pool stayed busy for the pool timeout: overload, not a fault.
    log.warning("no database connection within the pool timeout: %s", exc)
    return problem(
        503,
        "Service unavailable",
        "the server is busy; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
    # Optimistic locking: the row changed between this request's read and its write.
    return problem(
        409,
        "Conflict",
        "somebody changed this meanwhile; reload it and apply the change again",
        instance=request.url.path,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _out_of_range)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_down)  # type: ignore[arg-type]
    app.add_exception_handler(StaleDataError, _stale)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
