"""The database itself refuses bad rows (checks, foreign and unique keys), on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, select

from dispatch.models import (
    BusinessHours,
    Contract,
    MaterialUsage,
    Plan,
    PlanStatus,
    PlanStop,
    Region,
    ServiceRequest,
    Site,
    Technician,
    TechnicianSkill,
    TimeEntry,
    User,
    Visit,
    VisitTimeWindow,
    WorkPattern,
)
from schedules.db import NaiveDatetimeError
from tests import factories as f

NOON = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _insert_raw(session: Session, model: type[SQLModel], values: dict[str, Any]) -> None:
    """Insert through an untyped table, so only the database can refuse; defaults (such as
    created_at) come from the model without validating the values under test."""
    values = model.model_construct(**values).model_dump(warnings=False)
    if values.get("id") is None:
        values.pop("id", None)
    values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()}
    name = model.__tablename__  # type: ignore[attr-defined]
    table = sa.table(name, *(sa.column(column) for column in values))
    with session.begin_nested():
        session.execute(sa.insert(table).values(**values))


def _region(s: Session, **kw: Any) -> tuple[type[SQLModel], dict[str, Any]]:
    return Region, f.region_values(**kw)


def _technician(s: Session, **kw: Any) -> tuple[type[SQLModel], dict[str, Any]]:
    return Technician, f.technician_values(f.make_region(s).id) | kw


def _contract(s: Session, **kw: Any) -> tuple[type[SQLModel], dict[str, Any]]:
    return Contract, f.contract_values(f.make_customer(s).id) | kw


def _visit(s: Session, **kw: Any) -> tuple[type[SQLModel], dict[str, Any]]:
    values = {
        "code": "V-RAW",
        "request_id": f.make_request(s).id,
        "duration_minutes": 60,
        "priority": 50,
        "earliest_date": f.TOMORROW,
        "due_date": f.TOMORROW,
        "status": "unscheduled",
        "revision": 1,
        "created_at": NOON,
        "updated_at": NOON,
    }
    return Visit, values | kw


def _with_time(values: dict[str, Any]) -> dict[str, Any]:
    return {"created_at": NOON} | values


# (test id, builder of (table, values), words one of which the database error must contain)
CASES: list[
    tuple[str, Callable[[Session], tuple[type[SQLModel], dict[str, Any]]], tuple[str, ...]]
] = [
    (
        "region speed must be positive",
        lambda s: _region(s, avg_speed_kmh=0),
        ("ck_region_speed_range",),
    ),
    ("region detour below 1", lambda s: _region(s, detour_factor=0.5), ("ck_region_detour_range",)),
    (
        "region code is unique",
        lambda s: _region(s, code=f.make_region(s).code),
        ("uq_region_code", "region.code"),
    ),
    ("latitude in range", lambda s: _technician(s, home_lat=91), ("ck_technician_home_lat_range",)),
    (
        "technician region exists",
        lambda s: _technician(s, region_id=999_999),
        ("fk_technician_region_id_region", "FOREIGN KEY"),
    ),
    (
        "skill level 1-5",
        lambda s: (
            TechnicianSkill,
            {"technician_id": f.make_technician(s).id, "skill_id": f.make_skill(s).id, "level": 6},
        ),
        ("ck_technician_skill_level_range",),
    ),
    (
        "managed contract has a quota and an SLA",
        lambda s: _contract(s, quota_period=None, quota_hours=None, quota_onsite_days=None),
        ("ck_contract_managed_has_quota_and_sla",),
    ),
    (
        "quota is all or nothing",
        lambda s: _contract(s, quota_onsite_days=None),
        ("ck_contract_quota_complete",),
    ),
    (
        "T&M contract is billed at a rate",
        lambda s: _contract(
            s,
            kind="time_and_materials",
            quota_period=None,
            quota_hours=None,
            quota_onsite_days=None,
            hourly_rate_cents=0,
        ),
        ("ck_contract_tm_is_billed_by_rate",),
    ),
    (
        "prepaid contract has a block",
        lambda s: _contract(
            s, kind="prepaid_hours", quota_period=None, quota_hours=None, quota_onsite_days=None
        ),
        ("ck_contract_prepaid_has_block",),
    ),
    (
        "contract validity in order",
        lambda s: _contract(s, valid_to=date(2024, 1, 1)),
        ("ck_contract_valid_period",),
    ),
    ("contract kind is known", lambda s: _contract(s, kind="barter"), ("ck_contract_kind",)),
    (
        "request's contract belongs to the site's customer",
        lambda s: (
            ServiceRequest,
            {
                "code": "SR-RAW",
                "customer_id": (site := f.make_site(s)).customer_id,
                "site_id": site.id,
                "contract_id": f.make_contract(s).id,
                "channel": "phone",
                "urgency": "normal",
                "contact_name": "A",
                "description": "x",
                "registered_at": NOON,
                "triage": "pending",
                "remote_minutes": 0,
                "created_at": NOON,
            },
        ),
        ("fk_service_request_contract_id_customer_id_contract", "FOREIGN KEY"),
    ),
    (
        "visit due after earliest",
        lambda s: _visit(s, due_date=date(2026, 11, 1)),
        ("ck_visit_due_after_earliest",),
    ),
    ("visit priority 1-100", lambda s: _visit(s, priority=0), ("ck_visit_priority_range",)),
    (
        "scheduled visit has a technician",
        lambda s: _visit(s, status="scheduled"),
        ("ck_visit_scheduled_has_technician",),
    ),
    (
        "visit status is known",
        lambda s: _visit(s, status="lost", technician_id=f.make_technician(s).id),
        ("ck_visit_status",),
    ),
    (
        "time window ends after it starts",
        lambda s: (
            VisitTimeWindow,
            {"visit_id": f.make_visit(s).id, "starts_at": NOON, "ends_at": NOON},
        ),
        ("ck_visit_time_window_order",),
    ),
    (
        "work time is on a visit",
        lambda s: (
            TimeEntry,
            _with_time(
                {
                    "technician_id": f.make_technician(s).id,
                    "kind": "work",
                    "started_at": NOON,
                    "ended_at": NOON + timedelta(hours=1),
                }
            ),
        ),
        ("ck_time_entry_work_is_on_a_visit",),
    ),
    (
        "material quantity positive",
        lambda s: (
            MaterialUsage,
            _with_time(
                {
                    "visit_id": f.make_visit(s).id,
                    "sku": "CAB-1",
                    "description": "Patch cord",
                    "quantity": 0,
                    "unit": "pcs",
                    "unit_price_cents": 100,
                    "billable": True,
                }
            ),
        ),
        ("ck_material_usage_quantity_positive",),
    ),
    (
        "technician accounts link a technician",
        lambda s: (
            User,
            _with_time(
                {
                    "username": "tech-without-link",
                    "full_name": "X",
                    "password_hash": "h",
                    "role": "technician",
                    "is_active": True,
                }
            ),
        ),
        ("ck_app_user_technician_link",),
    ),
    (
        "break fits in its window",
        lambda s: (
            WorkPattern,
            {
                "technician_id": f.make_technician(s).id,
                "weekday": 0,
                "starts_minute": 540,
                "ends_minute": 1080,
                "break_minutes": 60,
                "break_earliest": 720,
                "break_latest": 750,
            },
        ),
        ("ck_work_pattern_break_fits",),
    ),
    (
        "business hours close after opening",
        lambda s: (
            BusinessHours,
            {
                "region_id": f.make_region(s).id,
                "weekday": 0,
                "opens_minute": 600,
                "closes_minute": 540,
            },
        ),
        ("ck_business_hours_order",),
    ),
    (
        "published plan has a time",
        lambda s: (
            Plan,
            _with_time(
                {
                    "region_id": f.make_region(s).id,
                    "starts_on": f.TOMORROW,
                    "days": 1,
                    "version": 1,
                    "status": "published",
                    "strategy": "optimised",
                    "stats": {},
                }
            ),
        ),
        ("ck_plan_published_has_time",),
    ),
]


@pytest.mark.parametrize(("case", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_database_refuses_bad_row(
    session: Session,
    case: str,
    build: Callable[[Session], tuple[type[SQLModel], dict[str, Any]]],
    expected: tuple[str, ...],
) -> None:
    model, values = build(session)
    with pytest.raises(IntegrityError) as caught:
        _insert_raw(session, model, values)
    message = str(caught.value.orig)
    assert any(word in message for word in expected), message


def test_the_factories_build_rows_the_database_accepts(session: Session) -> None:
    """Guards the table above: each refused row differs from a valid one in one field."""
    _insert_raw(session, Region, f.region_values())
    _insert_raw(session, *_technician(session))
    _insert_raw(session, *_contract(session))
    _insert_raw(session, *_visit(session))


def test_one_published_plan_per_region_and_day(session: Session) -> None:
    region = f.make_region(session)
    published = {
        "region_id": region.id,
        "starts_on": f.TOMORROW,
        "status": PlanStatus.published,
        "published_at": NOON,
    }
    session.add(Plan.model_validate(published | {"version": 1}))
    session.flush()
    second = Plan.model_validate(published | {"version": 2})
    with pytest.raises(IntegrityError), session.begin_nested():  # noqa: PT012
        session.add(second)
        session.flush()
    # A draft beside the published plan is fine.
    session.add(
        Plan.model_validate(
            published | {"version": 3, "status": PlanStatus.draft, "published_at": None}
        )
    )
    session.flush()


def test_plan_stops_keep_their_time_order(session: Session) -> None:
    visit = f.make_visit(session)
    plan = Plan.model_validate({"region_id": f.make_region(session).id, "starts_on": f.TOMORROW})
    session.add(plan)
    session.flush()
    stop = {
        "plan_id": plan.id,
        "visit_id": visit.id,
        "technician_id": f.make_technician(session).id,
        "day": f.TOMORROW,
        "sequence": 0,
        "arrival_at": NOON,
        "start_at": NOON - timedelta(minutes=5),
        "end_at": NOON + timedelta(hours=1),
        "travel_seconds": 0,
        "travel_metres": 0,
    }
    with pytest.raises(IntegrityError, match="ck_plan_stop_time_order"):
        _insert_raw(session, PlanStop, stop)


def test_instants_come_back_in_utc(session: Session) -> None:
    moscow = timezone(timedelta(hours=3))
    registered = datetime(2026, 11, 25, 12, 30, tzinfo=moscow)
    request = f.make_request(session, registered_at=registered)
    session.expire_all()
    stored = session.get(ServiceRequest, request.id)
    assert stored is not None
    assert stored.registered_at == registered
    assert stored.registered_at.utcoffset() == timedelta(0)
    assert stored.registered_at.hour == 9


def test_naive_instants_are_refused(session: Session) -> None:
    with pytest.raises(StatementError) as caught, session.begin_nested():
        f.make_request(session, registered_at=datetime(2026, 11, 25, 12, 30))  # noqa: DTZ001
    assert isinstance(caught.value.orig, NaiveDatetimeError)


def test_deleting_a_site_with_requests_is_refused(session: Session) -> None:
    request = f.make_request(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(sa.delete(Site).where(Site.id == request.site_id))
    assert session.exec(select(Site).where(Site.id == request.site_id)).one()


def test_changing_a_visit_stamps_updated_at(session: Session) -> None:
    visit = f.make_visit(session)
    before = visit.updated_at
    visit.notes = "Bring a ladder"
    session.add(visit)
    session.flush()
    session.refresh(visit)
    assert visit.updated_at > before
