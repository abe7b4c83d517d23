"""Territories: an oversized problem cut by where technicians live, each part solved apart and
merged, gives a plan of the whole that passes the checker (budgets included); jobs go with
the nearest technicians able to serve them, and with the technician they are tied to."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import Euclidean, Job, Problem, Quota, Solution, solve
from routing.territory import merge, territories
from tests.routing.conftest import FAST, HOUR, MIN, at, tech
from tests.routing.test_properties import PROPERTY, problems


def town(x: float, count: int, prefix: str, **job: object) -> list[Job]:
    return [
        Job(id=f"{prefix}{i}", location=at(x + i % 3, i // 3), duration=30 * MIN, **job)  # type: ignore[arg-type]
        for i in range(count)
    ]


def two_towns(**job: object) -> Problem:
    """Two technicians in each of two towns 200 minutes apart, six jobs in each town."""
    return Problem(
        jobs=tuple(town(0, 6, "w", **job) + town(200, 6, "e", **job)),
        technicians=(tech("w1", 0), tech("w2", 1), tech("e1", 200), tech("e2", 201)),
        travel=Euclidean(scale=MIN),
    )


def ids(problem: Problem) -> tuple[list[str], list[str]]:
    return sorted(t.id for t in problem.technicians), sorted(j.id for j in problem.jobs)


def test_jobs_go_with_the_technicians_of_their_town() -> None:
    west, east = sorted(territories(two_towns(), 2), key=lambda p: p.technicians[0].id[0] != "w")
    assert ids(west) == (["w1", "w2"], [f"w{i}" for i in range(6)])
    assert ids(east) == (["e1", "e2"], [f"e{i}" for i in range(6)])


def test_a_job_tied_to_a_technician_goes_with_that_technician() -> None:
    problem = two_towns()
    far = replace(problem.jobs[0], pinned_technician="e1")
    cut = territories(replace(problem, jobs=(far, *problem.jobs[1:])), 2)
    assert next(p for p in cut if far in p.jobs).technicians[0].id.startswith("e")


def test_a_job_goes_where_someone_can_serve_it() -> None:
    problem = two_towns()
    skilled = tuple(
        replace(t, skills={"servers": 3}) if t.id.startswith("e") else t
        for t in problem.technicians
    )
    needs = replace(problem.jobs[0], skills={"servers": 2})  # in the west, served from the east
    cut = territories(replace(problem, technicians=skilled, jobs=(needs, *problem.jobs[1:])), 2)
    assert next(p for p in cut if needs in p.jobs).technicians[0].id.startswith("e")


def test_parts_of_a_budget_never_add_up_to_more_than_the_budget() -> None:
    problem = replace(two_towns(quotas=("q",)), quotas=(Quota("q", seconds=5 * HOUR),))
    cut = territories(problem, 2)
    assert sum(p.quotas[0].seconds for p in cut) <= 5 * HOUR  # type: ignore[misc]
    merged = merge(problem, [solve(p, FAST) for p in cut])
    served = sum(job.quota_draw for job in problem.jobs if merged.route_of(job.id))
    assert served <= 5 * HOUR
    assert served >= 4 * HOUR  # the cut costs at most one job's draw per territory


def test_one_territory_is_the_problem_itself() -> None:
    problem = two_towns()
    assert territories(problem, 1) == [problem]
    with pytest.raises(ValueError, match="count=0"):
        territories(problem, 0)


@PROPERTY
@given(problems(), st.integers(1, 3))
def test_merged_plans_of_territories_pass_the_checker(problem: Problem, count: int) -> None:
    cut = territories(problem, count)
    assert sorted(t.id for p in cut for t in p.technicians) == sorted(
        t.id for t in problem.technicians
    )
    assert sorted(j.id for p in cut for j in p.jobs) == sorted(j.id for j in problem.jobs)
    merged = merge(problem, [solve(p, FAST) for p in cut])  # raises CheckError if broken
    accounted = {s.job_id for r in merged.routes for s in r.stops} | {
        u.job_id for u in merged.unassigned
    }
    assert accounted == {j.id for j in problem.jobs}
    assert Solution.from_dict(merged.to_dict()) == merged
