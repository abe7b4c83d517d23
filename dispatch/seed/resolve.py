"""Turns validated seed rows into table rows: codes to ids, relative days to dates, local
times to UTC instants. One builder per file; each reports what it cannot resolve."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlmodel import SQLModel, select

from dispatch import sla
from dispatch.models import (
    BusinessHours,
    CalendarException,
    Contract,
    Customer,
    Holiday,
    Region,
    ServiceRequest,
    Site,
    SiteAccessHours,
    Skill,
    Technician,
    TechnicianSkill,
    Triage,
    User,
    Visit,
    VisitSkill,
    VisitTimeWindow,
    WorkPattern,
)
from dispatch.seed.context import Context, Model
from dispatch.seed.rows import (
    BusinessHoursRow,
    CalendarExceptionRow,
    ContractRow,
    CustomerRow,
    HolidayRow,
    RegionRow,
    RequestRow,
    SeedRow,
    SiteAccessHoursRow,
    SiteRow,
    SkillRow,
    TechnicianRow,
    TechnicianSkillRow,
    UserRow,
    VisitRow,
    VisitSkillRow,
    VisitWindowRow,
    WorkPatternRow,
)
from schedules.calendars import MINUTES_PER_DAY, local_to_utc

Factory = Callable[[], SQLModel]


def _make(model: type[Model], **values: Any) -> Factory:
    return partial(model.model_validate, values)


def region(ctx: Context, row: RegionRow, number: int) -> Factory | None:
    if not ctx.unique(RegionRow, (row.code,), number, "code"):
        return None
    return _make(Region, **row.model_dump())


def _weekly_hours(
    ctx: Context,
    row: BusinessHoursRow | SiteAccessHoursRow,
    number: int,
    *,
    owner: tuple[type[SQLModel], str, str],
    table: type[SQLModel],
    foreign_key: str,
) -> Factory | None:
    model, code, column = owner
    found = ctx.lookup(model, code, column)
    if found is None or not ctx.unique(type(row), (code, row.weekday), number, "weekday"):
        return None
    return _make(
        table,
        **{foreign_key: found.id},
        weekday=row.weekday,
        opens_minute=row.opens,
        closes_minute=row.closes,
    )


def business_hours(ctx: Context, row: BusinessHoursRow, number: int) -> Factory | None:
    return _weekly_hours(
        ctx,
        row,
        number,
        owner=(Region, row.region, "region"),
        table=BusinessHours,
        foreign_key="region_id",
    )


def holiday(ctx: Context, row: HolidayRow, number: int) -> Factory | None:
    owner = ctx.lookup(Region, row.region, "region")
    if owner is None or not ctx.unique(HolidayRow, (row.region, row.date), number, "date"):
        return None
    return _make(Holiday, region_id=owner.id, day=row.date, name=row.name)


def skill(ctx: Context, row: SkillRow, number: int) -> Factory | None:
    if not ctx.unique(SkillRow, (row.code,), number, "code"):
        return None
    return _make(Skill, **row.model_dump())


def customer(ctx: Context, row: CustomerRow, number: int) -> Factory | None:
    if not ctx.unique(CustomerRow, (row.code,), number, "code"):
        return None
    return _make(Customer, **row.model_dump())


def site(ctx: Context, row: SiteRow, number: int) -> Factory | None:
    owner = ctx.lookup(Customer, row.customer, "customer")
    place = ctx.lookup(Region, row.region, "region")
    if owner is None or place is None or not ctx.unique(SiteRow, (row.code,), number, "code"):
        return None
    values = row.model_dump(exclude={"customer", "region"})
    return _make(Site, **values, customer_id=owner.id, region_id=place.id)


def site_access_hours(ctx: Context, row: SiteAccessHoursRow, number: int) -> Factory | None:
    return _weekly_hours(
        ctx,
        row,
        number,
        owner=(Site, row.site, "site"),
        table=SiteAccessHours,
        foreign_key="site_id",
    )


def contract(ctx: Context, row: ContractRow, number: int) -> Factory | None:
    owner = ctx.lookup(Customer, row.customer, "customer")
    if owner is None or not ctx.unique(ContractRow, (row.code,), number, "code"):
        return None
    values = row.model_dump(exclude={"customer", "hourly_rate", "monthly_fee"})
    return _make(
        Contract,
        **values,
        customer_id=owner.id,
        hourly_rate_cents=row.hourly_rate,
        monthly_fee_cents=row.monthly_fee,
    )


def technician(ctx: Context, row: TechnicianRow, number: int) -> Factory | None:
    place = ctx.lookup(Region, row.region, "region")
    if place is None or not ctx.unique(TechnicianRow, (row.code,), number, "code"):
        return None
    values = row.model_dump(exclude={"region", "hourly_cost"})
    return _make(Technician, **values, region_id=place.id, hourly_cost_cents=row.hourly_cost)


def technician_skill(ctx: Context, row: TechnicianSkillRow, number: int) -> Factory | None:
    who = ctx.lookup(Technician, row.technician, "technician")
    what = ctx.lookup(Skill, row.skill, "skill")
    key = (row.technician, row.skill)
    if who is None or what is None or not ctx.unique(TechnicianSkillRow, key, number, "skill"):
        return None
    return _make(TechnicianSkill, technician_id=who.id, skill_id=what.id, level=row.level)


def work_pattern(ctx: Context, row: WorkPatternRow, number: int) -> Factory | None:
    who = ctx.lookup(Technician, row.technician, "technician")
    key = (row.technician, row.weekday)
    if who is None or not ctx.unique(WorkPatternRow, key, number, "weekday"):
        return None
    # Times at or before the start belong to the next day (a shift past midnight).
    ends = row.ends if row.ends > row.starts else row.ends + MINUTES_PER_DAY

    def after_start(minute: int | None) -> int | None:
        if minute is None:
            return None
        return minute if minute >= row.starts else minute + MINUTES_PER_DAY

    earliest, latest = after_start(row.break_earliest), after_start(row.break_latest)
    if row.break_minutes and not (row.starts <= earliest <= latest <= ends):  # type: ignore[operator]
        ctx.report("break_latest", row.break_latest, "the break window is outside the shift")
        return None
    return _make(
        WorkPattern,
        technician_id=who.id,
        weekday=row.weekday,
        starts_minute=row.starts,
        ends_minute=ends,
        break_minutes=row.break_minutes,
        break_earliest=earliest,
        break_latest=latest,
    )


def calendar_exception(ctx: Context, row: CalendarExceptionRow, number: int) -> Factory | None:
    who = ctx.lookup(Technician, row.technician, "technician")
    if who is None:
        return None
    home = ctx.session.get(Region, who.region_id)
    assert home is not None  # a technician's region is a foreign key
    return _make(
        CalendarException,
        technician_id=who.id,
        kind=row.kind,
        starts_at=ctx.instant(home, row.starts_day, row.starts),
        ends_at=ctx.instant(home, row.ends_day, row.ends),
        note=row.note,
    )


def user(ctx: Context, row: UserRow, number: int) -> Factory | None:
    if not ctx.unique(UserRow, (row.username,), number, "username"):
        return None
    linked = None
    if row.technician is not None:
        linked = ctx.lookup(Technician, row.technician, "technician")
        if linked is None or not ctx.unique(
            UserRow, ("technician", row.technician), number, "technician"
        ):
            return None
    return _make(
        User,
        username=row.username,
        full_name=row.full_name,
        role=row.role,
        technician_id=linked.id if linked else None,
        password_hash=ctx.password_hash(row.password),
    )


def request(ctx: Context, row: RequestRow, number: int) -> Factory | None:
    where = ctx.lookup(Site, row.site, "site")
    terms = ctx.lookup(Contract, row.contract, "contract")
    if where is None or terms is None or not ctx.unique(RequestRow, (row.code,), number, "code"):
        return None
    if terms.customer_id != where.customer_id:
        ctx.report("contract", row.contract, f"belongs to another customer than site {row.site}")
        return None
    registered = ctx.now - timedelta(minutes=row.registered_minutes_ago)
    resolved = None
    if row.triage is Triage.resolved_remotely:
        resolved = registered + timedelta(minutes=max(1, row.remote_minutes))
    values = row.model_dump(exclude={"site", "contract", "registered_minutes_ago"})
    return _make(
        ServiceRequest,
        **values,
        customer_id=where.customer_id,
        site_id=where.id,
        contract_id=terms.id,
        registered_at=registered,
        resolved_at=resolved,
        sla_due_at=sla.deadline(ctx.session, terms, where.region_id, registered, ctx.weeks),
    )


def _region_of_request(ctx: Context, request_id: int) -> Region:
    """The region of the request's site: its calendar places the visit's days and windows."""
    found = ctx._request_regions.get(request_id)
    if found is None:
        found = ctx.session.exec(
            select(Region)
            .join(Site, Site.region_id == Region.id)  # type: ignore[arg-type]
            .join(ServiceRequest, ServiceRequest.site_id == Site.id)  # type: ignore[arg-type]
            .where(ServiceRequest.id == request_id)
        ).one()
        ctx._request_regions[request_id] = found
    return found


def visit(ctx: Context, row: VisitRow, number: int) -> Factory | None:
    asked = ctx.lookup(ServiceRequest, row.request, "request")
    pinned = None
    if row.pinned_technician is not None:
        pinned = ctx.lookup(Technician, row.pinned_technician, "pinned_technician")
        if pinned is None:
            return None
    if asked is None or not ctx.unique(VisitRow, (row.code,), number, "code"):
        return None
    place = _region_of_request(ctx, asked.id)  # type: ignore[arg-type]
    pinned_date = ctx.day(place, row.pinned_day) if row.pinned_day is not None else None
    return _make(
        Visit,
        code=row.code,
        request_id=asked.id,
        duration_minutes=row.duration_minutes,
        priority=row.priority,
        earliest_date=ctx.day(place, row.earliest_day),
        due_date=ctx.day(place, row.due_day),
        pinned_technician_id=pinned.id if pinned else None,
        pinned_date=pinned_date,
        notes=row.notes,
    )


def visit_skill(ctx: Context, row: VisitSkillRow, number: int) -> Factory | None:
    which = ctx.lookup(Visit, row.visit, "visit")
    what = ctx.lookup(Skill, row.skill, "skill")
    if (
        which is None
        or what is None
        or not ctx.unique(VisitSkillRow, (row.visit, row.skill), number, "skill")
    ):
        return None
    return _make(VisitSkill, visit_id=which.id, skill_id=what.id, min_level=row.min_level)


def visit_window(ctx: Context, row: VisitWindowRow, number: int) -> Factory | None:
    which = ctx.lookup(Visit, row.visit, "visit")
    if which is None or not ctx.unique(
        VisitWindowRow, (row.visit, row.day, row.starts), number, "starts"
    ):
        return None
    place = _region_of_request(ctx, which.request_id)
    day = ctx.day(place, row.day)
    if not which.earliest_date <= day <= which.due_date:
        ctx.report("day", row.day, f"falls on {day}, outside the visit's earliest..due dates")
        return None
    return _make(
        VisitTimeWindow,
        visit_id=which.id,
        starts_at=local_to_utc(day, row.starts, place.timezone),
        ends_at=local_to_utc(day, row.ends, place.timezone),
    )


# In load order: each file after the files it refers to.
BUILDERS: dict[type[SeedRow], Callable[[Context, Any, int], Factory | None]] = {
    RegionRow: region,
    BusinessHoursRow: business_hours,
    HolidayRow: holiday,
    SkillRow: skill,
    CustomerRow: customer,
    SiteRow: site,
    SiteAccessHoursRow: site_access_hours,
    ContractRow: contract,
    TechnicianRow: technician,
    TechnicianSkillRow: technician_skill,
    WorkPatternRow: work_pattern,
    CalendarExceptionRow: calendar_exception,
    UserRow: user,
    RequestRow: request,
    VisitRow: visit,
    VisitSkillRow: visit_skill,
    VisitWindowRow: visit_window,
}
