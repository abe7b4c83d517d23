"""Puts left-out jobs back where they still fit, highest priority first, so that every job
that stays out truly has no room (and its explanation is true)."""

from __future__ import annotations

import logging

from routing.insertion import insertions
from routing.prepare import Prepared
from routing.schedule import Timing

log = logging.getLogger(__name__)


def repair(
    prep: Prepared, routes: list[list[int]], timings: list[Timing | None], left_out: list[int]
) -> list[int]:
    """Insert what fits (cheapest added travel first), updating ``routes`` and ``timings`` in
    place; returns the jobs inserted. A job that does not fit at its turn cannot fit later:
    insertions only ever add work to routes."""
    inserted = []
    order = sorted(left_out, key=lambda j: (-prep.jobs[j].priority, len(prep.allowed[j]), j))
    for j in order:
        best = min(
            insertions(prep, routes, timings, j),
            key=lambda i: (i.added_seconds, i.vehicle, i.position),
            default=None,
        )
        if best is None:
            continue
        routes[best.vehicle].insert(best.position, j)
        timings[best.vehicle] = best.timing
        inserted.append(j)
    if inserted:
        log.info("repair inserted %d job(s) the search had left out", len(inserted))
    return inserted
