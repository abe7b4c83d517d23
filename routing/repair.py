"""Puts left-out jobs back where they still fit, highest priority first, so that every job
that stays out truly has no room (and its explanation is true)."""

from __future__ import annotations

import logging

from routing.insertion import Bounds, insertions
from routing.prepare import Prepared
from routing.quota import QuotaUse
from routing.schedule import Timing, schedule

log = logging.getLogger(__name__)


def repair(
    prep: Prepared, routes: list[list[int]], timings: list[Timing | None], left_out: list[int]
) -> list[int]:
    """Insert what fits (cheapest added travel first), updating ``routes`` and ``timings`` in
    place; returns the jobs inserted. A job that does not fit at its turn cannot fit later:
    insertions only ever add work to routes and draw on budgets. Higher priorities go first,
    so a budget too small for all its jobs goes to the most important ones."""
    inserted = []
    cache: dict[int, Bounds] = {}
    quota = QuotaUse(prep, routes) if prep.quota.active else None
    # Jobs pinned to a later position go last, once their routes have stops to go after.
    order = sorted(
        left_out,
        key=lambda j: ((prep.pin(j) or 0) > 0, -prep.jobs[j].priority, len(prep.allowed[j]), j),
    )
    for j in order:
        # Candidates come cheapest first, so the first feasible one is the cheapest.
        best = next(insertions(prep, routes, timings, j, cache, quota), None)
        if best is None:
            continue
        if quota is not None:
            quota.add(j, prep.vehicles[best.vehicle].day)
        routes[best.vehicle].insert(best.position, j)
        timings[best.vehicle] = best.timing
        cache.pop(best.vehicle, None)
        inserted.append(j)
    if inserted:
        log.info("repair inserted %d job(s) the search had left out", len(inserted))
    return inserted


def construct(prep: Prepared) -> list[list[int]]:
    """A first plan from scratch: every job by priority into its cheapest feasible place."""
    routes: list[list[int]] = [[] for _ in prep.vehicles]
    timings: list[Timing | None] = [schedule(prep, v, []) for v in prep.vehicles]  # type: ignore[misc]
    timings = [t if isinstance(t, Timing) else None for t in timings]
    repair(prep, routes, timings, list(range(len(prep.jobs))))
    return routes
