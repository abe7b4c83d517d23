"""solve(problem, params) -> Solution: validate, search, repair, schedule, explain, check."""

from __future__ import annotations

import logging
import time

from routing.assemble import objective, route_of, timings_of
from routing.check import CheckError, check
from routing.explain import explain
from routing.prepare import Prepared
from routing.problem import Problem
from routing.repair import construct, repair
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
    origin = time.time()
    deadline = origin + params.time_limit_seconds
    validate(problem)
    prep = Prepared(problem)
    initial, built_at = None, None
    if prep.jobs:
        # Our insertion gives a complete plan within seconds at any size: it is the first
        # feasible plan, the start of large searches, and the fallback if a search fails.
        initial = construct(prep)
        built_at = time.perf_counter() - started
        if progress is not None:
            placed = {j for route in initial for j in route}
            out = [j for j in range(len(prep.jobs)) if j not in placed]
            progress(objective(prep, initial, timings_of(prep, initial), out), built_at)
    # Repairing, explaining and checking come after the search and count against the limit.
    finishing = min(0.1 * params.time_limit_seconds, 0.5 + 0.002 * len(prep.jobs))
    searched_at = time.perf_counter()
    results = search(prep, params, progress, initial, deadline - finishing) if prep.jobs else []
    finished_search = time.perf_counter()
    best = min(results, key=lambda r: r.objective, default=None)
    if best is not None:
        routes = [list(r) for r in best.routes]
    else:
        routes = [list(r) for r in initial] if initial else [[] for _ in prep.vehicles]
    timings = timings_of(prep, routes)
    routed = {j for route in routes for j in route}
    left_out = [j for j in range(len(prep.jobs)) if j not in routed]
    repaired = repair(prep, routes, timings, left_out)
    left_out = [j for j in left_out if j not in set(repaired)]
    unassigned = explain(prep, routes, timings, left_out, repaired=True)
    phases = {
        "prepare_and_construct": round(searched_at - started, 3),
        "search": round(finished_search - searched_at, 3),
        "repair_and_explain": round(time.perf_counter() - finished_search, 3),
    }
    solution = Solution(
        routes=tuple(
            route_of(prep, v, routes[v], timings[v])
            for v in range(len(prep.vehicles))
            if timings[v] is not None
        ),
        unassigned=tuple(unassigned),
        stats=_stats(
            prep,
            routes,
            timings,
            left_out,
            best,
            results,
            (started, origin),
            len(repaired),
            built_at,
        ),
    )
    checked_at = time.perf_counter()
    violations = check(problem, solution)
    if violations:
        raise CheckError(violations)
    phases["check"] = round(time.perf_counter() - checked_at, 3)
    solution.extra["phases"] = phases
    log.info("solve phases (s): %s", phases)
    return solution


def _stats(
    prep: Prepared,
    routes: list[list[int]],
    timings: list[Timing | None],
    left_out: list[int],
    best: RawResult | None,
    results: list[RawResult],
    clock: tuple[float, float],
    repaired: int,
    built_at: float | None,
) -> Stats:
    started, origin = clock
    firsts = [r.first_solution_at - origin for r in results if r.first_solution_at is not None]
    if built_at is not None:
        firsts.append(built_at)
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
