"""solve(problem, params) -> Solution: validate, search, repair, schedule, explain, check."""

from __future__ import annotations

import logging
import time

from routing.assemble import objective, route_of, timings_of
from routing.check import CheckError, check
from routing.explain import explain
from routing.prepare import Prepared
from routing.problem import Problem
from routing.repair import repair
from routing.schedule import Timing
from routing.search import Progress, RawResult, SolveParams, search
from routing.solution import Solution, Stats
from routing.validate import validate

log = logging.getLogger(__name__)


def solve(
    problem: Problem, params: SolveParams | None = None, *, progress: Progress | None = None
) -> Solution:
    """Plan ``problem``. Raises ProblemError on malformed input (before any solving) and
    CheckError if the result breaks a rule (a defect, never expected)."""
    params = params or SolveParams()
    started = time.perf_counter()
    validate(problem)
    prep = Prepared(problem)
    results = search(prep, params, progress) if prep.jobs else []
    best = min(results, key=lambda r: r.objective, default=None)
    routes = [list(r) for r in best.routes] if best else [[] for _ in prep.vehicles]
    timings = timings_of(prep, routes)
    routed = {j for route in routes for j in route}
    left_out = [j for j in range(len(prep.jobs)) if j not in routed]
    repaired = repair(prep, routes, timings, left_out)
    left_out = [j for j in left_out if j not in set(repaired)]
    unassigned = explain(prep, routes, timings, left_out)
    solution = Solution(
        routes=tuple(
            route_of(prep, v, routes[v], timings[v])
            for v in range(len(prep.vehicles))
            if timings[v] is not None
        ),
        unassigned=tuple(unassigned),
        stats=_stats(
            prep, routes, timings, left_out, best, results, started, len(repaired), params
        ),
    )
    violations = check(problem, solution)
    if violations:
        raise CheckError(violations)
    return solution


def _stats(
    prep: Prepared,
    routes: list[list[int]],
    timings: list[Timing | None],
    left_out: list[int],
    best: RawResult | None,
    results: list[RawResult],
    started: float,
    repaired: int,
    params: SolveParams,
) -> Stats:
    firsts = [r.first_solution_seconds for r in results if r.first_solution_seconds is not None]
    return Stats(
        status=best.status if best else ("no_jobs" if not prep.jobs else "no_solution"),
        objective=round(objective(prep, routes, timings, left_out), 3),
        wall_seconds=time.perf_counter() - started,
        first_solution_seconds=min(firsts) if firsts else None,
        solutions=sum(r.solutions for r in results),
        strategy=best.strategy if best else "",
        workers=len(results),
        repaired=repaired,
    )
