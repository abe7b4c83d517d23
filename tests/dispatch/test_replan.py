"""Re-planning the rest of a day: visits under way stay, visits done drop out, routes restart
from now and from where technicians are, and every visit left out says why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from dispatch.models import (
    TechnicianPosition,
    Urgency,
    Visit,
    VisitStatus,
)
from dispatch.planning import plan_region, publish
from dispatch.replan import live_problem, replan_day, technician_unavailable
from routing import SolveParams
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_request, make_visit, make_working_technician

FRIDAY = date(2026, 11, 27)
# 11:00 in Moscow.
NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)
FAST = SolveParams.for_tests()


@pytest.fixture
def morning(session: Session):  # type: ignore[no-untyped-def]
    """Two technicians and six visits, published before the day began."""
    region = make_region(session)
    anna = make_working_technician(session, region=region, code="T-ANNA")
    boris = make_working_technician(session, region=region, code="T-BORIS", home_lat=55.80)
    site, contract = customer_with_contract(session, region, quota_hours=100)
    visits = visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 6)
    publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
    for visit in visits:
        session.refresh(visit)
    return region, anna, boris, site, contract, visits


def by_start(visits: list[Visit]) -> list[Visit]:
    return sorted(visits, key=lambda v: v.planned_start)


def test_visits_under_way_stay_first_and_done_ones_drop_out(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, anna, _, site, contract, visits = morning
    first = by_start([v for v in visits if v.technician_id == anna.id])
    first[0].status, first[0].actual_start = VisitStatus.completed, NOW - timedelta(hours=2)
    first[0].actual_end = NOW - timedelta(hours=1)
    first[1].status, first[1].actual_start = VisitStatus.on_site, NOW - timedelta(minutes=20)
    # An emergency comes in.
    request = make_request(session, site=site, contract=contract, urgency=Urgency.emergency)
    urgent = make_visit(session, request=request, earliest_date=FRIDAY, due_date=FRIDAY, windows=[])
    session.flush()
    replanned = replan_day(session, region, FRIDAY, NOW, params=FAST)
    routes = {r.technician_id: r for r in replanned.solution.routes}
    assert routes[anna.code].stops[0].job_id == first[1].code
    planned = {s.job_id for r in replanned.solution.routes for s in r.stops}
    assert first[0].code not in planned
    assert urgent.code in planned
    clock = replanned.built.horizon.seconds(NOW)
    assert all(s.start >= clock for r in replanned.solution.routes for s in r.stops)
    session.refresh(first[1])
    assert (first[1].status, first[1].technician_id) == (VisitStatus.on_site, anna.id)
    assert replanned.plan.strategy == "replan"


def test_routes_restart_from_reported_positions(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, anna, *_ = morning
    session.add(TechnicianPosition(technician_id=anna.id, lat=55.70, lon=37.50, reported_at=NOW))
    session.flush()
    built = live_problem(session, region, FRIDAY, NOW)
    (shift,) = built.problem.technician(anna.code).shifts
    assert shift.start_location is not None
    assert (shift.start_location.lat, shift.start_location.lon) == (55.70, 37.50)
    assert shift.start == built.horizon.seconds(NOW)


def test_a_technician_off_sick_hands_over_the_visits(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, anna, boris, *_, visits = morning
    technician_unavailable(session, boris, NOW, NOW + timedelta(hours=12), kind="sickness")
    replanned = replan_day(session, region, FRIDAY, NOW, params=FAST)
    assert all(r.technician_id == anna.code for r in replanned.solution.routes if r.stops)
    for visit in visits:
        session.refresh(visit)
        assert visit.technician_id in (anna.id, None)
    # Whatever Anna cannot take waits, with its reason.
    assert all(u.reason and u.detail for u in replanned.solution.unassigned)


def test_stability_keeps_technicians_and_freeze_keeps_what_starts_soon(
    session: Session, morning
) -> None:  # type: ignore[no-untyped-def]
    region, anna, boris, *_, visits = morning
    before = {v.code: v.technician_id for v in visits}
    built = live_problem(session, region, FRIDAY, NOW, freeze_minutes=60)
    clock = built.horizon.seconds(NOW)
    for job in built.problem.jobs:
        visit = built.visits[job.id]
        start = built.horizon.seconds(visit.planned_start)
        if start < clock + 3600:
            assert job.pinned_technician is not None
        else:
            assert job.incumbent is not None
            assert job.reassign_cost > 0
    replanned = replan_day(session, region, FRIDAY, NOW, params=FAST, stability_cost=100_000)
    after = {s.job_id: r.technician_id for r in replanned.solution.routes for s in r.stops}
    codes = {anna.id: anna.code, boris.id: boris.code}
    assert all(after[code] == codes[tech] for code, tech in before.items() if code in after)


def test_replanning_never_moves_a_started_visit(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, anna, boris, *_, visits = morning
    driving = by_start([v for v in visits if v.planned_start >= NOW])[0]
    driver = anna if driving.technician_id == anna.id else boris
    driving.status = VisitStatus.en_route
    session.flush()
    # Even with the driver off sick from now, the visit they are driving to stays theirs.
    technician_unavailable(session, driver, NOW, NOW + timedelta(hours=12), kind="sickness")
    replanned = replan_day(session, region, FRIDAY, NOW, params=FAST)
    holder = replanned.solution.route_of(driving.code)
    assert holder is None or holder.technician_id == driver.code
    session.refresh(driving)
    assert (driving.status, driving.technician_id) == (VisitStatus.en_route, driver.id)
