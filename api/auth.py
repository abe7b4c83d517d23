"""Authentication over HTTP: the OAuth2 password flow issuing short-lived JWT access tokens
and rotating refresh tokens, the current-user and role dependencies, and a login rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.deps import EngineDep, SessionDep, SettingsDep
from dispatch import accounts, db
from dispatch.models import Role, User
from dispatch.settings import Settings

ALGORITHM = "HS256"
ISSUER = "field-dispatch"
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
router = APIRouter(prefix="/api/v1", tags=["auth"])
UNAUTHORISED = {"WWW-Authenticate": "Bearer"}


class TokenPair(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds the access token is valid.", examples=[900])
    refresh_token: str = Field(examples=["p3Jb0dM6bq1X2vC9...(43 characters)"])
    refresh_expires_at: datetime


class RefreshRequest(BaseModel):
    refresh_token: str = Field(
        min_length=20, max_length=200, examples=["p3Jb0dM6bq1X2vC9...(43 characters)"]
    )


class Me(BaseModel):
    id: int
    username: str = Field(examples=["dispatcher"])
    full_name: str
    role: Role
    technician_id: int | None


class LoginLimiter:
    """Failed logins per (username, client address) in a sliding window; in memory, so per
    server process (a cluster shares one through the broker when it has one)."""

    def __init__(
        self, max_failures: int, window_seconds: int, clock: Callable[[], float] = time.monotonic
    ):
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until another attempt is allowed; 0: allowed now."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[0] + self.window - self.clock()) + 1)

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._recent(key).append(self.clock())

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= self.clock() - self.window:
            found.popleft()
        return found


def limiter_of(request: Request) -> LoginLimiter:
    return request.app.state.login_limiter


def access_token(user: User, settings: Settings, now: datetime) -> tuple[str, int]:
    lifetime = settings.access_token_minutes * 60
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user.id),
        "role": user.role.value,
        "tech": user.technician_id,
        "type": "access",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), ALGORITHM), lifetime


def _pair(user: User, settings: Settings, now: datetime, issued: accounts.Issued) -> TokenPair:
    token, lifetime = access_token(user, settings, now)
    return TokenPair(
        access_token=token,
        expires_in=lifetime,
        refresh_token=issued.token,
        refresh_expires_at=issued.expires_at,
    )


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer)],
) -> User:
    """The user of a valid access token; 401 with WWW-Authenticate otherwise."""
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a bearer token is required", UNAUTHORISED
        )
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "type"]},
        )
    except jwt.ExpiredSignatureError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the access token has expired", UNAUTHORISED
        ) from None
    except jwt.InvalidTokenError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the access token is not valid", UNAUTHORISED
        ) from None
    if claims["type"] != "access":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not an access token", UNAUTHORISED)
    user = session.get(User, int(claims["sub"]))
    if user is None or not user.is_active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the account is not active", UNAUTHORISED)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role) -> Callable[[User], User]:
    """A dependency admitting only ``roles`` (403 for anybody else signed in)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the role {' or '.join(r.value for r in roles)}",
            )
        return user

    return check


@router.post(
    "/auth/token",
    response_model=TokenPair,
    summary="Sign in (OAuth2 password flow)",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failed attempts"},
    },
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    engine: EngineDep,
    settings: SettingsDep,
    limiter: Annotated[LoginLimiter, Depends(limiter_of)],
) -> TokenPair:
    """Exchange a username and password for an access token and a refresh token."""
    key = (form.username.lower(), request.client.host if request.client else "-")
    wait = limiter.retry_after(key)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed sign-ins; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    now = datetime.now(UTC)
    with db.transaction(engine) as session:
        try:
            user = accounts.authenticate(session, form.username, form.password)
        except accounts.AuthenticationError as error:
            limiter.failed(key)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, error.message, UNAUTHORISED) from None
        limiter.succeeded(key)
        issued = accounts.issue_refresh(session, user, now, settings.refresh_token_days)
        return _pair(user, settings, now, issued)


@router.post(
    "/auth/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair",
    responses={401: {"description": "Unknown, expired or already used refresh token"}},
)
def refresh(body: RefreshRequest, engine: EngineDep, settings: SettingsDep) -> TokenPair:
    """Each refresh token works once; presenting a used one revokes its whole chain."""
    now = datetime.now(UTC)
    failure = None
    # Its own transaction: a revocation after a replayed token must be kept even though
    # the request fails.
    with db.transaction(engine) as session:
        try:
            user, issued = accounts.rotate_refresh(
                session, body.refresh_token, now, settings.refresh_token_days
            )
            return _pair(user, settings, now, issued)
        except accounts.AuthenticationError as error:
            failure = error
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, failure.message, UNAUTHORISED)


@router.post("/auth/logout", status_code=204, summary="Sign out: revoke a refresh token")
def logout(body: RefreshRequest, session: SessionDep) -> None:
    accounts.revoke_refresh(session, body.refresh_token, datetime.now(UTC))


@router.get(
    "/me",
    response_model=Me,
    summary="Who the token belongs to",
    tags=["auth"],
    responses={401: {"description": "Not signed in (or the account is disabled)"}},
)
def me(user: CurrentUser) -> Me:
    return Me(
        id=user.id,  # type: ignore[arg-type]
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        technician_id=user.technician_id,
    )
