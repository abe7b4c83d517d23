"""Re-planning the rest of a day: visits under way stay, visits done drop out, routes restart
from now and from where technicians are, and every visit left out says why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dispatch import db, field, intake
from dispatch.models import (
    Contract,
    OutboxEvent,
    Plan,
    ServiceRequest,
    Site,
    TechnicianPosition,
    Urgency,
    Visit,
    VisitStatus,
)
from dispatch.planning import plan_region, publish
from dispatch.replan import live_problem, replan_day, technician_unavailable, triggers, watch
from routing import SolveParams
from tests.conftest import new_database
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


def test_events_that_change_today_trigger_a_replan(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, _, boris, site, contract, visits = morning
    start = session.exec(select(sa.func.max(OutboxEvent.id))).one()
    # Not triggers: a low-urgency visit for next week, a visit finishing on time.
    request = make_request(session, site=site, contract=contract, urgency=Urgency.low)
    intake.escalate(
        session, request, duration_minutes=30, skills={},
        earliest_date=date(2026, 12, 4), due_date=date(2026, 12, 4),
    )  # fmt: skip
    on_time = by_start(visits)[0]
    for status, at in (
        (VisitStatus.en_route, NOW - timedelta(hours=2)),
        (VisitStatus.on_site, NOW - timedelta(hours=2)),
        (VisitStatus.completed, NOW - timedelta(hours=1, minutes=5)),
    ):
        field.report_status(session, on_time, status, at, technician_id=on_time.technician_id)
    found, cursor = triggers(session, start, NOW)
    assert found == {}
    assert cursor > start
    # Triggers: an emergency for today, a technician off sick, a visit cancelled.
    urgent = make_request(session, site=site, contract=contract, urgency=Urgency.emergency)
    visit = intake.escalate(session, urgent, duration_minutes=30, skills={}, earliest_date=FRIDAY)
    technician_unavailable(session, boris, NOW, NOW + timedelta(hours=3), kind="sickness")
    later = by_start(visits)[-1]
    intake.cancel_request(session, session.get_one(ServiceRequest, later.request_id), "solved")
    found, _ = triggers(session, cursor, NOW)
    assert found[region.id] == [
        f"urgent visit {visit.code}",
        f"{boris.code} unavailable",
        f"{later.code} cancelled",
    ]


def test_a_visit_far_off_its_estimate_triggers(session: Session, morning) -> None:  # type: ignore[no-untyped-def]
    region, *_, visits = morning
    start = session.exec(select(sa.func.max(OutboxEvent.id))).one()
    quick = by_start(visits)[0]
    tech = quick.technician_id
    field.report_status(
        session, quick, VisitStatus.en_route, NOW - timedelta(hours=1), technician_id=tech
    )
    field.report_status(
        session, quick, VisitStatus.on_site, NOW - timedelta(hours=1), technician_id=tech
    )
    # A one-hour visit done in 20 minutes frees 40.
    field.report_status(
        session, quick, VisitStatus.completed, NOW - timedelta(minutes=40), technician_id=tech
    )
    found, _ = triggers(session, start, NOW)
    assert found == {region.id: [f"{quick.code} off its estimate by 40 min"]}


def test_watch_replans_the_regions_that_changed(backend: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, drop = new_database(backend, tmp_path)
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        with db.transaction(engine) as session:
            region = make_region(session)
            make_working_technician(session, region=region)
            site, contract = customer_with_contract(session, region, quota_hours=100)
            visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 2)
            publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
            region_id, site_id, contract_id = region.id, site.id, contract.id
        seen: list[list[str]] = []

        def register_then_report(region, reasons, planned) -> None:  # type: ignore[no-untyped-def]
            seen.append(reasons)

        calls = iter([0, 1])

        def clock() -> datetime:
            # Between the first and second check an emergency comes in.
            if next(calls) == 1:
                with db.transaction(engine) as session:
                    request = make_request(
                        session,
                        site=session.get_one(Site, site_id),
                        contract=session.get_one(Contract, contract_id),
                        urgency=Urgency.emergency,
                    )
                    intake.escalate(
                        session, request, duration_minutes=30, skills={}, earliest_date=FRIDAY
                    )
            return NOW

        done = watch(
            engine, interval=0, params=FAST, rounds=2, clock=clock, on_replan=register_then_report
        )
        assert done == 1
        assert len(seen) == 1
        assert seen[0][0].startswith("urgent visit")
        with db.transaction(engine) as session:
            plans = session.exec(select(Plan).where(Plan.region_id == region_id)).all()
            assert [p.strategy for p in plans if p.status.value == "published"] == ["replan"]
        engine.dispose()
    finally:
        drop()
