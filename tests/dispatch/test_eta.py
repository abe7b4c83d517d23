"""Arrival windows: as wide as the past says plans go wrong, wider for later stops, narrow
once the technician is on the way, and a `visit.late` when the window closes unmet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from dispatch import eta, field
from dispatch.models import (
    EventTopic,
    OutboxEvent,
    TechnicianPosition,
    Urgency,
    VisitStatus,
)
from dispatch.planning import plan_region, publish
from routing import SolveParams
from schedules.errors import ConflictError, InvalidError
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_request, make_visit, make_working_technician

FRIDAY = date(2026, 11, 27)
NINE = datetime(2026, 11, 27, 6, tzinfo=UTC)  # 09:00 in Moscow
FAST = SolveParams.for_tests()
DEFAULT_D = eta.Spread(*eta.DEFAULT_DURATION)
DEFAULT_T = eta.Spread(*eta.DEFAULT_TRAVEL)


def width(window: tuple[datetime, datetime]) -> float:
    return (window[1] - window[0]).total_seconds() / 60


def test_later_stops_get_wider_windows() -> None:
    legs: list[eta.Leg] = []
    widths = []
    for _ in range(4):
        legs += [eta.Leg(900, DEFAULT_T)]
        widths.append(width(eta.window(NINE, legs)))
        legs += [eta.Leg(3600, DEFAULT_D)]
    assert widths == sorted(widths)
    assert widths[0] == 20  # one 15-minute leg: the 20-minute floor
    assert widths[-1] > 60


@pytest.mark.parametrize(
    ("legs", "minutes"),
    [
        # One hour of work at 25% spread: P10..P90 is 2 x 1.2816 x 15 min = 38.4 min wide.
        ([eta.Leg(3600, eta.Spread(0.0, 0.25))], 38.4),
        # Errors add in quadrature: two such hours are sqrt(2) times as wide.
        ([eta.Leg(3600, eta.Spread(0.0, 0.25))] * 2, 54.3),
        # No spread: the floor.
        ([eta.Leg(3600, eta.Spread(0.3, 0.0))], 20.0),
    ],
)
def test_window_width_follows_the_spread(legs: list[eta.Leg], minutes: float) -> None:
    assert width(eta.window(NINE, legs)) == pytest.approx(minutes, abs=0.1)


def test_a_mean_overrun_moves_the_window_later() -> None:
    early, late = eta.window(NINE, [eta.Leg(3600, eta.Spread(0.2, 0.1))])
    assert (early + (late - early) / 2) - NINE == timedelta(minutes=12)


@pytest.fixture
def route(session: Session):  # type: ignore[no-untyped-def]
    region = make_region(session)
    tech = make_working_technician(session, region=region)
    site, contract = customer_with_contract(session, region, quota_hours=100)
    visits = visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 4)
    publish(session, plan_region(session, region, FRIDAY, params=FAST).plan, now=NINE)
    ordered = sorted(visits, key=lambda v: v.planned_start)
    return region, tech, site, contract, ordered


def test_history_sets_the_spread(session: Session, route) -> None:  # type: ignore[no-untyped-def]
    _, tech, site, contract, _ = route
    assert eta.measure(session, NINE - timedelta(days=90)).of_duration("") == DEFAULT_D
    for k in range(eta.MIN_SAMPLES):
        request = make_request(session, site=site, contract=contract)
        done = make_visit(session, request=request, duration_minutes=60)
        done.status, done.technician_id = VisitStatus.completed, tech.id
        done.actual_start = NINE - timedelta(days=1 + k)
        # Every visit took 72 minutes: 20% over, no spread.
        done.actual_end = done.actual_start + timedelta(minutes=72)
    session.flush()
    measured = eta.measure(session, NINE - timedelta(days=90)).of_duration("")
    assert (measured.mean, measured.sd, measured.samples) == (
        pytest.approx(0.2),
        pytest.approx(0.0),
        eta.MIN_SAMPLES,
    )


def test_windows_narrow_once_the_technician_is_on_the_way(session: Session, route) -> None:  # type: ignore[no-untyped-def]
    _, tech, _, _, visits = route
    last = visits[-1]
    day_before = width((last.eta_earliest, last.eta_latest))
    at = NINE + timedelta(hours=2)
    for visit in visits[:-1]:
        for status in (VisitStatus.en_route, VisitStatus.on_site, VisitStatus.completed):
            field.report_status(session, visit, status, at, technician_id=tech.id)
    field.report_status(
        session, last, VisitStatus.en_route, at, technician_id=tech.id, position=(55.7, 37.6)
    )
    assert width((last.eta_earliest, last.eta_latest)) < day_before
    assert last.eta_earliest >= at - timedelta(minutes=10)
    changed = session.exec(
        select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_eta_changed)
    ).all()
    assert last.id in {e.subject_id for e in changed}
    assert session.get_one(TechnicianPosition, tech.id).lat == 55.7


def test_an_unmet_window_raises_visit_late_and_moves_on(session: Session, route) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, visits = route
    first = visits[0]
    now = first.eta_latest + timedelta(minutes=5)
    late = eta.overdue(session, now)
    assert first in late
    events = session.exec(
        select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_late)
    ).all()
    assert [e.payload["minutes_late"] for e in events if e.subject_id == first.id] == [5]
    assert first.eta_latest > now
    # Told once: the next check finds nothing new.
    assert first not in eta.overdue(session, now + timedelta(minutes=1))


def test_status_reports_follow_the_lifecycle(session: Session, route) -> None:  # type: ignore[no-untyped-def]
    _, tech, _, _, visits = route
    visit = visits[0]
    with pytest.raises(ConflictError) as error:
        field.report_status(session, visit, VisitStatus.completed, NINE, technician_id=tech.id)
    assert error.value.field == "status"
    with pytest.raises(ConflictError):
        field.report_status(session, visit, VisitStatus.en_route, NINE, technician_id=tech.id + 1)
    field.report_status(session, visit, VisitStatus.en_route, NINE, technician_id=tech.id)
    field.report_status(session, visit, VisitStatus.on_site, NINE, technician_id=tech.id)
    done = field.report_status(
        session, visit, VisitStatus.completed, NINE + timedelta(hours=1), technician_id=tech.id
    )
    assert (done.actual_start, done.actual_end) == (NINE, NINE + timedelta(hours=1))
    completed = session.exec(
        select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_completed)
    ).all()
    assert [e.subject_id for e in completed] == [visit.id]
    with pytest.raises(InvalidError):
        field.report_position(session, tech.id, 95.0, 0.0, NINE)


def test_a_position_report_moves_the_window_of_the_visit_on_the_way(
    session: Session, route
) -> None:  # type: ignore[no-untyped-def]
    _, tech, site, _, visits = route
    first = visits[0]
    at = NINE + timedelta(minutes=5)
    field.report_status(session, first, VisitStatus.en_route, at, technician_id=tech.id)
    # Stuck about 20 km away at 30 km/h with a 1.3 detour: roughly 50 minutes to go.
    field.report_position(session, tech.id, site.lat - 0.18, site.lon, at + timedelta(minutes=1))
    middle = first.eta_earliest + (first.eta_latest - first.eta_earliest) / 2
    assert timedelta(minutes=40) < middle - (at + timedelta(minutes=1)) < timedelta(minutes=70)
    assert first.eta_latest - first.eta_earliest < timedelta(minutes=60)
