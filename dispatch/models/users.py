"""Table for people who log in: administrators, dispatchers and technicians."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, enum_type, utcnow


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    technician = "technician"


class User(SQLModel, table=True):
    """An account; a technician's account is linked to exactly one technician."""

    __tablename__ = "app_user"
    __table_args__ = (
        check("(role = 'technician') = (technician_id IS NOT NULL)", "technician_link"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=255)
    role: Role = Field(sa_type=enum_type(Role, "role"))
    technician_id: int | None = Field(
        default=None, foreign_key="technician.id", ondelete="RESTRICT", unique=True
    )
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored as its SHA-256 only. Each use replaces it with a new one of
    the same family; presenting a replaced token again means it leaked, and revokes the
    family."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    family: str = Field(max_length=64, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, kept for the login window, so the limit on failures holds whichever
    server process answers."""

    __tablename__ = "login_failure"
    __table_args__ = (sa.Index("ix_login_failure_key", "username", "address", "failed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # Lower-cased as typed (unknown usernames count too), so not a foreign key.
    username: str = Field(max_length=200)
    address: str = Field(max_length=64)
    failed_at: datetime = Field(sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """A POST already applied under an Idempotency-Key: a retry gets the first answer back
    instead of applying twice. Written in the same transaction as the change it records."""

    __tablename__ = "idempotency_record"

    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(max_length=100, primary_key=True)
    # Method, path and a hash of the body: the same key with another request is a mistake.
    fingerprint: str = Field(max_length=64)
    status_code: int = 0
    headers: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    body: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
