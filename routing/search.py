"""Runs the OR-Tools search: parameters, a time or solution limit, and a portfolio of
strategies in parallel processes of which the best result is kept."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.model import build
from routing.prepare import Prepared
from routing.problem import Problem
from routing.travel import TravelMatrices

log = logging.getLogger(__name__)

FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic
# Time allowed beyond the limit for a search to stop and report, before it is abandoned.
GRACE_SECONDS = 30.0

Progress = Callable[[float, float], None]  # (objective in cost units, seconds elapsed)


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How to search. With ``solution_limit`` the search is deterministic: one process, one
    strategy, stopping after that many improving solutions regardless of the clock."""

    time_limit_seconds: float = 10.0
    solution_limit: int | None = None
    workers: int = 2
    strategies: tuple[str, ...] = ("PARALLEL_CHEAPEST_INSERTION", "GLOBAL_CHEAPEST_ARC")
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    log_search: bool = False

    def __post_init__(self) -> None:
        if self.time_limit_seconds <= 0:
            raise ValueError(f"time_limit_seconds={self.time_limit_seconds} must be positive")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError(f"solution_limit={self.solution_limit} must be at least 1")
        if self.workers < 1:
            raise ValueError(f"workers={self.workers} must be at least 1")
        for name in self.strategies:
            if not hasattr(FIRST_SOLUTION, name):
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
    first_solution_seconds: float | None
    solutions: int
    seconds: float


def search(
    prep: Prepared, params: SolveParams, progress: Progress | None = None
) -> list[RawResult]:
    """Every strategy's result (failed searches left out); the caller keeps the best."""
    strategies = params.strategies[:1] if params.deterministic else params.strategies
    workers = 1 if params.deterministic else min(params.workers, len(strategies))
    if workers == 1:
        found = _run(prep, strategies[0], params, progress)
        return [found] if found else []
    # The parent searches with the first strategy; the others run in fresh processes (spawn:
    # forking a process that may hold threads or OR-Tools state is unsafe).
    context = multiprocessing.get_context("spawn")
    results: list[RawResult] = []
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
        futures = [
            pool.submit(_run_in_worker, prep.problem, prep.matrices, name, params)
            for name in strategies[1:workers]
        ]
        own = _run(prep, strategies[0], params, progress)
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


def _run_in_worker(
    problem: Problem, matrices: TravelMatrices, strategy: str, params: SolveParams
) -> RawResult | None:
    return _run(Prepared(problem, matrices), strategy, params, None)


def _run(
    prep: Prepared, strategy: str, params: SolveParams, progress: Progress | None
) -> RawResult | None:
    started = time.perf_counter()
    built = build(prep)
    routing = built.routing
    found: dict[str, float | int | None] = {"first": None, "count": 0}

    def on_solution() -> None:
        elapsed = time.perf_counter() - started
        if found["first"] is None:
            found["first"] = elapsed
        found["count"] = int(found["count"] or 0) + 1
        if progress is not None:
            progress(routing.CostVar().Max() / 3600, elapsed)

    routing.AddAtSolutionCallback(on_solution)
    search_parameters = _parameters(strategy, params, time.perf_counter() - started)
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
        first_solution_seconds=found["first"],  # type: ignore[arg-type]
        solutions=int(found["count"] or 0),
        seconds=seconds,
    )


def _parameters(strategy: str, params: SolveParams, spent: float):  # type: ignore[no-untyped-def]
    search_parameters = pywrapcp.DefaultRoutingSearchParameters()
    search_parameters.first_solution_strategy = getattr(FIRST_SOLUTION, strategy)
    search_parameters.local_search_metaheuristic = getattr(METAHEURISTIC, params.metaheuristic)
    # Model building counts against the budget.
    remaining = max(0.1, params.time_limit_seconds - spent)
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


def with_time_limit(params: SolveParams, seconds: float) -> SolveParams:
    return replace(params, time_limit_seconds=seconds)
