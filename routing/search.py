"""Runs the OR-Tools search: parameters, a time or solution limit, and a portfolio of
strategies in parallel processes of which the best result is kept."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.assemble import objective
from routing.decompose import Part, parts, subproblem
from routing.lns import improve
from routing.model import COST_SCALE, build
from routing.prepare import Prepared
from routing.problem import Problem
from routing.schedule import schedule
from routing.travel import TravelMatrices

log = logging.getLogger(__name__)

FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic
# Time allowed beyond the limit for a search to stop and report, before it is abandoned.
GRACE_SECONDS = 30.0

Progress = Callable[[float, float], None]  # (objective in cost units, seconds elapsed)
INSERTION = "INSERTION"
# Our ruin-and-recreate search (routing.lns) instead of OR-Tools, from the constructed plan.
RUIN_RECREATE = "RUIN_RECREATE"
# Two ruin-and-recreate searches with different seeds beat OR-Tools' own constructions and
# metaheuristics at every size measured (and those find nothing in 30 s on 2,000 jobs with
# breaks), so they are the default on both cores.
DEFAULT_PORTFOLIO = (RUIN_RECREATE, RUIN_RECREATE)


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How to search. With ``solution_limit`` the search is deterministic: one process, one
    strategy, stopping after that many ruin-and-recreate rounds (or OR-Tools solutions)
    regardless of the clock."""

    time_limit_seconds: float = 10.0
    solution_limit: int | None = None
    workers: int = 2
    # One per parallel search: RUIN_RECREATE, an OR-Tools first-solution strategy, or
    # INSERTION (our construction handed to OR-Tools as its start). Empty: DEFAULT_PORTFOLIO.
    strategies: tuple[str, ...] = ()
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # Share of a ruin-and-recreate search's time left to OR-Tools' local search at the end.
    polish: float = 0.1
    log_search: bool = False
    # Below this time limit a second process costs more (about 3 s to start and import the
    # solver) than it finds, so shorter searches run alone.
    min_parallel_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.time_limit_seconds <= 0:
            raise ValueError(f"time_limit_seconds={self.time_limit_seconds} must be positive")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError(f"solution_limit={self.solution_limit} must be at least 1")
        if self.workers < 1:
            raise ValueError(f"workers={self.workers} must be at least 1")
        for name in self.strategies:
            if name not in (INSERTION, RUIN_RECREATE) and not hasattr(FIRST_SOLUTION, name):
                raise ValueError(f"unknown first-solution strategy {name!r}")
        if not hasattr(METAHEURISTIC, self.metaheuristic):
            raise ValueError(f"unknown metaheuristic {self.metaheuristic!r}")

    @property
    def deterministic(self) -> bool:
        return self.solution_limit is not None

    @classmethod
    def for_tests(cls, solutions: int = 1000) -> SolveParams:
        """Deterministic and quick: greedy descent stops at its first local optimum (or after
        ``solutions``), so the same problem gives the same plan on any machine."""
        return cls(
            time_limit_seconds=120.0,
            solution_limit=solutions,
            workers=1,
            metaheuristic="GREEDY_DESCENT",
        )


@dataclass(frozen=True, slots=True)
class RawResult:
    """What one search found: job indices per vehicle, in order."""

    routes: tuple[tuple[int, ...], ...]
    objective: int
    status: str
    strategy: str
    # Wall-clock time (time.time()) of the first solution, comparable across processes.
    first_solution_at: float | None
    solutions: int
    seconds: float


def strategies_for(params: SolveParams) -> tuple[str, ...]:
    chosen = params.strategies or DEFAULT_PORTFOLIO
    return chosen[:1] if params.deterministic else chosen[: workers_for(params)]


def workers_for(params: SolveParams) -> int:
    """Parallel searches worth starting: a new process takes seconds to import the solver,
    so a short search (a re-plan during the day) runs alone."""
    if params.deterministic or params.time_limit_seconds < params.min_parallel_seconds:
        return 1
    return params.workers


def search(
    prep: Prepared,
    params: SolveParams,
    progress: Progress | None = None,
    initial: list[list[int]] | None = None,
    deadline: float | None = None,
) -> list[RawResult]:
    """Every strategy's result (failed searches left out); the caller keeps the best.
    ``initial`` (job indices per vehicle) is the start of the INSERTION searches; ``deadline``
    (time.time()) ends them all, the time limit from now by default."""
    deadline = deadline if deadline is not None else time.time() + params.time_limit_seconds
    split = parts(prep)
    if len(split) > 1:
        return [_search_parts(prep, split, params, progress, initial, deadline)]
    return _portfolio(prep, params, progress, initial, deadline)


def _portfolio(
    prep: Prepared,
    params: SolveParams,
    progress: Progress | None,
    initial: list[list[int]] | None,
    deadline: float,
) -> list[RawResult]:
    strategies = strategies_for(params)
    workers = len(strategies)
    if workers == 1:
        found = _run(prep, strategies[0], params, progress, initial, 0, deadline)
        return [found] if found else []
    # The parent searches with the first strategy; the others run in fresh processes (spawn:
    # forking a process that may hold threads or OR-Tools state is unsafe).
    context = multiprocessing.get_context("spawn")
    results: list[RawResult] = []
    with ProcessPoolExecutor(
        max_workers=workers - 1, mp_context=context, initializer=_die_with_parent
    ) as pool:
        futures = [
            pool.submit(
                _run_in_worker, prep.problem, prep.matrices, name, params, initial, k, deadline
            )
            for k, name in enumerate(strategies[1:workers], start=1)
        ]
        own = _run(prep, strategies[0], params, progress, initial, 0, deadline)
        if own:
            results.append(own)
        for future in futures:
            try:
                other = future.result(timeout=params.time_limit_seconds + GRACE_SECONDS)
            except Exception:
                log.exception("a parallel search failed; keeping the others")
                continue
            if other:
                results.append(other)
    return results


def _die_with_parent() -> None:
    """Worker initialiser: end the worker when the process that started it dies. A killed
    parent closes nothing the pool's workers wait on, so they would otherwise wait for work
    (or finish a search nobody reads) for ever."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _search_parts(
    prep: Prepared,
    split: list[Part],
    params: SolveParams,
    progress: Progress | None,
    initial: list[list[int]] | None,
    deadline: float,
) -> RawResult:
    """One search per independent part, the parts spread over the workers, each given time
    in proportion to its size; the results merged into routes of the whole problem."""
    subs = [subproblem(prep, part) for part in split]
    starts = [_initial_of(part, initial) for part in split]
    names = [strategies_for(params)[0]] * len(subs)
    workers = min(workers_for(params), len(split))
    # Largest part first into the least loaded worker; each worker then runs its parts one
    # after another, sharing its remaining time in proportion to their sizes.
    bins: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for k in sorted(range(len(split)), key=lambda k: -split[k].size):
        w = loads.index(min(loads))
        bins[w].append(k)
        loads[w] += split[k].size
    tasks = [
        [(subs[k].problem, subs[k].matrices, names[k], starts[k], split[k].size) for k in b]
        for b in bins
    ]
    found: list[RawResult | None] = [None] * len(split)
    if workers == 1:
        for k, result in zip(
            bins[0], _run_parts(tasks[0], params, deadline, progress), strict=True
        ):
            found[k] = result
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers - 1, mp_context=context, initializer=_die_with_parent
        ) as pool:
            futures = [pool.submit(_run_parts, task, params, deadline, None) for task in tasks[1:]]
            for k, result in zip(
                bins[0], _run_parts(tasks[0], params, deadline, progress), strict=True
            ):
                found[k] = result
            for b, future in zip(bins[1:], futures, strict=True):
                try:
                    results = future.result(
                        timeout=max(0.0, deadline - time.time()) + GRACE_SECONDS
                    )
                except Exception:
                    log.exception("a worker's searches failed; keeping their first plans")
                    continue
                for k, result in zip(b, results, strict=True):
                    found[k] = result
    return _merge(prep, split, found, starts)


def _run_parts(
    tasks: list[tuple[Problem, TravelMatrices, str, list[list[int]] | None, int]],
    params: SolveParams,
    deadline: float,
    progress: Progress | None,
) -> list[RawResult | None]:
    results = []
    left = sum(size for *_, size in tasks)
    for problem, matrices, name, start, size in tasks:
        share = max(0.0, deadline - time.time()) * size / max(1, left)
        left -= size
        prep = Prepared(problem, matrices)
        results.append(_run(prep, name, params, progress, start, 0, time.time() + share))
    return results


def _initial_of(part: Part, initial: list[list[int]] | None) -> list[list[int]] | None:
    if initial is None:
        return None
    local = {j: k for k, j in enumerate(part.jobs)}
    return [[local[j] for j in initial[v] if j in local] for v in part.vehicles]


def _merge(
    prep: Prepared,
    split: list[Part],
    found: list[RawResult | None],
    starts: list[list[list[int]] | None],
) -> RawResult:
    routes: list[tuple[int, ...]] = [() for _ in prep.vehicles]
    for part, result, start in zip(split, found, starts, strict=True):
        local_routes = result.routes if result is not None else (start or [])
        for k, route in enumerate(local_routes):
            routes[part.vehicles[k]] = tuple(part.jobs[s] for s in route)
    done = [r for r in found if r is not None]
    statuses = {r.status for r in done}
    firsts = [r.first_solution_at for r in done if r.first_solution_at is not None]
    return RawResult(
        routes=tuple(routes),
        objective=sum(r.objective for r in done),
        status=statuses.pop() if len(statuses) == 1 else "mixed",
        strategy=f"{len(split)} parts: " + ", ".join(sorted({r.strategy for r in done})),
        # Every part has a plan only once the slowest has one.
        first_solution_at=max(firsts) if len(firsts) == len(split) else None,
        solutions=sum(r.solutions for r in done),
        seconds=max((r.seconds for r in done), default=0.0),
    )


def _run_in_worker(
    problem: Problem,
    matrices: TravelMatrices,
    strategy: str,
    params: SolveParams,
    initial: list[list[int]] | None,
    variant: int,
    deadline: float,
) -> RawResult | None:
    return _run(Prepared(problem, matrices), strategy, params, None, initial, variant, deadline)


def _run(
    prep: Prepared,
    strategy: str,
    params: SolveParams,
    progress: Progress | None,
    initial: list[list[int]] | None = None,
    variant: int = 0,
    deadline: float | None = None,
) -> RawResult | None:
    deadline = deadline if deadline is not None else time.time() + params.time_limit_seconds
    if strategy == RUIN_RECREATE:
        return _ruin_recreate(prep, params, initial, variant, deadline)
    started = time.perf_counter()
    built = build(prep)
    routing = built.routing
    found: dict[str, float | int | None] = {"first": None, "count": 0}

    def on_solution() -> None:
        elapsed = time.perf_counter() - started
        if found["first"] is None:
            found["first"] = time.time()
        found["count"] = int(found["count"] or 0) + 1
        if progress is not None:
            progress(routing.CostVar().Max() / 3600, elapsed)

    routing.AddAtSolutionCallback(on_solution)
    search_parameters = _parameters(strategy, params, deadline, variant)
    start = None
    if strategy == INSERTION and initial is not None:
        routing.CloseModelWithParameters(search_parameters)
        manager = built.manager
        start = routing.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(j) for j in route] for route in initial], True
        )
        if start is None:
            # Restoring routes with breaks is a search of its own and can run out of time;
            # searching from scratch at this size finds nothing, so keep the constructed plan.
            log.warning("OR-Tools could not restore the constructed routes; keeping them")
            return None
        assignment = routing.SolveFromAssignmentWithParameters(start, search_parameters)
    else:
        assignment = routing.SolveWithParameters(search_parameters)
    seconds = time.perf_counter() - started
    status = _status_name(routing.status())
    if assignment is None:
        log.warning("search %s found no solution (%s)", strategy, status)
        return None
    routes = []
    for v in range(len(prep.vehicles)):
        index = routing.Start(v)
        stops = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            stops.append(built.manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        routes.append(tuple(stops))
    log.info(
        "search %s: objective %d after %.2f s, %s solutions, status %s",
        strategy,
        assignment.ObjectiveValue(),
        seconds,
        found["count"],
        status,
    )
    return RawResult(
        routes=tuple(routes),
        objective=assignment.ObjectiveValue(),
        status=status,
        strategy=strategy,
        first_solution_at=found["first"],  # type: ignore[arg-type]
        solutions=int(found["count"] or 0),
        seconds=seconds,
    )


def _ruin_recreate(
    prep: Prepared,
    params: SolveParams,
    initial: list[list[int]] | None,
    variant: int,
    deadline: float,
) -> RawResult | None:
    """Ruin and recreate from the constructed plan, then OR-Tools' local search (its
    cross-route moves) polishes the result for the last part of the budget."""
    if initial is None:
        return None
    started = time.perf_counter()
    iterations = params.solution_limit if params.deterministic else None
    # OR-Tools' model has no reassignment price: polishing could undo the stability asked for.
    stable = any(job.reassign_cost for job in prep.jobs)
    polish = (
        0.0 if params.deterministic or stable else params.polish * max(0.0, deadline - time.time())
    )
    routes = improve(prep, initial, deadline=deadline - polish, iterations=iterations, seed=variant)
    found = RawResult(
        routes=tuple(tuple(r) for r in routes),
        objective=round(_objective_of(prep, routes) * COST_SCALE),
        status="success",
        strategy=RUIN_RECREATE,
        first_solution_at=None,
        solutions=0,
        seconds=time.perf_counter() - started,
    )
    if polish > 0:
        polished = _run(prep, INSERTION, params, None, routes, variant, deadline)
        if polished is not None and polished.objective < found.objective:
            log.info("OR-Tools polish improved %d -> %d", found.objective, polished.objective)
            return replace(polished, strategy=f"{RUIN_RECREATE}+{params.metaheuristic}")
    return found


def _objective_of(prep: Prepared, routes: list[list[int]]) -> float:
    timings = [schedule(prep, v, r) for v, r in zip(prep.vehicles, routes, strict=True)]
    placed = {j for r in routes for j in r}
    left_out = [j for j in range(len(prep.jobs)) if j not in placed]
    return objective(prep, routes, timings, left_out)  # type: ignore[arg-type]


def _parameters(strategy: str, params: SolveParams, deadline: float, variant: int = 0):  # type: ignore[no-untyped-def]
    search_parameters = pywrapcp.DefaultRoutingSearchParameters()
    fallback = "PARALLEL_CHEAPEST_INSERTION"
    search_parameters.first_solution_strategy = getattr(
        FIRST_SOLUTION, fallback if strategy == INSERTION else strategy
    )
    if strategy == INSERTION and variant % 2:
        # Parallel searches from the same start diverge through a different penalty weight.
        search_parameters.guided_local_search_lambda_coefficient = 0.2
    search_parameters.local_search_metaheuristic = getattr(METAHEURISTIC, params.metaheuristic)
    # Construction and model building count against the budget.
    remaining = max(0.1, deadline - time.time())
    search_parameters.time_limit.FromMilliseconds(int(remaining * 1000))
    if params.solution_limit is not None:
        search_parameters.solution_limit = params.solution_limit
    search_parameters.log_search = params.log_search
    return search_parameters


def _status_name(code: int) -> str:
    try:
        return (
            routing_enums_pb2.RoutingSearchStatus.Value.Name(code).removeprefix("ROUTING_").lower()
        )
    except ValueError:
        return str(code)
