"""Authentication over HTTP: the OAuth2 password flow issuing short-lived JWT access tokens
and rotating refresh tokens, the current-user and role dependencies, and a login rate limit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import EngineDep, SessionDep, SettingsDep, read_on_loop
from dispatch import accounts, db
from dispatch.models import Region, Role, Technician, User
from dispatch.settings import Settings

ALGORITHM = "HS256"
ISSUER = "field-dispatch"
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
router = APIRouter(prefix="/api/v1", tags=["auth"])
UNAUTHORISED = {"WWW-Authenticate": "Bearer"}
# How long a signed-in account is trusted without asking the database again: deactivating an
# account, or changing its role, takes effect on requests within this many seconds.
ACCOUNT_TTL_SECONDS = 5.0


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


def verified_claims(settings: Settings, token: str | None) -> dict[str, Any]:
    """The claims of a valid access token; 401 with WWW-Authenticate otherwise."""
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
    return claims


def _inactive() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "the account is not active", UNAUTHORISED)


def current_user(session: Session, settings: Settings, token: str | None) -> User:
    """The user of a valid access token, read in ``session``; 401 otherwise."""
    claims = verified_claims(settings, token)
    user = session.get(User, int(claims["sub"]))
    if user is None or not user.is_active:
        raise _inactive()
    return user


@dataclass(frozen=True, slots=True)
class Account:
    """What a request needs to know about its signed-in user (never the password hash)."""

    id: int
    username: str
    full_name: str
    role: Role
    technician_id: int | None
    created_at: datetime
    # A technician's code and region's timezone, read with the account: every request of a
    # technician's phone needs them, and they change seldom (see ACCOUNT_TTL_SECONDS).
    technician_code: str | None = None
    timezone: str | None = None

    def user(self) -> User:
        # A new detached row per request: a shared one could end up in two sessions.
        return User(
            id=self.id,
            username=self.username,
            full_name=self.full_name,
            password_hash="",
            role=self.role,
            technician_id=self.technician_id,
            is_active=True,
            created_at=self.created_at,
        )


class SignIns:
    """What earlier requests established, kept in memory so that a request neither queries
    the user table every time: access tokens already verified (their
    user and expiry, checked against ``wall``; the signature check is a good part of a
    request's own work) and active accounts, each trusted for ``ttl`` seconds of ``clock``
    after it was read. Keys come from tokens we signed, so the account table stays as small
    as the user table; the token table is emptied when it reaches ``max_tokens``. Used from
    the event loop only."""

    def __init__(
        self,
        ttl: float = ACCOUNT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_tokens: int = 10_000,
    ):
        self.ttl = ttl
        self.clock = clock
        self.wall = wall
        self.max_tokens = max_tokens
        self._tokens: dict[str, tuple[int, int]] = {}
        self._accounts: dict[int, tuple[float, Account]] = {}

    def token(self, token: str) -> tuple[int, int] | None:
        """User id and expiry (Unix seconds) of a token verified before."""
        return self._tokens.get(token)

    def verified(self, token: str, claims: dict[str, Any]) -> tuple[int, int]:
        if len(self._tokens) >= self.max_tokens:
            self._tokens.clear()
        found = self._tokens[token] = (int(claims["sub"]), int(claims["exp"]))
        return found

    def expired(self, expires: int) -> bool:
        """The expiry test of jwt.decode, for tokens it verified earlier."""
        return expires <= self.wall()

    def account(self, user_id: int) -> Account | None:
        found = self._accounts.get(user_id)
        if found is None or found[0] <= self.clock():
            return None
        return found[1]

    def put(self, account: Account) -> None:
        self._accounts[account.id] = (self.clock() + self.ttl, account)

    def forget(self, user_id: int | None = None) -> None:
        """Ask the database again next time: about ``user_id``, or about everybody."""
        if user_id is None:
            self._accounts.clear()
        else:
            self._accounts.pop(user_id, None)


_ACCOUNT = (
    select(
        User.id,
        User.username,
        User.full_name,
        User.role,
        User.technician_id,
        User.created_at,
        Technician.code,
        Region.timezone,
        User.is_active,
    )
    .outerjoin(Technician, col(Technician.id) == User.technician_id)
    .outerjoin(Region, col(Region.id) == Technician.region_id)
    .where(User.id == sa.bindparam("id"))
)


def read_account(connection: sa.Connection, user_id: int) -> Account | None:
    """The active account ``user_id``; None when it is absent or deactivated."""
    row = connection.execute(_ACCOUNT, {"id": user_id}).first()
    if row is None or not row.is_active:
        return None
    return Account(*row[:-1])


def sign_ins_of(app: FastAPI) -> SignIns:
    # Made on first use, on the event loop (one thread), so never twice.
    found = getattr(app.state, "sign_ins", None)
    if found is None:
        found = app.state.sign_ins = SignIns()
    return found


async def signed_in(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Account:
    """The account of a valid access token; 401 with WWW-Authenticate otherwise. A
    coroutine, so that it costs no thread-pool hop: a known token of a known account costs no
    query either (see ACCOUNT_TTL_SECONDS), an account not read lately one read on the event
    loop. Settings come from the app's state, as get_settings gives them, without a
    dependency: every signed-in request runs this."""
    sign_ins = sign_ins_of(request.app)
    known = sign_ins.token(token) if token is not None else None
    if known is None:
        claims = verified_claims(request.app.state.settings, token)
        known = sign_ins.verified(token, claims)  # type: ignore[arg-type]
    user_id, expires = known
    if sign_ins.expired(expires):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the access token has expired", UNAUTHORISED
        )
    account = sign_ins.account(user_id)
    if account is None:
        account = read_on_loop(request, read_account, user_id)
        if account is None:
            raise _inactive()
        sign_ins.put(account)
    return account


async def _signed_in_user(account: Annotated[Account, Depends(signed_in)]) -> User:
    return account.user()


CurrentUser = Annotated[User, Depends(_signed_in_user)]


def _admit(roles: tuple[Role, ...], role: Role) -> None:
    if role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs the role {' or '.join(r.value for r in roles)}",
        )


def require(*roles: Role) -> Callable[[User], User]:
    """A dependency admitting only ``roles`` (403 for anybody else signed in)."""

    # Plain (not a coroutine): it is also called directly with a user read elsewhere.
    def check(user: CurrentUser) -> User:
        _admit(roles, user.role)
        return user

    return check


def require_account(*roles: Role) -> Callable[..., Awaitable[Account]]:
    """require() for routes that need only the Account: a coroutine (no thread-pool hop) with
    no dependency but the bearer token, since every dependency level costs a little on the
    hottest paths."""

    async def check(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Account:
        account = await signed_in(request, token)
        _admit(roles, account.role)
        return account

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
) -> TokenPair:
    """Exchange a username and password for an access token and a refresh token."""
    # Failures are counted in the database, so the limit holds whichever process answers.
    limit = accounts.SignInLimit(
        settings.login_max_failures, timedelta(seconds=settings.login_window_seconds)
    )
    key = (form.username.lower()[:200], request.client.host if request.client else "-")
    now = datetime.now(UTC)
    # Decided inside the transaction, raised after it: a failure must be committed.
    with db.transaction(db.writers(engine)) as session:
        wait = limit.wait(session, key, now)
        if not wait:
            try:
                user = accounts.authenticate(session, form.username, form.password)
            except accounts.AuthenticationError as error:
                limit.failed(session, key, now)
                failure = error
            else:
                limit.succeeded(session, key)
                issued = accounts.issue_refresh(session, user, now, settings.refresh_token_days)
                return _pair(user, settings, now, issued)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed sign-ins; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, failure.message, UNAUTHORISED)


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
