"""Properties on random small problems: plans pass the checker, pins stay, and every
unassigned job's reason holds when tested against every route and position."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import (
    Break,
    Job,
    Location,
    Problem,
    Quota,
    Reason,
    Shift,
    Solution,
    Technician,
    Window,
    check,
    solve,
)
from routing.assemble import route_of
from routing.insertion import _positions
from routing.prepare import DAY_RULE, SKILL, Prepared
from routing.quota import QuotaUse
from routing.schedule import Timing, schedule
from routing.solution import Unassigned
from routing.travel import Euclidean
from tests.routing.conftest import DAY, FAST, HOUR, MIN

SKILLS = ("network", "servers")


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    days = draw(st.integers(1, 2))
    techs = []
    for t in range(draw(st.integers(1, 3))):
        shifts = []
        for day in range(days):
            if draw(st.booleans()) or day == 0:
                start = day * DAY + draw(st.integers(7, 10)) * HOUR
                end = start + draw(st.integers(4, 10)) * HOUR
                breaks = ()
                if draw(st.booleans()):
                    earliest = start + 3 * HOUR
                    breaks = (Break(30 * MIN, earliest, min(earliest + HOUR, end - 30 * MIN)),)
                shifts.append(Shift(day, start, end, breaks))
        techs.append(
            Technician(
                id=f"t{t}",
                home=Location(draw(st.integers(0, 30)), draw(st.integers(0, 30))),
                shifts=tuple(shifts),
                skills={s: draw(st.integers(1, 5)) for s in SKILLS if draw(st.booleans())},
                max_work_seconds=draw(
                    st.one_of(st.none(), st.integers(2, 9).map(lambda h: h * HOUR))
                ),
                capacity=draw(st.one_of(st.none(), st.integers(0, 6))),
            )
        )
    quotas = tuple(
        Quota(
            f"q{q}",
            seconds=draw(st.one_of(st.none(), st.integers(0, 8).map(lambda n: n * 30 * MIN))),
            visit_days=draw(st.one_of(st.none(), st.integers(0, 2))),
        )
        for q in range(draw(st.integers(0, 2)))
    )
    jobs = []
    for j in range(draw(st.integers(1, 8))):
        earliest = draw(st.integers(0, days - 1))
        due = draw(st.integers(earliest, days - 1))
        windows = ()
        if draw(st.booleans()):
            day = draw(st.integers(earliest, due))
            begin = day * DAY + draw(st.integers(7, 17)) * HOUR
            windows = (Window(begin, begin + draw(st.integers(0, 4)) * HOUR),)
        pinned = draw(st.one_of(st.none(), st.sampled_from([t.id for t in techs])))
        position = draw(st.one_of(st.none(), st.integers(0, 2))) if pinned else None
        jobs.append(
            Job(
                id=f"j{j}",
                location=Location(draw(st.integers(0, 30)), draw(st.integers(0, 30))),
                duration=draw(st.integers(1, 12)) * 10 * MIN,
                windows=windows,
                skills={s: draw(st.integers(1, 4)) for s in SKILLS if draw(st.integers(0, 3)) == 0},
                priority=draw(st.integers(1, 5)),
                earliest_day=earliest,
                due_day=due,
                pinned_technician=pinned,
                pinned_position=position,
                demand=draw(st.integers(0, 3)),
                quotas=(draw(st.sampled_from(quotas)).id,)
                if quotas and draw(st.booleans())
                else (),
            )
        )
    return Problem(
        jobs=tuple(jobs),
        technicians=tuple(techs),
        days=days,
        travel=Euclidean(scale=MIN),
        quotas=quotas,
    )


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(problems())
def test_plans_pass_the_checker_and_pins_stay(p: Problem) -> None:
    plan = solve(p, FAST)
    assert check(p, plan) == []
    for job in p.jobs:
        route = plan.route_of(job.id)
        if job.pinned_technician is not None and route is not None:
            assert route.technician_id == job.pinned_technician
        if job.pinned_position is not None and route is not None:
            assert route.job_ids.index(job.id) == job.pinned_position


@PROPERTY
@given(problems())
def test_every_reason_holds_against_every_route_and_position(p: Problem) -> None:
    plan = solve(p, FAST)
    prep = Prepared(p)
    for item in plan.unassigned:
        _confirm(prep, plan, item)


def _confirm(prep: Prepared, plan: Solution, item: Unassigned) -> None:
    j = prep.job_index[item.job_id]
    refusals = [prep.refusal(j, v) for v in prep.vehicles]
    if item.reason is Reason.no_skilled_technician:
        assert all(r not in (None, DAY_RULE) for r in refusals)
        return
    if item.reason is Reason.no_shift_on_allowed_days:
        assert DAY_RULE in refusals
        assert None not in refusals
        return
    routes = [_route_jobs(prep, plan, v) for v in prep.vehicles]
    budget = QuotaUse(prep, routes)
    eligible = [v for v in prep.vehicles if refusals[v.index] is None]
    if item.reason is Reason.quota_exhausted:
        assert eligible
        assert all(not budget.allows(j, v.day) for v in eligible)
        return
    pin = prep.pin(j)
    if item.reason is Reason.pinned_position_unreachable:
        eligible = [v for v in prep.vehicles if refusals[v.index] is None]
        assert all(len(_route_jobs(prep, plan, v)) < pin for v in eligible)
        return
    assert item.reason in {
        Reason.displaced_by_higher_priority,
        Reason.time_window_unreachable,
        Reason.exceeds_shift_length,
        Reason.exceeds_capacity,
    }
    for v in prep.vehicles:
        if refusals[v.index] is not None or not budget.allows(j, v.day):
            continue
        current = _route_jobs(prep, plan, v)
        for position in _positions(prep, current, j):
            candidate = [*current[:position], j, *current[position:]]
            assert not isinstance(schedule(prep, v, candidate), Timing), (item, v.tech.id, position)
        if item.reason is not Reason.displaced_by_higher_priority:
            assert not isinstance(schedule(prep, v, [j]), Timing)


def _route_jobs(prep: Prepared, plan: Solution, v) -> list[int]:  # type: ignore[no-untyped-def]
    route = next((r for r in plan.routes if r.technician_id == v.tech.id and r.day == v.day), None)
    return [prep.job_index[s] for s in route.job_ids] if route else []


@PROPERTY
@given(problems(), st.randoms(use_true_random=False))
def test_whatever_the_scheduler_accepts_the_checker_accepts(p: Problem, rnd) -> None:  # type: ignore[no-untyped-def]
    """So a refusal by the scheduler, used to confirm reasons above, is the checker's word."""
    # Budgets are not the scheduler's business (one route cannot know the others).
    p = replace(p, quotas=(), jobs=tuple(replace(job, quotas=()) for job in p.jobs))
    prep = Prepared(p)
    vehicle = rnd.choice(prep.vehicles)
    # Positions are kept by where insertions may go, not by the clock: leave pinned ones out.
    order = [
        j for j in range(len(prep.jobs)) if prep.refusal(j, vehicle) is None and prep.pin(j) is None
    ]
    rnd.shuffle(order)
    timing = schedule(prep, vehicle, order)
    if not isinstance(timing, Timing):
        return
    routed = set(order)
    plan = Solution(
        routes=(route_of(prep, vehicle.index, order, timing),),
        unassigned=tuple(
            Unassigned(job.id, Reason.displaced_by_higher_priority, "")
            for k, job in enumerate(prep.jobs)
            if k not in routed
        ),
        stats=solve(
            Problem(jobs=(), technicians=p.technicians, days=p.days, travel=p.travel), FAST
        ).stats,
    )
    assert check(p, plan) == []


def test_skill_refusal_is_the_skill() -> None:
    p = Problem(
        jobs=(Job("j", Location(1, 1), 60, skills={"network": 5}),),
        technicians=(
            Technician("t", Location(0, 0), (Shift(0, 0, 10 * HOUR),), skills={"network": 4}),
        ),
        travel=Euclidean(),
    )
    prep = Prepared(p)
    assert prep.refusal(0, prep.vehicles[0]) == SKILL


@PROPERTY
@given(problems())
def test_vectorised_eligibility_agrees_with_the_rules(p: Problem) -> None:
    prep = Prepared(p)
    for j in range(len(prep.jobs)):
        assert prep.allowed[j] == [v.index for v in prep.vehicles if prep.refusal(j, v) is None]
