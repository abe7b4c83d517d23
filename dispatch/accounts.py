"""User accounts: password hashing (argon2 through pwdlib), checking credentials, the limit
on failed sign-ins (in the database, so it holds across server processes), and the refresh
tokens that keep a session going (rotated on every use, revoked as a family when a replaced
one comes back)."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlmodel import Session, col, select

from dispatch.models import LoginFailure, RefreshToken, User
from schedules.errors import DomainError


class AuthenticationError(DomainError):
    """Credentials or a token that do not identify an active user (HTTP 401)."""


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher().verify(password, password_hash)


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials. An unknown name costs the same argon2 check
    as a wrong password, so timing does not tell which names exist."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(password, _decoy())
        raise AuthenticationError("wrong username or password")
    if not verify_password(password, user.password_hash) or not user.is_active:
        raise AuthenticationError("wrong username or password")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_at: datetime


def issue_refresh(
    session: Session, user: User, now: datetime, days: int, family: str | None = None
) -> Issued:
    """A new refresh token (256 random bits); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(days=days)
    session.add(
        RefreshToken(
            token_hash=_digest(token),
            user_id=user.id,  # type: ignore[arg-type]
            family=family or secrets.token_hex(16),
            expires_at=expires,
        )
    )
    session.flush()
    return Issued(token, expires)


def rotate_refresh(session: Session, token: str, now: datetime, days: int) -> tuple[User, Issued]:
    """Exchange a refresh token for a new one of its family. A token already exchanged (or
    revoked) revokes the whole family: either it leaked, or a client replays old state."""
    found = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(token)).with_for_update()
    ).first()
    if found is None or found.expires_at <= now:
        raise AuthenticationError("the refresh token is unknown or expired")
    if found.revoked_at is not None:
        revoke_family(session, found.family, now)
        raise AuthenticationError("the refresh token was already used; sign in again")
    user = session.get(User, found.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("the account is no longer active")
    found.revoked_at = now
    return user, issue_refresh(session, user, now, days, family=found.family)


def revoke_refresh(session: Session, token: str, now: datetime) -> None:
    """Sign out: the token's family can no longer be refreshed."""
    found = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == _digest(token))
    ).first()
    if found is not None:
        revoke_family(session, found.family, now)


def revoke_family(session: Session, family: str, now: datetime) -> None:
    for row in session.exec(
        select(RefreshToken).where(RefreshToken.family == family, RefreshToken.revoked_at == None)  # noqa: E711
    ):
        row.revoked_at = now
    session.flush()


@dataclass(frozen=True)
class SignInLimit:
    """At most ``max_failures`` failed sign-ins per (username, address) within ``window``."""

    max_failures: int
    window: timedelta

    def wait(self, session: Session, key: tuple[str, str], now: datetime) -> int:
        """Seconds until ``key`` may try again; 0: now."""
        username, address = key
        recent = session.exec(
            select(LoginFailure.failed_at)
            .where(
                LoginFailure.username == username,
                LoginFailure.address == address,
                LoginFailure.failed_at > now - self.window,  # type: ignore[operator]
            )
            .order_by(col(LoginFailure.failed_at).desc())
            .limit(self.max_failures)
        ).all()
        if len(recent) < self.max_failures:
            return 0
        # The oldest of the last max_failures failures leaving the window frees a try.
        return max(1, math.ceil((recent[-1] + self.window - now).total_seconds()))

    def failed(self, session: Session, key: tuple[str, str], now: datetime) -> None:
        username, address = key
        # Forget this key's failures that left the window, so the table stays small.
        session.execute(
            sa.delete(LoginFailure).where(
                col(LoginFailure.username) == username,
                col(LoginFailure.address) == address,
                col(LoginFailure.failed_at) <= now - self.window,
            )
        )
        session.add(LoginFailure(username=username, address=address, failed_at=now))
        session.flush()

    def succeeded(self, session: Session, key: tuple[str, str]) -> None:
        username, address = key
        session.execute(
            sa.delete(LoginFailure).where(
                col(LoginFailure.username) == username, col(LoginFailure.address) == address
            )
        )
