"""Checking input values and building rows from them: the refusals every service shares, each
naming the field and the value (InvalidError / NotFoundError / ConflictError)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, col, select

from schedules.errors import ConflictError, InvalidError, NotFoundError

Row = TypeVar("Row", bound=SQLModel)
Enum = TypeVar("Enum", bound=StrEnum)
# A concurrent insert may take the code just computed; each retry reads the new highest.
CODE_ATTEMPTS = 5


def next_code(session: Session, model: type[Row], prefix: str, width: int) -> str:
    """``prefix`` and the number after the highest among ``model``'s codes that are ``prefix``
    and digits (others are ignored), zero-padded to ``width`` digits."""
    code = col(model.code)  # type: ignore[attr-defined]
    digits = sa.func.substr(code, len(prefix) + 1)
    # Leading zeros stripped, a longer number is a larger one and equal lengths compare as
    # text, so the database finds the highest without every code being read.
    number = sa.func.ltrim(digits, "0")
    highest = session.exec(
        select(digits)
        .where(
            code.startswith(prefix, autoescape=True),
            sa.func.length(code) > len(prefix),
            sa.func.ltrim(digits, "0123456789") == "",
        )
        .order_by(sa.func.length(number).desc(), number.desc())
        .limit(1)
    ).first()
    return f"{prefix}{int(highest or 0) + 1:0{width}d}"


def insert_numbered(
    session: Session, model: type[Row], numbering: tuple[str, int], values: dict[str, Any]
) -> Row:
    """Insert a row under the next free code, retrying (in a savepoint) if a concurrent
    transaction took it first."""
    prefix, width = numbering
    for _ in range(CODE_ATTEMPTS):
        code = next_code(session, model, prefix, width)
        row = validated(model, values | {"code": code})
        try:
            with session.begin_nested():
                session.add(row)
        except sa.exc.IntegrityError:
            taken = session.exec(
                select(model).where(col(model.code) == code)  # type: ignore[attr-defined]
            ).first()
            if taken is None:
                raise
            continue
        return row
    raise ConflictError(
        f"no free {prefix} code after {CODE_ATTEMPTS} attempts; retry", field="code", value=prefix
    )


def by_code(session: Session, model: type[Row], field: str, code: str) -> Row:
    found = session.exec(
        select(model).where(col(model.code) == code)  # type: ignore[attr-defined]
    ).first()
    if found is None:
        what = field.removesuffix("_code")
        raise NotFoundError(f"{what} {code!r} does not exist", field=field, value=code)
    return found


def validated(model: type[Row], values: dict[str, Any]) -> Row:
    """A row built through validation, its first complaint raised as an InvalidError."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise InvalidError(
            f"{field}: {error['msg']}", field=field, value=error.get("input")
        ) from None


def member(enum: type[Enum], field: str, value: Any) -> Enum:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidError(
            f"{field} {value!r} is not one of {choices}", field=field, value=value
        ) from None


def text(field: str, value: Any, *, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidError(f"{field} must not be empty", field=field, value=value)
    if limit is not None and len(value) > limit:
        raise InvalidError(
            f"{field} is longer than {limit} characters", field=field, value=value[:limit]
        )
    return value.strip()


def whole(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidError(
            f"{field} {value!r} is not a whole number in {low}..{high}", field=field, value=value
        )


def coordinate(field: str, value: Any, limit: int) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -limit <= value <= limit
    ):
        raise InvalidError(
            f"{field} {value!r} is outside -{limit}..{limit}", field=field, value=value
        )
    return float(value)


def aware(field: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidError(
            f"{field} must be an aware datetime (with a UTC offset)", field=field, value=str(value)
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # an offset that pushes year 1 or 9999 off the calendar
        raise InvalidError(
            f"{field} is outside the calendar", field=field, value=str(value)
        ) from None


def day(field: str, value: Any) -> date:
    # A datetime is a date too, and would silently drop its time and zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidError(f"{field} must be a date", field=field, value=str(value))
    return value


def reference(session: Session, model: type[Row], field: str, code: str) -> Row:
    """The row a request names by code in its input: one that does not exist makes the input
    invalid (InvalidError), unlike the object a request is about (by_code: NotFoundError)."""
    try:
        return by_code(session, model, field, code)
    except NotFoundError as missing:
        raise InvalidError(missing.message, field=field, value=code) from None
