"""Dispatchers' API: the catalogue — regions (with holidays and business hours), skills,
technicians (with skills, weekly pattern and calendar exceptions), customers, sites, contracts.
Admins keep regions and skills; dispatchers and admins keep the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
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
    CalendarException,
    Contract,
    Customer,
    Holiday,
    Region,
    Role,
    Site,
    Skill,
    Technician,
    TechnicianSkill,
    User,
    WorkPattern,
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


def _created(response: Response, path: str, revision: int | None = None) -> None:
    response.headers["Location"] = path
    if revision is not None:
        conditional.tag(response, revision)


def _changed(
    session: Session, row: Any, changes: dict[str, Any], if_match: str | None, response: Response
) -> None:
    conditional.check(if_match, row.revision, f"{row.__tablename__} {row.code}")
    catalogue.update(session, row, changes)
    conditional.tag(response, row.revision)


def _matching(statement: Any, model: Any, q: str | None) -> Any:
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
        _matching(select(Region), Region, q),
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
    _created(response, f"/api/v1/regions/{row.code}", row.revision)
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
    _changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
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
        _matching(select(Skill), Skill, q),
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
    _created(response, f"/api/v1/skills/{row.code}")
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
    statement = _matching(select(Technician), Technician, q)
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
    found = page(
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
        read=lambda row: row,
    )
    return Page[s.TechnicianRead](
        **found.model_dump(exclude={"items"}), items=_technicians(session, found.items)
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
    _created(response, f"/api/v1/technicians/{row.code}", row.revision)
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
    _changed(session, row, changes, if_match, response)
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
    _created(response, f"/api/v1/technicians/{code}/exceptions/{row.id}")
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


# Customers, sites, contracts ----------------------------------------------------------------


def _customer(row: Customer) -> s.CustomerRead:
    return s.CustomerRead.model_validate(row, from_attributes=True)


@router.get(
    "/customers", response_model=Page[s.CustomerRead], tags=["customers"], responses=REFUSED
)
def list_customers(session: SessionDep, _: Office, paging: PagingDep, q: Search = None) -> Any:
    return page(
        session,
        _matching(select(Customer), Customer, q),
        paging,
        sortable={"code": Customer.code, "name": Customer.name, "created_at": Customer.created_at},
        default="code",
        tiebreak=Customer.id,
        read=_customer,
    )


@router.post(
    "/customers",
    status_code=201,
    response_model=s.CustomerRead,
    tags=["customers"],
    responses=CREATED,
)
def create_customer(
    body: s.CustomerCreate, session: SessionDep, _: Office, response: Response
) -> s.CustomerRead:
    row = catalogue.create(session, Customer, body.model_dump())
    _created(response, f"/api/v1/customers/{row.code}", row.revision)
    return _customer(row)


@router.get("/customers/{code}", response_model=s.CustomerRead, tags=["customers"], responses=READ)
def get_customer(code: str, session: SessionDep, _: Office, response: Response) -> s.CustomerRead:
    row = catalogue.get(session, Customer, code)
    conditional.tag(response, row.revision)
    return _customer(row)


@router.patch(
    "/customers/{code}", response_model=s.CustomerRead, tags=["customers"], responses=WRITE
)
def update_customer(
    code: str,
    body: s.CustomerUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.CustomerRead:
    row = catalogue.get(session, Customer, code)
    _changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _customer(row)


def _site(session: Session, row: Site) -> s.SiteRead:
    customer = session.get_one(Customer, row.customer_id).code
    region = session.get_one(Region, row.region_id).code
    return s.SiteRead.model_validate(row.model_dump() | {"customer": customer, "region": region})


@router.get("/sites", response_model=Page[s.SiteRead], tags=["customers"], responses=REFUSED)
def list_sites(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    q: Search = None,
    customer: Annotated[str | None, Query(max_length=32, description="Customer code.")] = None,
    region: Annotated[str | None, Query(max_length=16, description="Region code.")] = None,
) -> Any:
    statement = _matching(select(Site), Site, q)
    if customer is not None:
        statement = statement.join(Customer, Customer.id == Site.customer_id).where(
            Customer.code == customer
        )
    if region is not None:
        statement = statement.join(Region, Region.id == Site.region_id).where(Region.code == region)
    return page(
        session,
        statement,
        paging,
        sortable={"code": Site.code, "name": Site.name, "created_at": Site.created_at},
        default="code",
        tiebreak=Site.id,
        read=lambda row: _site(session, row),
    )


@router.post(
    "/sites", status_code=201, response_model=s.SiteRead, tags=["customers"], responses=CREATED
)
def create_site(
    body: s.SiteCreate, session: SessionDep, _: Office, response: Response
) -> s.SiteRead:
    values = body.model_dump()
    values["customer_code"], values["region_code"] = values.pop("customer"), values.pop("region")
    row = catalogue.create_site(session, **values)
    _created(response, f"/api/v1/sites/{row.code}", row.revision)
    return _site(session, row)


@router.get("/sites/{code}", response_model=s.SiteRead, tags=["customers"], responses=READ)
def get_site(code: str, session: SessionDep, _: Office, response: Response) -> s.SiteRead:
    row = catalogue.get(session, Site, code)
    conditional.tag(response, row.revision)
    return _site(session, row)


@router.patch("/sites/{code}", response_model=s.SiteRead, tags=["customers"], responses=WRITE)
def update_site(
    code: str,
    body: s.SiteUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.SiteRead:
    row = catalogue.get(session, Site, code)
    _changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _site(session, row)


def _contract(session: Session, row: Contract) -> s.ContractRead:
    customer = session.get_one(Customer, row.customer_id).code
    return s.ContractRead.model_validate(row.model_dump() | {"customer": customer})


@router.get(
    "/contracts", response_model=Page[s.ContractRead], tags=["contracts"], responses=REFUSED
)
def list_contracts(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    q: Search = None,
    customer: Annotated[str | None, Query(max_length=32, description="Customer code.")] = None,
    kind: s.ContractKind | None = None,
    tier: s.Tier | None = None,
    valid_on: Annotated[date | None, Query(description="Valid on this day.")] = None,
) -> Any:
    statement = _matching(select(Contract), Contract, q)
    if customer is not None:
        statement = statement.join(Customer, Customer.id == Contract.customer_id).where(
            Customer.code == customer
        )
    if kind is not None:
        statement = statement.where(Contract.kind == kind)
    if tier is not None:
        statement = statement.where(Contract.tier == tier)
    if valid_on is not None:
        statement = statement.where(
            Contract.valid_from <= valid_on,  # type: ignore[operator]
            col(Contract.valid_to).is_(None) | (col(Contract.valid_to) >= valid_on),
        )
    return page(
        session,
        statement,
        paging,
        sortable={
            "code": Contract.code,
            "name": Contract.name,
            "valid_from": Contract.valid_from,
            "created_at": Contract.created_at,
        },
        default="code",
        tiebreak=Contract.id,
        read=lambda row: _contract(session, row),
    )


@router.post(
    "/contracts",
    status_code=201,
    response_model=s.ContractRead,
    tags=["contracts"],
    responses=CREATED,
)
def create_contract(
    body: s.ContractCreate, session: SessionDep, _: Office, response: Response
) -> s.ContractRead:
    """A new contract: time and materials, managed (quota, SLA) or prepaid hours."""
    row = catalogue.create(session, Contract, body.model_dump())
    _created(response, f"/api/v1/contracts/{row.code}", row.revision)
    return _contract(session, row)


@router.get("/contracts/{code}", response_model=s.ContractRead, tags=["contracts"], responses=READ)
def get_contract(code: str, session: SessionDep, _: Office, response: Response) -> s.ContractRead:
    row = catalogue.get(session, Contract, code)
    conditional.tag(response, row.revision)
    return _contract(session, row)


@router.patch(
    "/contracts/{code}", response_model=s.ContractRead, tags=["contracts"], responses=WRITE
)
def update_contract(
    code: str,
    body: s.ContractUpdate,  # type: ignore[valid-type]
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.ContractRead:
    row = catalogue.get(session, Contract, code)
    _changed(session, row, body.model_dump(exclude_unset=True), if_match, response)  # type: ignore[attr-defined]
    return _contract(session, row)
