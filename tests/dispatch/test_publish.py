"""Publishing plans: visits take the plan's technicians and times, earlier plans step aside,
the quota ledger and the event outbox record it, and a failed solve changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, func, select

import routing
from dispatch import planning
from dispatch.models import (
    OutboxEvent,
    Plan,
    PlanStatus,
    Urgency,
    Visit,
    VisitStatus,
)
from dispatch.planning import plan_region, publish
from routing import SolveParams
from schedules.errors import ConflictError
from schedules.periods import period_of_day
from schedules.service import contract_status
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_working_technician

FRIDAY = date(2026, 11, 27)
FAST = SolveParams.for_tests()


@pytest.fixture
def region_with_work(session: Session):  # type: ignore[no-untyped-def]
    region = make_region(session)
    make_working_technician(session, region=region)
    site, contract = customer_with_contract(session, region, quota_hours=10)
    visits = visits_for(session, site, contract, FRIDAY, [Urgency.normal, Urgency.high])
    return region, contract, visits


def topics(session: Session) -> list[str]:
    return [e.topic.value for e in session.exec(select(OutboxEvent).order_by(OutboxEvent.id))]


def test_publishing_assigns_visits_and_records_it(session: Session, region_with_work) -> None:  # type: ignore[no-untyped-def]
    region, contract, visits = region_with_work
    planned = plan_region(session, region, FRIDAY, params=FAST)
    result = publish(session, planned.plan)
    assert (result.plan.status, result.scheduled, result.superseded) == (
        PlanStatus.published,
        2,
        [],
    )
    for visit in visits:
        session.refresh(visit)
        assert visit.status is VisitStatus.scheduled
        assert visit.technician_id is not None
        assert visit.planned_start is not None
    assert topics(session) == [
        "visit.scheduled",
        "visit.scheduled",
        "visit.eta_changed",
        "visit.eta_changed",
        "plan.published",
    ]
    for visit in visits:
        # The window holds the planned start and is at least twenty minutes wide.
        assert visit.eta_earliest <= visit.planned_start <= visit.eta_latest
        assert visit.eta_latest - visit.eta_earliest >= timedelta(minutes=20)
    november = period_of_day(FRIDAY, "month", region.timezone)
    assert contract_status(session, contract, november).planned == 120


def test_a_new_plan_supersedes_the_old_one_without_drawing_twice(
    session: Session, region_with_work
) -> None:  # type: ignore[no-untyped-def]
    region, contract, visits = region_with_work
    first = plan_region(session, region, FRIDAY, params=FAST).plan
    publish(session, first)
    # The high-urgency visit is cancelled; the next plan leaves only the other one.
    visits[1].status, visits[1].technician_id = VisitStatus.cancelled, None
    session.flush()
    second = plan_region(session, region, FRIDAY, params=FAST).plan
    result = publish(session, second)
    assert [p.id for p in result.superseded] == [first.id]
    session.refresh(first)
    assert first.status is PlanStatus.superseded
    november = period_of_day(FRIDAY, "month", region.timezone)
    assert contract_status(session, contract, november).planned == 60
    # Unchanged assignment: no second visit.scheduled for the visit that stayed.
    assert topics(session).count("visit.scheduled") == 2


def test_only_a_draft_can_be_published(session: Session, region_with_work) -> None:  # type: ignore[no-untyped-def]
    region, _, _ = region_with_work
    plan = plan_region(session, region, FRIDAY, params=FAST).plan
    publish(session, plan)
    with pytest.raises(ConflictError) as error:
        publish(session, plan)
    assert error.value.field == "status"


def test_a_plan_older_than_its_visits_is_refused(session: Session, region_with_work) -> None:  # type: ignore[no-untyped-def]
    region, _, visits = region_with_work
    plan = plan_region(session, region, FRIDAY, params=FAST).plan
    visits[0].duration_minutes = 120  # changed after planning
    session.flush()
    with pytest.raises(ConflictError) as error:
        publish(session, plan)
    assert visits[0].code in error.value.value
    assert plan.status is PlanStatus.draft
    assert topics(session) == []


def test_a_visit_changed_while_the_solver_ran_refuses_the_plan(
    session: Session, region_with_work
) -> None:  # type: ignore[no-untyped-def]
    """The plan dates from when its data was read, not from when it was written: a change
    made during the solve is newer than the plan."""
    from datetime import UTC, datetime

    from dispatch import adapter

    region, _, visits = region_with_work
    read_at = datetime.now(UTC)
    built = adapter.build(session, region, FRIDAY, 1)
    visits[0].duration_minutes = 120  # another dispatcher, while the solver runs
    session.flush()
    solution = planning.solve_built(built, params=FAST)
    plan = planning.store_plan(
        session, region, built, solution, strategy="optimised", wall_seconds=1, read_at=read_at
    )
    with pytest.raises(ConflictError):
        publish(session, plan)


def test_visits_left_out_by_the_new_plan_go_back_to_unscheduled(
    session: Session, region_with_work
) -> None:  # type: ignore[no-untyped-def]
    region, _, visits = region_with_work
    publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
    # The technician is let go: the next plan has nobody to give the visits to.
    for tech in session.exec(select(planning.Technician)):
        tech.active = False
    session.flush()
    result = publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
    assert result.unscheduled == 2
    for visit in visits:
        session.refresh(visit)
        assert (visit.status, visit.technician_id) == (VisitStatus.unscheduled, None)


def test_a_failed_solve_leaves_the_published_plan(
    session: Session, region_with_work, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    region, _, _ = region_with_work
    published = publish(session, plan_region(session, region, FRIDAY, params=FAST).plan).plan

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise routing.CheckError(["a defect"])

    monkeypatch.setattr(routing, "solve", broken)
    before = session.exec(select(func.count()).select_from(Plan)).one()
    with pytest.raises(routing.CheckError):
        plan_region(session, region, FRIDAY, params=FAST)
    assert session.exec(select(func.count()).select_from(Plan)).one() == before
    session.refresh(published)
    assert published.status is PlanStatus.published
    assert all(v.status is VisitStatus.scheduled for v in session.exec(select(Visit)))
