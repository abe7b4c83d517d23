"""Table conventions every package's models share: constraint names, enum and UTC datetime types."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

# Deterministic constraint names keep migrations portable between SQLite and PostgreSQL and let
# error messages name the rule that was broken. Set here because schedules is the lowest layer
# that owns tables; dispatch.models imports this module before declaring its own.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class NaiveDatetimeError(ValueError):
    """A naive datetime reached the database; every stored instant must carry its offset."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware instant stored in UTC; naive values are refused instead of guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"datetime {value.isoformat()} has no timezone")
        value = value.astimezone(UTC)
        # SQLite has no timestamp-with-zone type; store naive UTC and re-attach UTC on load.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum_cls: type[StrEnum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, storing the members' values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_cls),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def check(sqltext: str, name: str) -> sa.CheckConstraint:
    """A named CHECK constraint (the name ends up in error messages and migrations)."""
    return sa.CheckConstraint(sqltext, name=name)


def in_range(column: str, low: Any, high: Any) -> sa.CheckConstraint:
    return check(f"{column} >= {low} AND {column} <= {high}", f"{column}_range")


def optimistic_lock(table: type[SQLModel], *, manual: bool = False) -> dict[str, Any]:
    """Mapper arguments that make every UPDATE of ``table`` check its ``revision`` column, so a
    write based on a stale read fails (StaleDataError) instead of silently overwriting.
    ``manual``: the code bumps ``revision`` itself, once per logical change."""
    args: dict[str, Any] = {"version_id_col": table.__table__.c.revision}  # type: ignore[attr-defined]
    if manual:
        args["version_id_generator"] = False
    return args
