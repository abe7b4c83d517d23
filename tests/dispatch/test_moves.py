"""A dispatcher's manual changes: each is timed and checked like the optimiser's own plans,
refused with the rule that breaks, and kept by later optimisations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from dispatch import moves
from dispatch.models import (
    EventTopic,
    OutboxEvent,
    TechnicianSkill,
    Urgency,
    VisitSkill,
    VisitStatus,
)
from dispatch.planning import plan_region, publish
from routing import SolveParams
from schedules.errors import ConflictError, InvalidError
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import (
    make_region,
    make_request,
    make_skill,
    make_visit,
    make_working_technician,
)

FRIDAY = date(2026, 11, 27)
FAST = SolveParams.for_tests()


@pytest.fixture
def day(session: Session):  # type: ignore[no-untyped-def]
    """Two technicians; two visits published on Friday; a third visit not yet planned."""
    region = make_region(session)
    anna = make_working_technician(session, region=region, code="T-ANNA")
    boris = make_working_technician(session, region=region, code="T-BORIS", home_lat=55.80)
    site, contract = customer_with_contract(session, region, quota_hours=40)
    planned = visits_for(session, site, contract, FRIDAY, [Urgency.normal, Urgency.high])
    publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
    (extra,) = visits_for(session, site, contract, FRIDAY, [Urgency.low])
    return region, anna, boris, site, contract, planned, extra


def route_of(session: Session, tech) -> list[str]:  # type: ignore[no-untyped-def]
    from dispatch.models import Visit

    rows = session.exec(
        select(Visit).where(Visit.technician_id == tech.id).order_by(Visit.planned_start)
    )
    return [v.code for v in rows]


def test_assign_at_a_position_retimes_the_route(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, _, _, _, _, extra = day
    moved = moves.assign(session, extra, anna, FRIDAY, position=0)
    assert moved.route[0].code == extra.code
    assert extra.status is VisitStatus.scheduled
    assert route_of(session, anna)[0] == extra.code
    starts = [v.planned_start for v in moved.route]
    assert starts == sorted(starts)
    # 09:00 Moscow is 06:00 UTC: the first visit cannot start before the shift.
    assert starts[0] >= datetime(2026, 11, 27, 6, tzinfo=UTC)
    scheduled = session.exec(
        select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_scheduled)
    ).all()
    assert extra.code in {e.payload["visit"] for e in scheduled}


def test_assign_without_position_takes_the_cheapest_place(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, _, boris, _, _, _, extra = day
    moves.assign(session, extra, boris, FRIDAY)
    assert extra.code in route_of(session, boris)


def test_a_missing_skill_is_refused_by_name(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, boris, site, contract, _, _ = day
    fibre = make_skill(session, code="fibre")
    session.add(TechnicianSkill(technician_id=boris.id, skill_id=fibre.id, level=3))
    request = make_request(session, site=site, contract=contract)
    needs = make_visit(session, request=request, earliest_date=FRIDAY, due_date=FRIDAY, windows=[])
    session.add(VisitSkill(visit_id=needs.id, skill_id=fibre.id, min_level=2))
    session.flush()
    with pytest.raises(InvalidError) as error:
        moves.assign(session, needs, anna, FRIDAY)
    assert (error.value.field, error.value.value) == ("technician", anna.code)
    assert "skill" in error.value.message
    moves.assign(session, needs, boris, FRIDAY)


def test_a_visit_that_does_not_fit_the_shift_is_refused(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, _, site, contract, _, _ = day
    request = make_request(session, site=site, contract=contract)
    long = make_visit(
        session, request=request, earliest_date=FRIDAY, due_date=FRIDAY, windows=[],
        duration_minutes=600,
    )  # fmt: skip
    with pytest.raises(InvalidError) as error:
        moves.assign(session, long, anna, FRIDAY)
    assert "shift" in error.value.message


def test_no_shift_on_a_saturday(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, _, _, _, _, extra = day
    extra.due_date = date(2026, 11, 28)
    session.flush()
    with pytest.raises(InvalidError) as error:
        moves.assign(session, extra, anna, date(2026, 11, 28))
    assert (error.value.field, error.value.value) == ("day", "2026-11-28")


def test_quota_is_checked(session: Session) -> None:
    region = make_region(session)
    anna = make_working_technician(session, region=region)
    site, contract = customer_with_contract(session, region, quota_hours=1)
    publish(session, plan_region(session, region, FRIDAY, params=FAST).plan)
    first, second = visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 2)
    moves.assign(session, first, anna, FRIDAY)
    with pytest.raises(InvalidError) as error:
        moves.assign(session, second, anna, FRIDAY)
    assert error.value.field == "quota"
    assert error.value.value == {"needed": 60, "remaining": 0, "unit": "min"}


def test_a_locked_route_refuses_changes_and_is_kept_by_the_optimiser(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    region, anna, boris, _, _, planned, extra = day
    holder = next(t for t in (anna, boris) if route_of(session, t))
    before = route_of(session, holder)
    moves.lock_route(session, holder, FRIDAY)
    with pytest.raises(ConflictError):
        moves.lock_route(session, holder, FRIDAY)
    with pytest.raises(ConflictError):
        moves.assign(session, extra, holder, FRIDAY)
    with pytest.raises(ConflictError):
        moves.unassign(session, session.get_one(type(extra), _first_id(session, holder)))
    replanned = plan_region(session, region, FRIDAY, params=FAST)
    kept = [r for r in replanned.solution.routes if r.technician_id == holder.code]
    assert list(kept[0].job_ids[: len(before)]) == before
    moves.unlock_route(session, holder, FRIDAY)
    with pytest.raises(Exception, match="not locked"):
        moves.unlock_route(session, holder, FRIDAY)
    del planned


def _first_id(session: Session, tech) -> int:  # type: ignore[no-untyped-def]
    from dispatch.models import Visit

    return session.exec(
        select(Visit.id).where(Visit.technician_id == tech.id).order_by(Visit.planned_start)
    ).first()


def test_unassign_and_pins(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    region, anna, boris, _, _, planned, _ = day
    visit = planned[0]
    moves.unassign(session, visit)
    assert (visit.status, visit.technician_id, visit.planned_start) == (
        VisitStatus.unscheduled,
        None,
        None,
    )
    moves.pin(session, visit, boris, FRIDAY, position=0)
    replanned = plan_region(session, region, FRIDAY, params=FAST)
    (route,) = [r for r in replanned.solution.routes if r.technician_id == boris.code]
    assert route.job_ids[0] == visit.code
    moves.unpin(session, visit)
    assert (visit.pinned_technician_id, visit.pinned_date, visit.pinned_position) == (None,) * 3
    with pytest.raises(InvalidError) as error:
        moves.pin(session, visit, anna, date(2026, 12, 25))
    assert error.value.field == "day"


def test_visits_under_way_do_not_move(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, _, _, _, planned, _ = day
    planned[0].status = VisitStatus.on_site
    session.flush()
    with pytest.raises(ConflictError) as error:
        moves.assign(session, planned[0], anna, FRIDAY)
    assert error.value.value == "on_site"


def test_a_visit_placed_by_hand_draws_its_quota_once(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    """The ledger follows the visit: placed, it draws its time on site; moved again, the
    earlier draw is given back first, so the contract is charged once."""
    from schedules.models import EntryKind, QuotaEntry

    _, anna, boris, _, _, _, extra = day

    def planned_minutes() -> int:
        return sum(
            e.minutes
            for e in session.exec(
                select(QuotaEntry).where(
                    QuotaEntry.visit_id == extra.id, QuotaEntry.kind == EntryKind.planned
                )
            )
        )

    moves.assign(session, extra, anna, FRIDAY)
    assert planned_minutes() == extra.duration_minutes
    moves.assign(session, extra, boris, FRIDAY, position=0)
    assert planned_minutes() == extra.duration_minutes
    moves.unassign(session, extra)
    assert planned_minutes() == 0


def test_leaving_a_locked_route_is_refused_whatever_the_new_day(session: Session, day) -> None:  # type: ignore[no-untyped-def]
    _, anna, boris, _, _, planned, _ = day
    visit = planned[0]
    owner, other = (anna, boris) if visit.technician_id == anna.id else (boris, anna)
    moves.lock_route(session, owner, FRIDAY)
    visit.due_date = date(2026, 11, 30)
    with pytest.raises(ConflictError) as refused:
        moves.assign(session, visit, other, date(2026, 11, 30))
    assert refused.value.value == owner.code
