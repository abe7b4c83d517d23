"""Budgets shared by jobs (a contract's remaining hours and on-site days): the solver keeps
every plan within them and spends them on the most important visits."""

from __future__ import annotations

import pytest

from routing import Quota, SolveParams, check, solve
from routing.greedy import greedy
from routing.solution import Reason
from routing.validate import ProblemError
from tests.routing.conftest import FAST, HOUR, MIN, job, problem, tech


def served(solution) -> set[str]:  # type: ignore[no-untyped-def]
    return {stop.job_id for route in solution.routes for stop in route.stops}


def test_hours_budget_goes_to_the_higher_priorities() -> None:
    # Two hours of budget, three one-hour visits: the lowest priority waits, whatever the
    # travel would prefer (it is the nearest).
    jobs = [
        job("near-low", 1, 60, priority=10, quotas=("c1",)),
        job("far-high", 5, 60, priority=80, quotas=("c1",)),
        job("mid-high", 3, 60, priority=60, quotas=("c1",)),
        job("other", 2, 60, priority=1),
    ]
    solution = solve(problem(jobs, [tech()], quotas=(Quota("c1", seconds=2 * HOUR),)), FAST)
    assert served(solution) == {"far-high", "mid-high", "other"}
    (out,) = solution.unassigned
    assert out.reason is Reason.quota_exhausted
    assert out.figures == {"needed_seconds": HOUR, "remaining_seconds": 0}
    assert "60 min of quota c1" in out.detail


def test_budget_exactly_at_its_limit_is_usable() -> None:
    jobs = [job(f"j{k}", k + 1, 30, quotas=("c1",)) for k in range(4)]
    solution = solve(problem(jobs, [tech()], quotas=(Quota("c1", seconds=2 * HOUR),)), FAST)
    assert len(served(solution)) == 4
    short = solve(problem(jobs, [tech()], quotas=(Quota("c1", seconds=2 * HOUR - 1),)), FAST)
    assert len(served(short)) == 3
    assert short.unassigned[0].figures == {"needed_seconds": 30 * MIN, "remaining_seconds": 1799}


def test_onsite_days_budget_groups_visits_on_few_days() -> None:
    # One on-site day left: both visits of the contract go on the same day even though two
    # technicians on two days could share them.
    jobs = [
        job("a", 1, 60, quotas=("c1",), priority=50),
        job("b", 2, 60, quotas=("c1",), priority=50),
    ]
    techs = [tech("t1", days=2), tech("t2", x=2, days=2)]
    solution = solve(problem(jobs, techs, days=2, quotas=(Quota("c1", visit_days=1),)), FAST)
    days = {route.day for route in solution.routes if route.stops}
    assert served(solution) == {"a", "b"}
    assert len(days) == 1


def test_onsite_days_spent_reports_days_not_hours() -> None:
    jobs = [
        job("a", 1, 60, quotas=("c1",), earliest_day=0, due_day=0, priority=90),
        job("b", 1, 60, quotas=("c1",), earliest_day=1, due_day=1, priority=10),
    ]
    solution = solve(
        problem(jobs, [tech(days=2)], days=2, quotas=(Quota("c1", visit_days=1),)), FAST
    )
    assert served(solution) == {"a"}
    assert solution.unassigned[0].reason is Reason.quota_exhausted
    assert solution.unassigned[0].figures == {"needed_days": 1, "remaining_days": 0}


def test_a_new_period_brings_a_new_budget() -> None:
    # Day 0 is the last day of a month with nothing left; day 1 starts the next month's budget.
    jobs = [job(f"j{k}", k + 1, 60, quotas=("nov", "dec"), priority=50) for k in range(2)]
    quotas = (
        Quota("nov", seconds=0, days=frozenset({0})),
        Quota("dec", seconds=HOUR, days=frozenset({1})),
    )
    solution = solve(problem(jobs, [tech(days=2)], days=2, quotas=quotas), FAST)
    (route,) = [r for r in solution.routes if r.stops]
    assert route.day == 1
    assert len(route.stops) == 1


def test_quota_draw_may_differ_from_the_duration() -> None:
    jobs = [job("a", 1, 60, quotas=("c1",), quota_seconds=0), job("b", 2, 60, quotas=("c1",))]
    solution = solve(problem(jobs, [tech()], quotas=(Quota("c1", seconds=HOUR),)), FAST)
    assert served(solution) == {"a", "b"}


@pytest.mark.parametrize("planner", ["solve", "greedy", "parallel", "ortools"])
def test_every_planner_keeps_the_budget(planner: str) -> None:
    jobs = [
        job(f"j{k}", (k % 7) + 1, 45, y=k // 7, quotas=(f"c{k % 3}",), priority=1 + k % 5)
        for k in range(21)
    ]
    quotas = tuple(Quota(f"c{q}", seconds=2 * HOUR, visit_days=1) for q in range(3))
    p = problem(jobs, [tech("t1", days=2), tech("t2", x=3, days=2)], days=2, quotas=quotas)
    if planner == "greedy":
        solution = greedy(p)
    elif planner == "parallel":
        solution = solve(p, SolveParams(time_limit_seconds=3, workers=2, min_parallel_seconds=0))
    elif planner == "ortools":
        solution = solve(p, SolveParams(time_limit_seconds=3, workers=1, strategies=("INSERTION",)))
    else:
        solution = solve(p, FAST)
    assert check(p, solution) == []
    per_quota = {q.id: 0 for q in quotas}
    for route in solution.routes:
        for stop in route.stops:
            per_quota[p.job(stop.job_id).quotas[0]] += 45 * MIN
    assert all(used <= 2 * HOUR for used in per_quota.values())
    assert all(u.reason is Reason.quota_exhausted for u in solution.unassigned)


def test_checker_catches_an_overspent_budget() -> None:
    jobs = [job("a", 1, 60, quotas=("c1",)), job("b", 2, 60, quotas=("c1",))]
    free = problem(jobs, [tech()], quotas=(Quota("c1"),))
    solution = solve(free, FAST)
    tight = problem(jobs, [tech()], quotas=(Quota("c1", seconds=HOUR, visit_days=0),))
    violations = check(tight, solution)
    assert any("7200 s used, limit 3600 s" in v for v in violations)
    assert any("visits on 1 days, limit 0" in v for v in violations)


def test_malformed_budgets_are_named() -> None:
    jobs = [job("a", 1, quotas=("missing",)), job("b", 1, quotas=("x", "y"), quota_seconds=-1)]
    quotas = (Quota("x", seconds=-5), Quota("y"), Quota("z"), Quota("z", days=frozenset({3})))
    with pytest.raises(ProblemError) as error:
        solve(problem(jobs, [tech()], quotas=quotas), FAST)
    text = str(error.value)
    for expected in (
        "quota 'z': id: appears 2 times",
        "quota 'x': seconds: -5 is negative",
        "quota 'z': days: [3] outside 0..0",
        "job 'a': quotas: unknown quota 'missing'",
        "job 'b': quota_seconds: -1 is negative",
        "all cover day 0",
    ):
        assert expected in text


def test_a_day_already_open_costs_no_new_day() -> None:
    # No new days left, but day 1 already has a visit (done this morning): more visits may
    # go on day 1, none on day 0.
    jobs = [job("a", 1, 60, quotas=("c1",)), job("b", 2, 60, quotas=("c1",))]
    quotas = (Quota("c1", visit_days=0, open_days=frozenset({1})),)
    for planner in (lambda p: solve(p, FAST), greedy):
        solution = planner(problem(jobs, [tech(days=2)], days=2, quotas=quotas))
        assert {r.day for r in solution.routes if r.stops} == {1}
        assert solution.assigned == 2
