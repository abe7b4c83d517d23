"""Dispatchers' API: the catalogue's regions (with holidays and business hours) and skills,
which admins keep, and what every catalogue router shares (roles, documented refusals,
created/changed answers, search). Technicians and customers have routers of their own."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session, col, select

from api import conditional
from api.auth import require
from api.deps import SessionDep
from api.listing import Page, PagingDep, page
from api.schemas import catalogue as s
from dispatch import catalogue
from dispatch.models import (
    BusinessHours,
    Holiday,
    Region,
    Role,
    Skill,
    User,
)

Office = Annotated[User, Depends(require(Role.dispatcher, Role.admin))]
Admin = Annotated[User, Depends(require(Role.admin))]
router = APIRouter(prefix="/api/v1")
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not allowed for this role"},
}
READ = {**REFUSED, 404: {"description": "No such code"}}
WRITE = {
    **READ,
    409: {"description": "The code is taken, or the row changed meanwhile"},
    412: {"description": "If-Match names an older revision"},
    422: {"description": "A field breaks a rule; the field and value are named"},
}
CREATED = {k: v for k, v in WRITE.items() if k not in (404, 412)}
Search = Annotated[
    str | None, Query(max_length=100, description="Case-insensitive part of code or name.")
]


def created(response: Response, path: str, revision: int | None = None) -> None:
    response.headers["Location"] = path
    if revision is not None:
        conditional.tag(response, revision)


def changed(
    session: Session, row: Any, changes: dict[str, Any], if_match: str | None, response: Response
) -> None:
    conditional.check(if_match, row.revision, f"{row.__tablename__} {row.code}")
    catalogue.update(session, row, changes)
    conditional.tag(response, row.revision)


def matching(statement: Any, model: Any, q: str | None) -> Any:
    if q:
        pattern = f"%{q.lower()}%"
        statement = statement.where(col(model.code).ilike(pattern) | col(model.name).ilike(pattern))
    return statement


# Regions ------------------------------------------------------------------------------------


def _region(row: Region) -> s.RegionRead:
    return s.RegionRead.model_validate(row, from_attributes=True)


@router.get("/regions", response_model=Page[s.RegionRead], tags=["regions"], responses=REFUSED)
def list_regions(session: SessionDep, _: Office, paging: PagingDep, q: Search = None) -> Any:
    """Regions, by code unless sorted otherwise."""
    return page(
        session,
        matching(select(Region), Region, q),
        paging,
        sortable={"code": Region.code, "name": Region.name, "created_at": Region.created_at},
        default="code",
        tiebreak=Region.id,
        read=_region,
    )


@router.post(
    "/regions", status_code=201, response_model=s.RegionRead, tags=["regions"], responses=CREATED
)
def create_region(
    body: s.RegionCreate, session: SessionDep, _: Admin, response: Response
) -> s.RegionRead:
    """A new region (admins)."""
    row = catalogue.create(session, Region, body.model_dump())
    created(response, f"/api/v1/regions/{row.code}", row.revision)
    return _region(row)


@router.get("/regions/{code}", response_model=s.RegionRead, tags=["regions"], responses=READ)
def get_region(code: str, session: SessionDep, _: Office, response: Response) -> s.RegionRead:
    row = catalogue.get(session, Region, code)
    conditional.tag(response, row.revision)
    return _region(row)


@router.patch("/regions/{code}", response_model=s.RegionRead, tags=["regions"], responses=WRITE)
def update_region(
    code: str,
    body: s.RegionUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Admin,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.RegionRead:
    """Change a region (admins); absent fields stay as they are."""
    row = catalogue.get(session, Region, code)
    changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _region(row)


@router.get(
    "/regions/{code}/holidays",
    response_model=list[s.HolidayRead],
    tags=["regions"],
    responses=READ,
)
def list_holidays(
    code: str,
    session: SessionDep,
    _: Office,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[s.HolidayRead]:
    region = catalogue.get(session, Region, code)
    statement = select(Holiday).where(Holiday.region_id == region.id)
    if year is not None:
        statement = statement.where(
            Holiday.day >= date(year, 1, 1),  # type: ignore[operator]
            Holiday.day <= date(year, 12, 31),  # type: ignore[operator]
        )
    return [
        s.HolidayRead(day=h.day, name=h.name) for h in session.exec(statement.order_by(Holiday.day))
    ]


@router.put(
    "/regions/{code}/holidays/{day}",
    response_model=s.HolidayRead,
    tags=["regions"],
    responses=WRITE,
)
def put_holiday(
    code: str, day: date, body: s.HolidayPut, session: SessionDep, _: Office
) -> s.HolidayRead:
    """Make a local day a holiday of the region: no regular shifts, no business hours."""
    row = catalogue.set_holiday(session, catalogue.get(session, Region, code), day, body.name)
    return s.HolidayRead(day=row.day, name=row.name)


@router.delete("/regions/{code}/holidays/{day}", status_code=204, tags=["regions"], responses=READ)
def delete_holiday(code: str, day: date, session: SessionDep, _: Office) -> None:
    catalogue.remove_holiday(session, catalogue.get(session, Region, code), day)


@router.get(
    "/regions/{code}/business-hours",
    response_model=s.BusinessHours,
    tags=["regions"],
    responses=READ,
)
def get_business_hours(code: str, session: SessionDep, _: Office) -> s.BusinessHours:
    """When business-hours SLA clocks run in the region (local minutes per weekday)."""
    region = catalogue.get(session, Region, code)
    rows = session.exec(
        select(BusinessHours)
        .where(BusinessHours.region_id == region.id)
        .order_by(BusinessHours.weekday)  # type: ignore[arg-type]
    )
    return s.BusinessHours(
        days=[
            s.OpeningDay(
                weekday=r.weekday, opens_minute=r.opens_minute, closes_minute=r.closes_minute
            )
            for r in rows
        ]
    )


@router.put(
    "/regions/{code}/business-hours",
    response_model=s.BusinessHours,
    tags=["regions"],
    responses=WRITE,
)
def put_business_hours(
    code: str, body: s.BusinessHours, session: SessionDep, _: Admin
) -> s.BusinessHours:
    """Replace the region's business hours (admins); unlisted weekdays are closed."""
    region = catalogue.get(session, Region, code)
    catalogue.set_business_hours(session, region, [d.model_dump() for d in body.days])
    return body


# Skills -------------------------------------------------------------------------------------


@router.get("/skills", response_model=Page[s.SkillRead], tags=["skills"], responses=REFUSED)
def list_skills(session: SessionDep, _: Office, paging: PagingDep, q: Search = None) -> Any:
    return page(
        session,
        matching(select(Skill), Skill, q),
        paging,
        sortable={"code": Skill.code, "name": Skill.name},
        default="code",
        tiebreak=Skill.id,
        read=lambda row: s.SkillRead(code=row.code, name=row.name),
    )


@router.post(
    "/skills", status_code=201, response_model=s.SkillRead, tags=["skills"], responses=CREATED
)
def create_skill(
    body: s.SkillCreate, session: SessionDep, _: Admin, response: Response
) -> s.SkillRead:
    row = catalogue.create(session, Skill, body.model_dump())
    created(response, f"/api/v1/skills/{row.code}")
    return s.SkillRead(code=row.code, name=row.name)


@router.get("/skills/{code}", response_model=s.SkillRead, tags=["skills"], responses=READ)
def get_skill(code: str, session: SessionDep, _: Office) -> s.SkillRead:
    row = catalogue.get(session, Skill, code)
    return s.SkillRead(code=row.code, name=row.name)


@router.patch("/skills/{code}", response_model=s.SkillRead, tags=["skills"], responses=WRITE)
def update_skill(
    code: str,
    body: s.SkillUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Admin,
) -> s.SkillRead:
    row = catalogue.get(session, Skill, code)
    catalogue.update(session, row, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
    return s.SkillRead(code=row.code, name=row.name)
