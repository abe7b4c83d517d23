"""The quota ledger as dispatch feeds it: which time counts against a contract's quota, and
planned time given back when a visit is done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from dispatch import ledger
from dispatch.models import (
    Contract,
    Customer,
    Plan,
    PlanStop,
    QuotaEntry,
    ServiceRequest,
    TimeEntry,
    TimeEntryKind,
    Triage,
    Visit,
    VisitStatus,
)
from schedules import service
from schedules.errors import InvalidError
from schedules.models import ContractKind, EntryKind
from schedules.periods import period_of_day
from tests.factories import (
    make_contract,
    make_region,
    make_request,
    make_site,
    make_technician,
    make_visit,
)

NOV = date(2026, 11, 1)
AT = datetime(2026, 11, 26, 7, tzinfo=UTC)


def visit_under(session: Session, **contract: Any) -> tuple[Visit, Contract]:
    """A visit at a Moscow site under a contract (managed unless overridden)."""
    site = make_site(session, region=make_region(session, timezone="Europe/Moscow"))
    terms = make_contract(session, customer=session.get(Customer, site.customer_id), **contract)
    request = make_request(session, site=site, contract=terms)
    return make_visit(session, request=request), terms


def report(session: Session, visit: Visit, kind: TimeEntryKind, minutes: int) -> QuotaEntry | None:
    tech = make_technician(session)
    entry = TimeEntry(
        technician_id=tech.id,
        visit_id=visit.id,
        kind=kind,
        started_at=AT,
        ended_at=AT + timedelta(minutes=minutes, seconds=-30),
    )
    session.add(entry)
    session.flush()
    return ledger.record_time_entry(session, entry)


def test_work_counts_and_a_started_minute_is_a_minute(session: Session) -> None:
    visit, contract = visit_under(session)
    line = report(session, visit, TimeEntryKind.work, 90)
    assert line is not None
    assert (line.kind, line.minutes, line.onsite_day) == (EntryKind.actual, 90, date(2026, 11, 26))
    status = service.contract_status(
        session, contract, period_of_day(NOV, "month", "Europe/Moscow")
    )
    assert (status.actual, status.days_used) == (90, 1)


@pytest.mark.parametrize(("include_travel", "counted"), [(True, 30), (False, None)])
def test_travel_counts_only_where_the_contract_says(
    session: Session, include_travel: bool, counted: int | None
) -> None:
    visit, _ = visit_under(session, include_travel=include_travel)
    line = report(session, visit, TimeEntryKind.travel, 30)
    assert (line.minutes if line else None) == counted
    if line:
        assert line.onsite_day is None  # driving is not an on-site day


def test_time_and_materials_contracts_keep_no_quota_ledger(session: Session) -> None:
    visit, _ = visit_under(
        session,
        kind=ContractKind.time_and_materials,
        quota_period=None,
        quota_hours=None,
        quota_onsite_days=None,
        sla_response_hours=None,
    )
    assert report(session, visit, TimeEntryKind.work, 60) is None
    assert session.exec(select(QuotaEntry)).all() == []


@pytest.mark.parametrize(("include_remote", "counted"), [(True, 25), (False, None)])
def test_remote_resolution_counts_where_the_contract_says(
    session: Session, include_remote: bool, counted: int | None
) -> None:
    visit, _ = visit_under(session, include_remote=include_remote)
    request = session.get_one(ServiceRequest, visit.request_id)
    request.triage, request.resolved_at, request.remote_minutes = Triage.resolved_remotely, AT, 25
    session.flush()
    line = ledger.record_remote_resolution(session, request)
    assert (line.minutes if line else None) == counted


def test_a_closed_visit_gives_back_its_planned_time(session: Session) -> None:
    visit, contract = visit_under(session)
    tech = make_technician(session)
    site_region = make_region(session)
    plan = Plan(region_id=site_region.id, starts_on=date(2026, 11, 26))
    session.add(plan)
    session.flush()
    session.add(
        PlanStop(
            plan_id=plan.id,
            visit_id=visit.id,
            technician_id=tech.id,
            day=date(2026, 11, 26),
            sequence=0,
            arrival_at=AT,
            start_at=AT,
            end_at=AT + timedelta(minutes=75),
            travel_seconds=900,
        )
    )
    session.flush()
    assert ledger.record_plan(session, plan) == 1
    period = period_of_day(NOV, "month", "Europe/Moscow")
    assert service.contract_status(session, contract, period).planned == 75
    visit.status, visit.technician_id = VisitStatus.completed, tech.id
    assert ledger.record_visit_closed(session, visit) == 1
    assert ledger.record_visit_closed(session, visit) == 0  # nothing left to give back
    status = service.contract_status(session, contract, period)
    assert (status.planned, status.days_planned) == (0, 0)
    kinds = session.exec(select(QuotaEntry.minutes).order_by(QuotaEntry.id)).all()
    assert kinds == [75, -75]  # appended, never edited


def test_the_ledger_refuses_empty_and_naive_entries(session: Session) -> None:
    _, contract = visit_under(session)
    with pytest.raises(InvalidError) as empty:
        service.append(
            session,
            QuotaEntry(contract_id=contract.id, kind=EntryKind.actual, minutes=0, occurred_at=AT),
        )
    assert (empty.value.field, empty.value.value) == ("minutes", 0)
    with pytest.raises(InvalidError) as naive:
        service.append(
            session,
            QuotaEntry(
                contract_id=contract.id,
                kind=EntryKind.actual,
                minutes=5,
                occurred_at=AT.replace(tzinfo=None),
            ),
        )
    assert naive.value.field == "occurred_at"
