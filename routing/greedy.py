"""The baseline a dispatcher gets by hand: visits in priority order, each appended to the
nearest technician who is free and skilled, earliest day first. No optimisation."""

from __future__ import annotations

import time

from routing.assemble import objective, route_of, timings_of
from routing.check import CheckError, check
from routing.explain import explain
from routing.prepare import Prepared
from routing.problem import Problem
from routing.quota import QuotaUse
from routing.schedule import Timing, schedule
from routing.solution import Solution, Stats
from routing.validate import validate


def greedy(problem: Problem) -> Solution:
    started = time.perf_counter()
    validate(problem)
    prep = Prepared(problem)
    seconds = prep.matrices.seconds
    routes: list[list[int]] = [[] for _ in prep.vehicles]
    timings: list[Timing | None] = timings_of(prep, routes)

    def urgency(j: int) -> tuple[int, int, str]:
        windows = prep.windows(j)
        return -prep.jobs[j].priority, windows[0][0] if windows else 0, prep.jobs[j].id

    def nearness(v: int, j: int) -> tuple[int, int]:
        here = routes[v][-1] if routes[v] else prep.vehicles[v].start_point
        return prep.vehicles[v].day, int(seconds[here, j])

    quota = QuotaUse(prep, routes) if prep.quota.active else None
    left_out = []
    for j in sorted(range(len(prep.jobs)), key=urgency):
        for v in sorted(prep.allowed[j], key=lambda v, j=j: nearness(v, j)):
            day = prep.vehicles[v].day
            if quota is not None and not quota.allows(j, day):
                continue
            result = schedule(prep, prep.vehicles[v], [*routes[v], j])
            if isinstance(result, Timing):
                if quota is not None:
                    quota.add(j, day)
                routes[v].append(j)
                timings[v] = result
                break
        else:
            left_out.append(j)
    solution = Solution(
        routes=tuple(
            route_of(prep, v, routes[v], t) for v, t in enumerate(timings) if t is not None
        ),
        unassigned=tuple(explain(prep, routes, timings, sorted(left_out))),
        stats=Stats(
            status="greedy",
            objective=round(objective(prep, routes, timings, left_out), 3),
            wall_seconds=time.perf_counter() - started,
            first_solution_seconds=None,
            solutions=1,
            strategy="greedy",
        ),
    )
    violations = check(problem, solution)
    if violations:
        raise CheckError(violations)
    return solution
