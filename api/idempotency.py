"""Idempotency-Key for POSTs from unreliable networks (technicians' phones): the first
request with a key applies and its answer is kept, in the same transaction as the change; a
retry with the same key gets that answer back (marked Idempotent-Replayed) and changes
nothing. The same key with a different request is refused."""

from __future__ import annotations

import hashlib
from typing import Annotated

import sqlalchemy as sa
from fastapi import Header, HTTPException, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from dispatch.models import IdempotencyRecord, User

MAX_KEY = 100
# The header parameter of every POST that honours a key.
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key get the first answer and apply once.",
    ),
]


def fingerprint(method: str, path: str, body: BaseModel | None) -> str:
    payload = body.model_dump_json() if body is not None else ""
    return hashlib.sha256(f"{method} {path}\n{payload}".encode()).hexdigest()


def begin(session: Session, user: User, key: str | None, print_: str) -> Response | None:
    """None: go ahead (the key is now held by this transaction). A Response: the answer to
    replay. Raises 422 for a malformed or reused key, 409 while the first is in flight."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise HTTPException(
            422,
            f"Idempotency-Key {key[:MAX_KEY]!r} must be 1-{MAX_KEY} printable characters",
        )
    found = session.get(IdempotencyRecord, (user.id, key))
    if found is None:
        try:
            with session.begin_nested():
                session.add(IdempotencyRecord(user_id=user.id, key=key, fingerprint=print_))  # type: ignore[arg-type]
        except sa.exc.IntegrityError:
            found = None
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"a request with Idempotency-Key {key!r} is being processed; retry shortly",
            ) from None
        return None
    if found.fingerprint != print_:
        raise HTTPException(
            422,
            f"Idempotency-Key {key!r} was used for a different request",
        )
    return Response(
        content=found.body,
        status_code=found.status_code,
        headers={**found.headers, "Idempotent-Replayed": "true"},
    )


def finish(
    session: Session,
    user: User,
    key: str | None,
    status_code: int,
    headers: dict[str, str],
    body: str = "",
) -> None:
    """Keep the answer with the change (rolled back together if the request fails)."""
    if key is None:
        return
    record = session.get_one(IdempotencyRecord, (user.id, key))
    record.status_code, record.headers, record.body = status_code, headers, body
    session.flush()
