"""The compiled kernel times and costs routes exactly as the Python scheduler does, and the
ruin-and-recreate search it drives improves plans without breaking rules."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import check, solve
from routing.assemble import route_cost
from routing.kernel_timing import route_cost as kernel_route_cost
from routing.lns import _Arrays, improve
from routing.prepare import Prepared
from routing.repair import construct
from routing.schedule import Timing, schedule
from tests.routing.conftest import FAST, hours, job, problem, tech
from tests.routing.test_properties import problems


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.randoms(use_true_random=False))
def test_kernel_schedule_matches_the_scheduler(p, rnd) -> None:  # type: ignore[no-untyped-def]
    prep = Prepared(p)
    vehicle = rnd.choice(prep.vehicles)
    order = list(range(len(prep.jobs)))
    rnd.shuffle(order)
    order = order[: rnd.randint(0, len(order))]
    arrays = _Arrays(prep, [[] for _ in prep.vehicles])
    route = np.array(order or [0], dtype=np.int64)
    starts = np.zeros(len(order) + 1, dtype=np.int64)
    ok, cost, work, load = kernel_route_cost(
        vehicle.index, route, len(order), *arrays.model(), starts
    )
    expected = schedule(prep, vehicle, order)
    assert ok == isinstance(expected, Timing)
    if ok:
        assert abs(cost - route_cost(prep, vehicle.index, order, expected)) < 1e-6
        assert (work, load) == (expected.work, expected.load)
        assert tuple(starts[: len(order)]) == expected.starts


def test_ruin_and_recreate_beats_the_construction() -> None:
    """Two lines of hour-long jobs, too many for one day: one technician per line is best,
    and the construction mixes the lines up."""
    jobs = [job(f"a{i}", 10 + i, minutes=60, y=0) for i in range(6)]
    jobs += [job(f"b{i}", 10 + i, minutes=60, y=30) for i in range(6)]
    prep = Prepared(problem(jobs, [tech("t1"), tech("t2", x=0)]))
    start = construct(prep)
    better = improve(prep, start, deadline=float("inf"), iterations=2000, seed=1)
    travel = prep.matrices.seconds

    def total(routes: list[list[int]]) -> int:
        out = 0
        for v, route in enumerate(routes):
            points = [prep.vehicles[v].start_point, *route, prep.vehicles[v].end_point]
            out += sum(int(travel[a, b]) for a, b in pairwise(points))
        return out

    assert total(better) < total(start)
    assert sorted(j for r in better for j in r) == list(range(12))
    lines = [{prep.jobs[j].id[0] for j in route} for route in better if route]
    assert sorted(map(sorted, lines)) == [["a"], ["b"]]


def test_search_respects_windows_and_breaks() -> None:
    jobs = [job(f"j{i}", 5 + 3 * i, windows=(hours(8 + i % 3, 10 + i % 3),)) for i in range(9)]
    p = problem(jobs, [tech("a", lunch=True), tech("b", x=15, lunch=True)])
    plan = solve(p, FAST)
    assert check(p, plan) == []
    assert plan.assigned == 9
    assert all(len(r.breaks) == 1 for r in plan.routes)
