"""Dispatchers' API: technicians — their skill levels, weekly pattern and calendar exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, select

from api import conditional
from api.deps import SessionDep
from api.listing import Page, PagingDep, page
from api.routers.catalogue import (
    CREATED,
    READ,
    REFUSED,
    WRITE,
    Office,
    Search,
    changed,
    created,
    matching,
)
from api.schemas import catalogue as s
from dispatch import catalogue
from dispatch.models import (
    CalendarException,
    Region,
    Skill,
    Technician,
    TechnicianSkill,
    WorkPattern,
)

router = APIRouter(prefix="/api/v1")


# Technicians --------------------------------------------------------------------------------


def _technicians(session: Session, rows: list[Technician]) -> list[s.TechnicianRead]:
    skills = catalogue.skills_of(session, [t.id for t in rows])  # type: ignore[misc]
    regions = {r.id: r.code for r in session.exec(select(Region))}
    return [
        s.TechnicianRead.model_validate(
            t.model_dump() | {"region": regions[t.region_id], "skills": skills[t.id]}  # type: ignore[index]
        )
        for t in rows
    ]


@router.get(
    "/technicians", response_model=Page[s.TechnicianRead], tags=["technicians"], responses=REFUSED
)
def list_technicians(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    q: Search = None,
    region: Annotated[str | None, Query(max_length=16, description="Region code.")] = None,
    skill: Annotated[str | None, Query(max_length=32, description="Has this skill code.")] = None,
    min_level: Annotated[int, Query(ge=1, le=5, description="With skill: at least.")] = 1,
    active: bool | None = None,
) -> Any:
    """Technicians, filtered by region, skill (and level) and whether active."""
    statement = matching(select(Technician), Technician, q)
    if region is not None:
        statement = statement.join(Region, Region.id == Technician.region_id).where(
            Region.code == region
        )
    if skill is not None:
        statement = (
            statement.join(TechnicianSkill, TechnicianSkill.technician_id == Technician.id)
            .join(Skill, Skill.id == TechnicianSkill.skill_id)
            .where(Skill.code == skill, TechnicianSkill.level >= min_level)
        )
    if active is not None:
        statement = statement.where(Technician.active == active)
    return page(
        session,
        statement,
        paging,
        sortable={
            "code": Technician.code,
            "name": Technician.name,
            "created_at": Technician.created_at,
        },
        default="code",
        tiebreak=Technician.id,
        read_all=lambda rows: _technicians(session, rows),
    )


@router.post(
    "/technicians",
    status_code=201,
    response_model=s.TechnicianRead,
    tags=["technicians"],
    responses=CREATED,
)
def create_technician(
    body: s.TechnicianCreate, session: SessionDep, _: Office, response: Response
) -> s.TechnicianRead:
    """A new technician with skill levels; give them a weekly pattern next."""
    values = body.model_dump()
    values["region_code"] = values.pop("region")
    row = catalogue.create_technician(session, **values)
    created(response, f"/api/v1/technicians/{row.code}", row.revision)
    return _technicians(session, [row])[0]


@router.get(
    "/technicians/{code}", response_model=s.TechnicianRead, tags=["technicians"], responses=READ
)
def get_technician(
    code: str, session: SessionDep, _: Office, response: Response
) -> s.TechnicianRead:
    row = catalogue.get(session, Technician, code)
    conditional.tag(response, row.revision)
    return _technicians(session, [row])[0]


@router.patch(
    "/technicians/{code}", response_model=s.TechnicianRead, tags=["technicians"], responses=WRITE
)
def update_technician(
    code: str,
    body: s.TechnicianUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.TechnicianRead:
    """Change a technician; ``skills``, when given, replaces all their levels."""
    row = catalogue.get(session, Technician, code)
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    skills = changes.pop("skills", None)
    changed(session, row, changes, if_match, response)
    if skills is not None:
        catalogue.set_skills(session, row, skills)
    return _technicians(session, [row])[0]


@router.get(
    "/technicians/{code}/pattern", response_model=s.Pattern, tags=["technicians"], responses=READ
)
def get_pattern(code: str, session: SessionDep, _: Office) -> s.Pattern:
    """The technician's regular week, in local minutes of their region."""
    tech = catalogue.get(session, Technician, code)
    rows = session.exec(
        select(WorkPattern)
        .where(WorkPattern.technician_id == tech.id)
        .order_by(WorkPattern.weekday)  # type: ignore[arg-type]
    )
    return s.Pattern(
        days=[s.PatternDay.model_validate(r.model_dump(exclude={"technician_id"})) for r in rows]
    )


@router.put(
    "/technicians/{code}/pattern", response_model=s.Pattern, tags=["technicians"], responses=WRITE
)
def put_pattern(code: str, body: s.Pattern, session: SessionDep, _: Office) -> s.Pattern:
    """Replace the technician's regular week; unlisted weekdays are off."""
    tech = catalogue.get(session, Technician, code)
    catalogue.set_pattern(session, tech, [d.model_dump() for d in body.days])
    return body


def _exception(row: CalendarException) -> s.ExceptionRead:
    return s.ExceptionRead.model_validate(row, from_attributes=True)


@router.get(
    "/technicians/{code}/exceptions",
    response_model=list[s.ExceptionRead],
    tags=["technicians"],
    responses=READ,
)
def list_exceptions(
    code: str,
    session: SessionDep,
    _: Office,
    since: Annotated[date | None, Query(description="Ending on or after this day (UTC).")] = None,
) -> list[s.ExceptionRead]:
    """Time off and extra shifts of the technician, in order."""
    tech = catalogue.get(session, Technician, code)
    statement = select(CalendarException).where(CalendarException.technician_id == tech.id)
    if since is not None:
        start = datetime.combine(since, time(), UTC)
        statement = statement.where(col(CalendarException.ends_at) >= start)
    return [_exception(r) for r in session.exec(statement.order_by(CalendarException.starts_at))]  # type: ignore[arg-type]


@router.post(
    "/technicians/{code}/exceptions",
    status_code=201,
    response_model=s.ExceptionRead,
    tags=["technicians"],
    responses=WRITE,
)
def create_exception(
    code: str, body: s.ExceptionCreate, session: SessionDep, _: Office, response: Response
) -> s.ExceptionRead:
    """Time off (vacation, sickness, training, other) or an extra shift. Re-plan the day to
    move visits off a technician who became unavailable."""
    tech = catalogue.get(session, Technician, code)
    row = catalogue.add_exception(session, tech, **body.model_dump())
    created(response, f"/api/v1/technicians/{code}/exceptions/{row.id}")
    return _exception(row)


@router.delete(
    "/technicians/{code}/exceptions/{exception_id}",
    status_code=204,
    tags=["technicians"],
    responses=READ,
)
def delete_exception(code: str, exception_id: int, session: SessionDep, _: Office) -> None:
    tech = catalogue.get(session, Technician, code)
    session.delete(catalogue.exception_of(session, tech, exception_id))
    session.flush()
