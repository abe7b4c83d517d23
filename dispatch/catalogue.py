"""The catalogue dispatchers keep: creating and changing regions, skills, technicians (with skill
levels, weekly pattern and calendar exceptions), customers, sites and contracts, by code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, SQLModel, col, delete, select

from dispatch import inputs
from dispatch.models import (
    BusinessHours,
    CalendarException,
    Contract,
    Customer,
    Holiday,
    Region,
    Site,
    Skill,
    Technician,
    TechnicianSkill,
    WorkPattern,
)
from schedules.errors import ConflictError, InvalidError, NotFoundError

Row = TypeVar("Row", bound=SQLModel)
MAX_LEVEL = 5
# References given by code in the input, and the column each fills.
REFERENCES: dict[str, tuple[type[SQLModel], str]] = {
    "region": (Region, "region_id"),
    "customer": (Customer, "customer_id"),
}
# What a row exposes but nobody sets: keys, bookkeeping and the optimistic-lock revision.
NEVER_SET = frozenset({"id", "created_at", "revision", "region_id", "customer_id"})


def get(session: Session, model: type[Row], code: str) -> Row:
    """The row of ``model`` with ``code``, or NotFoundError naming it."""
    found = session.exec(select(model).where(col(model.code) == code)).first()  # type: ignore[attr-defined]
    if found is None:
        raise NotFoundError(
            f"{model.__tablename__.replace('_', ' ')} {code!r} does not exist",  # type: ignore[attr-defined]
            field="code",
            value=code,
        )
    return found


def create(session: Session, model: type[Row], values: Mapping[str, Any]) -> Row:
    """A new row of ``model`` from ``values`` (references such as ``region`` given by code);
    a taken code is a ConflictError, a broken rule an InvalidError naming the field."""
    values = _resolved(session, dict(values))
    taken = session.exec(
        select(model).where(col(model.code) == values.get("code"))  # type: ignore[attr-defined]
    ).first()
    if taken is not None:
        raise ConflictError(
            f"code {values['code']!r} is taken", field="code", value=values.get("code")
        )
    _check(model, values)
    row = inputs.validated(model, values)
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: Row, changes: Mapping[str, Any]) -> Row:
    """``row`` with ``changes`` applied, the whole row re-validated first; the code and
    bookkeeping columns cannot change."""
    for name in changes:
        if name in NEVER_SET or name == "code":
            raise InvalidError(f"{name} cannot be changed", field=name, value=changes[name])
    resolved = _resolved(session, dict(changes))
    merged = row.model_dump() | resolved
    _check(type(row), merged)
    inputs.validated(type(row), merged)
    for name, value in resolved.items():
        setattr(row, name, value)
    session.flush()
    return row


def create_technician(
    session: Session,
    *,
    code: str,
    name: str,
    region_code: str,
    home_lat: float,
    home_lon: float,
    email: str | None = None,
    phone: str | None = None,
    home_address: str | None = None,
    max_work_minutes: int = 480,
    hourly_cost_cents: int = 0,
    skills: Mapping[str, int] | None = None,
    active: bool = True,
) -> Technician:
    """A technician with their skill levels (skill code -> 1..5)."""
    tech = create(
        session,
        Technician,
        {
            "code": code,
            "name": name,
            "region": region_code,
            "home_lat": home_lat,
            "home_lon": home_lon,
            "email": email,
            "phone": phone,
            "home_address": home_address,
            "max_work_minutes": max_work_minutes,
            "hourly_cost_cents": hourly_cost_cents,
            "active": active,
        },
    )
    set_skills(session, tech, skills or {})
    return tech


def create_site(
    session: Session,
    *,
    code: str,
    customer_code: str,
    region_code: str,
    name: str,
    address: str,
    lat: float,
    lon: float,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    access_notes: str | None = None,
) -> Site:
    return create(
        session,
        Site,
        {
            "code": code,
            "customer": customer_code,
            "region": region_code,
            "name": name,
            "address": address,
            "lat": lat,
            "lon": lon,
            "contact_name": contact_name,
            "contact_phone": contact_phone,
            "access_notes": access_notes,
        },
    )


def skills_of(session: Session, technician_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Skill code -> level for each technician."""
    found: dict[int, dict[str, int]] = {tid: {} for tid in technician_ids}
    rows = session.exec(
        select(TechnicianSkill.technician_id, Skill.code, TechnicianSkill.level)
        .join(Skill, Skill.id == TechnicianSkill.skill_id)
        .where(col(TechnicianSkill.technician_id).in_(list(found)))
    )
    for tid, code, level in rows:
        found[tid][code] = level
    return found


def skill_levels(session: Session, skills: Mapping[str, int]) -> list[tuple[int, int]]:
    """(skill id, level) for each skill code of ``skills``: every code must exist and every
    level be 1..MAX_LEVEL, an error naming the first that is not."""
    if not isinstance(skills, Mapping):
        raise InvalidError(
            "skills must map skill codes to levels", field="skills", value=repr(skills)
        )
    ids = {
        code: skill_id
        for code, skill_id in session.exec(
            select(Skill.code, Skill.id).where(col(Skill.code).in_(list(skills)))
        )
    }
    levels = []
    for code, level in skills.items():
        if code not in ids:
            raise InvalidError(f"skill {code!r} does not exist", field="skills", value=code)
        inputs.whole(f"skills.{code}", level, 1, MAX_LEVEL)
        levels.append((ids[code], level))
    return levels


def set_skills(session: Session, tech: Technician, skills: Mapping[str, int]) -> None:
    """Replace the technician's skill levels with ``skills``."""
    levels = skill_levels(session, skills)
    session.exec(delete(TechnicianSkill).where(col(TechnicianSkill.technician_id) == tech.id))  # type: ignore[call-overload]
    for skill_id, level in levels:
        session.add(TechnicianSkill(technician_id=tech.id, skill_id=skill_id, level=level))  # type: ignore[arg-type]
    session.flush()


def set_pattern(session: Session, tech: Technician, days: list[Mapping[str, Any]]) -> None:
    """Replace the technician's weekly pattern: one shift per listed weekday (0 = Monday), in
    minutes of local time; unlisted weekdays are off."""
    _replace_weekly(session, WorkPattern, "technician_id", tech.id, days)  # type: ignore[arg-type]


def add_exception(
    session: Session,
    tech: Technician,
    *,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    note: str | None = None,
) -> CalendarException:
    """Time off or an extra shift for the technician, between two aware instants."""
    starts_at, ends_at = inputs.aware("starts_at", starts_at), inputs.aware("ends_at", ends_at)
    if ends_at <= starts_at:
        raise InvalidError("ends_at must be after starts_at", field="ends_at", value=str(ends_at))
    row = inputs.validated(
        CalendarException,
        {
            "technician_id": tech.id,
            "kind": kind,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "note": note,
        },
    )
    session.add(row)
    session.flush()
    return row


def exception_of(session: Session, tech: Technician, exception_id: int) -> CalendarException:
    row = session.get(CalendarException, exception_id)
    if row is None or row.technician_id != tech.id:
        raise NotFoundError(
            f"technician {tech.code} has no calendar exception {exception_id}",
            field="id",
            value=exception_id,
        )
    return row


def set_holiday(session: Session, region: Region, day: date, name: str) -> Holiday:
    """Make ``day`` a holiday of the region (renaming it if it already is one)."""
    row = session.get(Holiday, (region.id, day))
    if row is None:
        row = inputs.validated(Holiday, {"region_id": region.id, "day": day, "name": name})
        session.add(row)
    else:
        row.name = inputs.text("name", name, limit=100)
    session.flush()
    return row


def remove_holiday(session: Session, region: Region, day: date) -> None:
    row = session.get(Holiday, (region.id, day))
    if row is None:
        raise NotFoundError(
            f"{day.isoformat()} is not a holiday of region {region.code}",
            field="day",
            value=day.isoformat(),
        )
    session.delete(row)
    session.flush()


def set_business_hours(session: Session, region: Region, days: list[Mapping[str, Any]]) -> None:
    """Replace the region's business hours: opening minutes per listed weekday."""
    _replace_weekly(session, BusinessHours, "region_id", region.id, days)  # type: ignore[arg-type]


def _replace_weekly(
    session: Session,
    model: type[SQLModel],
    owner: str,
    owner_id: int,
    days: list[Mapping[str, Any]],
) -> None:
    """Replace ``owner_id``'s rows of a weekday-keyed table with one row per listed day."""
    rows: dict[int, Any] = {}
    for index, day in enumerate(days):
        row = inputs.validated(model, dict(day) | {owner: owner_id})
        if row.weekday in rows:  # type: ignore[attr-defined]
            raise InvalidError(
                f"weekday {row.weekday} is given twice",  # type: ignore[attr-defined]
                field=f"days.{index}.weekday",
                value=row.weekday,  # type: ignore[attr-defined]
            )
        rows[row.weekday] = row  # type: ignore[attr-defined]
    session.exec(delete(model).where(getattr(model, owner) == owner_id))  # type: ignore[call-overload]
    session.add_all(rows.values())
    session.flush()


def _resolved(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with references by code (``region``, ``customer``) replaced by ids; a code
    that does not exist is invalid input (422), not a missing resource."""
    for name, (model, column) in REFERENCES.items():
        if name in values:
            code = values.pop(name)
            found = session.exec(select(model.id).where(col(model.code) == code)).first()  # type: ignore[attr-defined]
            if found is None:
                raise InvalidError(f"{name} {code!r} does not exist", field=name, value=code)
            values[column] = found
    return values


def _check(model: type[SQLModel], values: Mapping[str, Any]) -> None:
    """Rules the column types cannot state, checked before the database sees the row."""
    if model is Region and "timezone" in values:
        try:
            ZoneInfo(str(values["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidError(
                f"timezone {values['timezone']!r} is not an IANA timezone",
                field="timezone",
                value=values["timezone"],
            ) from None
    if model is Contract:
        valid_to, valid_from = values.get("valid_to"), values.get("valid_from")
        if valid_to is not None and valid_from is not None and valid_to < valid_from:
            raise InvalidError(
                "valid_to is before valid_from", field="valid_to", value=str(valid_to)
            )
