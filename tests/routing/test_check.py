"""The checker catches a plan that breaks a rule, whoever made it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing import CheckError, Solution, assert_valid, check, solve
from tests.routing.conftest import FAST, HOUR, MIN, hours, job, problem, tech

PROBLEM = problem(
    [job("a", 10, windows=(hours(9, 10),), skills={"network": 2}), job("b", 20)],
    [tech(lunch=True, skills={"network": 3})],
)


@pytest.fixture(scope="module")
def plan() -> Solution:
    return solve(PROBLEM, FAST)


def _with_stop(plan: Solution, index: int, **changes: int) -> Solution:
    route = plan.routes[0]
    stops = list(route.stops)
    stops[index] = replace(stops[index], **changes)
    return replace(plan, routes=(replace(route, stops=tuple(stops)),))


def test_the_solvers_plan_passes(plan: Solution) -> None:
    assert check(PROBLEM, plan) == []


def test_start_outside_the_window(plan: Solution) -> None:
    k = plan.routes[0].job_ids.index("a")
    stop = plan.routes[0].stops[k]
    moved = _with_stop(plan, k, start=stop.start + 2 * HOUR, end=stop.end + 2 * HOUR)
    assert any("outside its windows" in v for v in check(PROBLEM, moved))


def test_too_little_time_to_travel(plan: Solution) -> None:
    stop = plan.routes[0].stops[1]
    early = _with_stop(
        plan,
        1,
        start=stop.start - 30 * MIN,
        end=stop.end - 30 * MIN,
        arrival=stop.arrival - 30 * MIN,
    )
    assert any("cannot be there before" in v for v in check(PROBLEM, early))


def test_a_missing_job(plan: Solution) -> None:
    route = plan.routes[0]
    dropped = replace(plan, routes=(replace(route, stops=route.stops[:1]),))
    assert any("neither routed nor listed" in v for v in check(PROBLEM, dropped))


def test_a_skill_too_low() -> None:
    weaker = problem(list(PROBLEM.jobs), [tech(lunch=True, skills={"network": 1})])
    plan = solve(PROBLEM, FAST)
    assert any("needs network 2" in v for v in check(weaker, plan))


def test_break_over_a_visit(plan: Solution) -> None:
    route = plan.routes[0]
    stop = route.stops[0]
    clash = replace(
        plan,
        routes=(
            replace(
                route,
                breaks=(replace(route.breaks[0], start=stop.start, end=stop.start + 30 * MIN),),
            ),
        ),
    )
    problems = check(PROBLEM, clash)
    assert any("overlaps the service" in v or "break starting in" in v for v in problems)


def test_assert_valid_raises_with_every_violation(plan: Solution) -> None:
    route = plan.routes[0]
    broken = replace(plan, routes=(replace(route, stops=route.stops[:1], load=5),))
    with pytest.raises(CheckError) as caught:
        assert_valid(PROBLEM, broken)
    assert len(caught.value.violations) >= 2
