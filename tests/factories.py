"""Test factories: each builds a valid row, creating what it needs unless given, and takes
explicit overrides for what the test is about."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel

from dispatch.models import (
    Contract,
    Customer,
    MaterialUsage,
    Region,
    Role,
    ServiceRequest,
    Site,
    Skill,
    Technician,
    TechnicianSkill,
    TimeEntry,
    TimeEntryKind,
    Triage,
    User,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
    WorkPattern,
)
from schedules.models import ContractKind, Coverage, QuotaPeriod, Tier

Model = TypeVar("Model", bound=SQLModel)
_numbers = itertools.count(1)
TOMORROW = date(2026, 11, 27)


def _code(prefix: str) -> str:
    return f"{prefix}-{next(_numbers):05d}"


def _save(session: Session, model: type[Model], values: dict[str, Any]) -> Model:
    row = model.model_validate(values)
    session.add(row)
    session.flush()
    return row


def region_values(**overrides: Any) -> dict[str, Any]:
    return {
        "code": _code("R"),
        "name": "Test region",
        "timezone": "Europe/Moscow",
        "avg_speed_kmh": 30.0,
        "detour_factor": 1.3,
    } | overrides


def make_region(session: Session, **overrides: Any) -> Region:
    return _save(session, Region, region_values(**overrides))


def make_skill(session: Session, **overrides: Any) -> Skill:
    code = overrides.pop("code", None) or _code("skill")
    return _save(session, Skill, {"code": code, "name": code.title()} | overrides)


def technician_values(region_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "code": _code("T"),
        "name": "Ivan Petrov",
        "region_id": region_id,
        "home_lat": 55.75,
        "home_lon": 37.62,
        "max_work_minutes": 480,
        "hourly_cost_cents": 120_000,
    } | overrides


def make_technician(
    session: Session,
    *,
    region: Region | None = None,
    skills: dict[Skill, int] | None = None,
    **overrides: Any,
) -> Technician:
    region = region or make_region(session)
    tech = _save(session, Technician, technician_values(region.id, **overrides))
    for skill, level in (skills or {}).items():
        _save(
            session,
            TechnicianSkill,
            {"technician_id": tech.id, "skill_id": skill.id, "level": level},
        )
    return tech


def make_working_technician(
    session: Session, *, region: Region | None = None, **overrides: Any
) -> Technician:
    """A technician working Mon-Fri 09:00-18:00 local, with a 30-minute lunch to be taken
    between 12:00 and 14:00."""
    tech = make_technician(session, region=region, **overrides)
    for weekday in range(5):
        _save(
            session,
            WorkPattern,
            {
                "technician_id": tech.id,
                "weekday": weekday,
                "starts_minute": 9 * 60,
                "ends_minute": 18 * 60,
                "break_minutes": 30,
                "break_earliest": 12 * 60,
                "break_latest": 14 * 60,
            },
        )
    return tech


def make_customer(session: Session, **overrides: Any) -> Customer:
    return _save(session, Customer, {"code": _code("C"), "name": "Aurora LLC"} | overrides)


def site_values(customer_id: int, region_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "code": _code("S"),
        "customer_id": customer_id,
        "region_id": region_id,
        "name": "Head office",
        "address": "Tverskaya ul., 1, Moscow",
        "lat": 55.76,
        "lon": 37.61,
    } | overrides


def make_site(
    session: Session,
    *,
    customer: Customer | None = None,
    region: Region | None = None,
    **overrides: Any,
) -> Site:
    customer = customer or make_customer(session)
    region = region or make_region(session)
    return _save(session, Site, site_values(customer.id, region.id, **overrides))


def contract_values(customer_id: int, **overrides: Any) -> dict[str, Any]:
    """A managed gold contract unless overridden."""
    return {
        "code": _code("CT"),
        "customer_id": customer_id,
        "name": "Managed IT services",
        "kind": ContractKind.managed,
        "tier": Tier.gold,
        "sla_response_hours": 8,
        "coverage": Coverage.business_hours,
        "quota_period": QuotaPeriod.month,
        "quota_hours": 40,
        "quota_onsite_days": 10,
        "hourly_rate_cents": 300_000,
        "valid_from": date(2025, 1, 1),
    } | overrides


def make_contract(
    session: Session, *, customer: Customer | None = None, **overrides: Any
) -> Contract:
    customer = customer or make_customer(session)
    return _save(session, Contract, contract_values(customer.id, **overrides))


def make_request(
    session: Session,
    *,
    site: Site | None = None,
    contract: Contract | None = None,
    **overrides: Any,
) -> ServiceRequest:
    if site is None:
        customer = contract.customer_id if contract else make_customer(session).id
        site = make_site(session, customer=session.get(Customer, customer))
    contract = contract or make_contract(session, customer=session.get(Customer, site.customer_id))
    values = {
        "code": _code("SR"),
        "customer_id": site.customer_id,
        "site_id": site.id,
        "contract_id": contract.id,
        "channel": "phone",
        "contact_name": "Anna Smirnova",
        "description": "Printer jams on every job",
        "registered_at": datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        "triage": Triage.escalated,
    } | overrides
    return _save(session, ServiceRequest, values)


def make_visit(
    session: Session,
    *,
    request: ServiceRequest | None = None,
    skills: dict[Skill, int] | None = None,
    windows: list[tuple[datetime, datetime]] | None = None,
    **overrides: Any,
) -> Visit:
    request = request or make_request(session)
    values = {
        "code": _code("V"),
        "request_id": request.id,
        "duration_minutes": 60,
        "priority": 50,
        "earliest_date": TOMORROW,
        "due_date": TOMORROW,
    } | overrides
    visit = _save(session, Visit, values)
    for skill, level in (skills or {}).items():
        _save(session, VisitSkill, {"visit_id": visit.id, "skill_id": skill.id, "min_level": level})
    start = datetime.combine(visit.earliest_date, datetime.min.time(), tzinfo=UTC)
    default = [(start + timedelta(hours=6), start + timedelta(hours=15))]
    for starts_at, ends_at in windows if windows is not None else default:
        _save(
            session,
            VisitTimeWindow,
            {"visit_id": visit.id, "starts_at": starts_at, "ends_at": ends_at},
        )
    return visit


def make_completed_visit(
    session: Session,
    *,
    request: ServiceRequest | None = None,
    technician: Technician | None = None,
    actual_start: datetime = datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
    **overrides: Any,
) -> Visit:
    """A visit done by ``technician`` (a new one unless given) from ``actual_start`` for its
    ``duration_minutes``, unless ``actual_end`` says otherwise. No time entries: see
    :func:`make_time_entry`."""
    technician = technician or make_technician(session)
    duration = overrides.get("duration_minutes", 60)
    values = {
        "status": VisitStatus.completed,
        "technician_id": technician.id,
        "actual_start": actual_start,
        "actual_end": actual_start + timedelta(minutes=duration),
        "earliest_date": actual_start.date(),
        "due_date": actual_start.date(),
        "windows": [],
    } | overrides
    return make_visit(session, request=request, **values)


def make_time_entry(
    session: Session,
    *,
    visit: Visit | None = None,
    technician: Technician | None = None,
    started_at: datetime = datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
    minutes: int = 60,
    **overrides: Any,
) -> TimeEntry:
    """``minutes`` of work on ``visit`` (a new one unless given) from ``started_at``, by the
    visit's technician unless ``technician`` is given. The ledger is not fed: tests call
    ``dispatch.ledger.record_time_entry`` where it matters."""
    visit = visit or make_visit(session)
    if technician is None:
        technician = (
            session.get(Technician, visit.technician_id) if visit.technician_id else None
        ) or make_technician(session)
    values = {
        "technician_id": technician.id,
        "visit_id": visit.id,
        "kind": TimeEntryKind.work,
        "started_at": started_at,
        "ended_at": started_at + timedelta(minutes=minutes),
    } | overrides
    return _save(session, TimeEntry, values)


def make_material(
    session: Session, *, visit: Visit | None = None, **overrides: Any
) -> MaterialUsage:
    """One billable toner cartridge used on ``visit`` (a new one unless given)."""
    visit = visit or make_visit(session)
    values = {
        "visit_id": visit.id,
        "sku": "CF226A",
        "description": "Toner cartridge, black",
        "quantity": 1,
        "unit": "pcs",
        "unit_price_cents": 850_000,
        "billable": True,
    } | overrides
    return _save(session, MaterialUsage, values)


def make_user(session: Session, *, role: Role = Role.dispatcher, **overrides: Any) -> User:
    if role is Role.technician and "technician_id" not in overrides:
        overrides["technician_id"] = make_technician(session).id
    values = {
        "username": _code("user").lower(),
        "full_name": "Olga Ivanova",
        "password_hash": "$argon2id$not-a-real-hash",
        "role": role,
    } | overrides
    return _save(session, User, values)
