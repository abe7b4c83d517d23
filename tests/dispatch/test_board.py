"""A region's day as dispatchers see it: technicians' shifts as the planner sees them, stops in
planned order with travel from home and back, totals, route locks, and the latest plan
covering a day with the visits it left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from dispatch import adapter, board
from dispatch.horizon import Horizon, shifts
from dispatch.models import (
    CalendarException,
    Plan,
    PlanStatus,
    PlanUnassigned,
    Region,
    RouteLock,
    Technician,
    Visit,
    VisitStatus,
)
from schedules.errors import NotFoundError
from schedules.models import ExceptionKind
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


def at(hour: int, minute: int = 0) -> datetime:
    """Friday, ``hour``:``minute`` UTC (three hours behind Moscow)."""
    return datetime(2026, 11, 27, hour, minute, tzinfo=UTC)


def planned(
    session: Session, region: Region, tech: Technician, start: datetime, minutes: int = 60
) -> Visit:
    """A scheduled visit on ``tech``'s route starting at ``start``, at a site east of home."""
    customer = make_customer(session)
    site = make_site(session, customer=customer, region=region, lat=55.75, lon=37.70)
    request = make_request(session, site=site, contract=make_contract(session, customer=customer))
    return make_visit(
        session,
        request=request,
        earliest_date=FRIDAY,
        due_date=FRIDAY,
        windows=[],
        status=VisitStatus.scheduled,
        technician_id=tech.id,
        planned_start=start,
        planned_end=start + timedelta(minutes=minutes),
    )


def add_plan(session: Session, region: Region, **values: Any) -> Plan:
    plan = Plan.model_validate({"region_id": region.id, "starts_on": FRIDAY} | values)
    session.add(plan)
    session.flush()
    return plan


def test_a_technicians_day_has_shifts_stops_in_order_totals_and_its_lock(
    session: Session,
) -> None:
    region = make_region(session, timezone="Europe/Moscow")
    tech = make_working_technician(session, region=region)
    late = planned(session, region, tech, at(10), minutes=90)
    early = planned(session, region, tech, at(7))
    session.add(RouteLock(technician_id=tech.id, day=FRIDAY))  # type: ignore[arg-type]
    session.flush()
    (day,) = board.technician_days(session, region=region, day=FRIDAY)
    assert day.locked
    (shift,) = day.shifts
    # 09:00-18:00 in Moscow with 30 minutes of lunch.
    assert (shift.starts_at, shift.ends_at) == (at(6), at(15))
    assert [b.minutes for b in shift.breaks] == [30]
    route = day.route
    assert [stop.visit.code for stop in route.stops] == [early.code, late.code]
    assert route.stops[0].travel_metres > 0  # from home
    assert route.stops[1].travel_metres == 0  # the same site
    assert route.back_metres == route.stops[0].travel_metres
    assert route.travel_metres == 2 * route.back_metres
    assert route.work_minutes == 150
    assert day.shift_minutes == 540 - 30
    assert day.utilisation == round(150 / 510, 3)


def test_inactive_technicians_appear_only_with_stops_and_a_day_off_has_no_shift(
    session: Session,
) -> None:
    region = make_region(session)
    gone = make_working_technician(session, region=region, code="T-GONE", active=False)
    leaving = make_working_technician(session, region=region, code="T-LEAVING", active=False)
    planned(session, region, leaving, at(8))
    on_leave = make_working_technician(session, region=region, code="T-AWAY")
    session.add(
        CalendarException(
            technician_id=on_leave.id,
            kind=ExceptionKind.vacation,
            starts_at=at(0) - timedelta(hours=3),
            ends_at=at(21),
        )
    )
    session.flush()
    days = board.technician_days(session, region=region, day=FRIDAY)
    assert [d.route.technician.code for d in days] == ["T-AWAY", "T-LEAVING"]
    away = days[0]
    assert (away.shifts, away.route.stops, away.utilisation) == ([], [], None)
    assert gone.code not in {d.route.technician.code for d in days}
    assert not days[1].locked


def test_the_board_and_the_planner_share_one_calendar(session: Session) -> None:
    region = make_region(session, timezone="Europe/Berlin")
    tech = make_working_technician(session, region=region)
    monday = date(2026, 10, 26)
    horizon = Horizon.of(date(2026, 10, 23), 4, region.timezone)
    spans = shifts(session, region=region, horizon=horizon, technician_ids=[tech.id])  # type: ignore[list-item]
    built = adapter.build(session, region, horizon.first, horizon.days)
    solver = built.problem.technician(tech.code).shifts
    assert [(horizon.seconds(x.starts_at), horizon.seconds(x.ends_at)) for x in spans[tech.id]] == [  # type: ignore[index]
        (s.start, s.end) for s in solver
    ]
    (day,) = board.technician_days(session, region=region, day=monday)
    # After the October change 09:00 in Berlin is 08:00 UTC.
    assert [x.starts_at for x in day.shifts] == [datetime(2026, 10, 26, 8, tzinfo=UTC)]


def test_the_newest_plan_covering_a_day_is_the_latest_and_failed_plans_do_not_count(
    session: Session,
) -> None:
    region = make_region(session)
    tech = make_working_technician(session, region=region)
    week = add_plan(session, region, starts_on=FRIDAY - timedelta(days=4), days=7)
    add_plan(session, region, version=2, status=PlanStatus.failed)
    add_plan(session, region, starts_on=FRIDAY + timedelta(days=1))
    assert board.latest_plan(session, region=region, day=FRIDAY).id == week.id
    day = add_plan(session, region, version=3)
    assert board.latest_plan(session, region=region, day=FRIDAY).id == day.id
    visits = [planned(session, region, tech, at(8)) for _ in range(2)]
    for visit in reversed(visits):
        session.add(PlanUnassigned(plan_id=day.id, visit_id=visit.id, reason="quota_exhausted"))  # type: ignore[arg-type]
    session.flush()
    left_out = board.left_out(session, plan=day)
    assert [v.code for _, v, _ in left_out] == sorted(v.code for v in visits)
    assert {u.reason for u, _, _ in left_out} == {"quota_exhausted"}
    with pytest.raises(NotFoundError) as missing:
        board.latest_plan(session, region=region, day=FRIDAY + timedelta(days=30))
    assert (missing.value.field, missing.value.value) == ("date", "2026-12-27")
