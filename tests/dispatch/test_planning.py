"""Planning a region from the database: calendars in local time, quotas kept by the solver
and fed back through the ledger, SLA deadlines and priorities reaching the solver."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from dispatch import adapter, ledger
from dispatch.models import (
    CalendarException,
    Holiday,
    PlanStop,
    PlanUnassigned,
    Region,
    Technician,
    TimeEntry,
    TimeEntryKind,
    Urgency,
    VisitStatus,
)
from dispatch.planning import plan_region
from dispatch.sla import board
from routing import SolveParams
from schedules.models import ExceptionKind, OveragePolicy, Tier
from schedules.periods import period_of_day
from schedules.service import contract_status
from tests.factories import (
    make_contract,
    make_customer,
    make_region,
    make_request,
    make_site,
    make_visit,
    make_working_technician,
)

FRIDAY = date(2026, 11, 27)
FAST = SolveParams.for_tests()


def working_technician(session: Session, region: Region, **overrides: Any) -> Technician:
    return make_working_technician(session, region=region, **overrides)


def customer_with_contract(session: Session, region: Region, **contract: Any):  # type: ignore[no-untyped-def]
    customer = make_customer(session)
    site = make_site(session, customer=customer, region=region)
    return site, make_contract(session, customer=customer, **contract)


def visits_for(session: Session, site, contract, day: date, urgencies: list[Urgency]):  # type: ignore[no-untyped-def]
    found = []
    for urgency in urgencies:
        request = make_request(session, site=site, contract=contract, urgency=urgency)
        found.append(
            make_visit(session, request=request, earliest_date=day, due_date=day, windows=[])
        )
    return found


def test_quota_left_for_two_visits_goes_to_the_two_most_urgent(session: Session) -> None:
    region = make_region(session, timezone="Europe/Moscow")
    working_technician(session, region)
    site, contract = customer_with_contract(
        session, region, quota_hours=3, overage_policy=OveragePolicy.block
    )
    low, emergency, normal = visits_for(
        session, site, contract, FRIDAY, [Urgency.low, Urgency.emergency, Urgency.normal]
    )
    # An hour already worked this month leaves two.
    earlier = make_visit(session, request=make_request(session, site=site, contract=contract))
    entry = TimeEntry(
        technician_id=session.exec(select(Technician.id)).first(),
        visit_id=earlier.id,
        kind=TimeEntryKind.work,
        started_at=datetime(2026, 11, 2, 7, tzinfo=UTC),
        ended_at=datetime(2026, 11, 2, 8, tzinfo=UTC),
    )
    session.add(entry)
    session.flush()
    ledger.record_time_entry(session, entry)
    earlier.status, earlier.technician_id = VisitStatus.completed, entry.technician_id
    session.flush()

    planned = plan_region(session, region, FRIDAY, params=FAST)
    stops = session.exec(select(PlanStop).where(PlanStop.plan_id == planned.plan.id)).all()
    assert {s.visit_id for s in stops} == {emergency.id, normal.id}
    (out,) = session.exec(
        select(PlanUnassigned).where(PlanUnassigned.plan_id == planned.plan.id)
    ).all()
    assert (out.visit_id, out.reason) == (low.id, "quota_exhausted")
    assert out.figures == {"needed_seconds": 3600, "remaining_seconds": 0}
    quota = planned.plan.stats["quotas"][f"{contract.code}/2026-11"]
    assert quota == {
        "remaining_minutes_before": 120,
        "planned_minutes": 120,
        "days_remaining_before": 9,
    }


def test_bill_as_tm_contracts_are_planned_beyond_their_quota(session: Session) -> None:
    region = make_region(session)
    working_technician(session, region)
    site, contract = customer_with_contract(
        session, region, quota_hours=1, overage_policy=OveragePolicy.bill_as_tm
    )
    visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 3)
    planned = plan_region(session, region, FRIDAY, params=FAST)
    assert planned.solution.assigned == 3
    assert planned.built.problem.quotas == ()


def test_published_plan_draws_on_the_quota_and_replanning_gives_it_back(
    session: Session,
) -> None:
    region = make_region(session)
    working_technician(session, region)
    site, contract = customer_with_contract(session, region, quota_hours=2)
    visits_for(session, site, contract, FRIDAY, [Urgency.normal, Urgency.high])
    first = plan_region(session, region, FRIDAY, params=FAST)
    assert ledger.record_plan(session, first.plan) == 2
    november = period_of_day(FRIDAY, "month", region.timezone)
    status = contract_status(session, contract, november)
    assert (status.planned, status.remaining, status.days_planned) == (120, 0, 1)
    # Planning the same visits again: their own planned time does not block them.
    second = plan_region(session, region, FRIDAY, params=FAST)
    assert second.solution.assigned == 2
    assert second.plan.version == 2
    # Publishing the second plan replaces the first one's entries instead of adding to them.
    ledger.record_plan(session, second.plan, replaced=first.plan)
    assert contract_status(session, contract, november).planned == 120


def test_shifts_follow_local_time_across_the_october_change_in_berlin(session: Session) -> None:
    region = make_region(session, timezone="Europe/Berlin")
    tech = working_technician(session, region, home_lat=52.52, home_lon=13.40)
    site, contract = customer_with_contract(session, region, quota_hours=100)
    site.lat, site.lon = 52.50, 13.45
    friday, monday = date(2026, 10, 23), date(2026, 10, 26)
    visits_for(session, site, contract, friday, [Urgency.normal])
    visits_for(session, site, contract, monday, [Urgency.normal])
    before = adapter.build(session, region, friday, 1)
    after = adapter.build(session, region, monday, 1)
    (shift_before,) = before.problem.technician(tech.code).shifts
    (shift_after,) = after.problem.technician(tech.code).shifts
    # 09:00 local is 07:00 UTC in summer time and 08:00 UTC after the change.
    assert before.horizon.instant(shift_before.start) == datetime(2026, 10, 23, 7, tzinfo=UTC)
    assert after.horizon.instant(shift_after.start) == datetime(2026, 10, 26, 8, tzinfo=UTC)
    # Friday's visit is overdue by Monday and is planned along with Monday's.
    planned = plan_region(session, region, monday, params=FAST)
    starts = [planned.built.horizon.instant(s.start) for s in planned.solution.routes[0].stops]
    assert len(starts) == 2
    assert min(starts) >= datetime(2026, 10, 26, 8, tzinfo=UTC)


def test_vacation_and_holidays_remove_shifts(session: Session) -> None:
    region = make_region(session)
    on_leave = working_technician(session, region)
    session.add(
        CalendarException(
            technician_id=on_leave.id,
            kind=ExceptionKind.vacation,
            starts_at=datetime(2026, 11, 26, 21, tzinfo=UTC),
            ends_at=datetime(2026, 12, 5, 21, tzinfo=UTC),
        )
    )
    session.add(Holiday(region_id=region.id, day=date(2026, 11, 30), name="Test day"))
    site, contract = customer_with_contract(session, region)
    (visit,) = visits_for(session, site, contract, FRIDAY, [Urgency.normal])
    visit.due_date = date(2026, 12, 1)
    session.flush()
    built = adapter.build(session, region, FRIDAY, 5)
    assert built.problem.technician(on_leave.code).shifts == ()
    planned = plan_region(session, region, FRIDAY, 5, params=FAST)
    (out,) = planned.solution.unassigned
    assert out.reason.value == "no_shift_on_allowed_days"


def test_sla_and_priority_reach_the_solver(session: Session) -> None:
    region = make_region(session)
    working_technician(session, region)
    site, contract = customer_with_contract(session, region, tier=Tier.platinum)
    request = make_request(
        session,
        site=site,
        contract=contract,
        urgency=Urgency.emergency,
        sla_due_at=datetime(2026, 11, 27, 8, tzinfo=UTC),
    )
    make_visit(session, request=request, earliest_date=FRIDAY, due_date=FRIDAY, windows=[])
    now = datetime(2026, 11, 27, 5, tzinfo=UTC)
    built = adapter.build(session, region, FRIDAY, 1, now=now)
    (job,) = built.problem.jobs
    assert built.horizon.instant(job.sla_deadline) == request.sla_due_at
    assert job.sla_penalty_per_minute == adapter.SLA_PENALTY_PER_MINUTE[Tier.platinum]
    # Platinum emergency, due within three hours: 1 + 60 + 15 + 12.
    assert job.priority == 88
    at_risk = board(session, now + timedelta(hours=2))["at_risk"]
    assert [item.request_code for item in at_risk] == [request.code]
    breached = board(session, now + timedelta(hours=4))["breached"]
    assert [(i.request_code, i.slack_minutes) for i in breached] == [(request.code, -60)]


@pytest.mark.parametrize("status", [VisitStatus.on_site, VisitStatus.completed])
def test_visits_under_way_or_done_are_not_replanned(session: Session, status: VisitStatus) -> None:
    region = make_region(session)
    tech = working_technician(session, region)
    site, contract = customer_with_contract(session, region)
    (visit,) = visits_for(session, site, contract, FRIDAY, [Urgency.normal])
    visit.status, visit.technician_id = status, tech.id
    session.flush()
    assert adapter.build(session, region, FRIDAY).problem.jobs == ()


def test_a_day_with_work_already_done_costs_no_new_onsite_day(session: Session) -> None:
    region = make_region(session)
    tech = working_technician(session, region)
    site, contract = customer_with_contract(session, region, quota_onsite_days=1, quota_hours=40)
    done, later = visits_for(session, site, contract, FRIDAY, [Urgency.normal, Urgency.high])
    done.status, done.technician_id = VisitStatus.completed, tech.id
    entry = TimeEntry(
        technician_id=tech.id,
        visit_id=done.id,
        kind=TimeEntryKind.work,
        started_at=datetime(2026, 11, 27, 6, tzinfo=UTC),
        ended_at=datetime(2026, 11, 27, 7, tzinfo=UTC),
    )
    session.add(entry)
    session.flush()
    ledger.record_time_entry(session, entry)
    # The month's one on-site day is Friday, already open: Friday's second visit fits, and
    # a visit on Monday would need a day the contract no longer has.
    (monday,) = visits_for(session, site, contract, date(2026, 11, 30), [Urgency.emergency])
    planned = plan_region(session, region, FRIDAY, 4, params=FAST)
    assert {s.job_id for r in planned.solution.routes for s in r.stops} == {later.code}
    (out,) = planned.solution.unassigned
    assert (out.job_id, out.reason.value) == (monday.code, "quota_exhausted")
    assert out.figures == {"needed_days": 1, "remaining_days": 0}
