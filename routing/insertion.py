"""Where a job could still go: every feasible insertion of a job into the current routes,
with sound pruning (no feasible insertion is ever skipped)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from routing.prepare import Prepared, Vehicle
from routing.schedule import Timing, schedule


@dataclass(frozen=True, slots=True)
class Insertion:
    vehicle: int
    position: int
    timing: Timing
    added_seconds: int


def insertions(
    prep: Prepared, routes: Sequence[Sequence[int]], timings: Sequence[Timing | None], j: int
) -> Iterator[Insertion]:
    """Feasible places for job ``j`` among the vehicles allowed to take it."""
    windows = prep.windows(j)
    if not windows:
        return
    last_start = windows[-1][1]
    for v in prep.allowed[j]:
        vehicle = prep.vehicles[v]
        route, timing = routes[v], timings[v]
        if vehicle.shift.start > last_start or timing is None:
            continue
        if not _room(prep, vehicle, route, timing, j):
            continue
        lower = _earliest_ends(prep, vehicle, route)
        first_free = _first_free_position(prep, route)
        seconds = prep.matrices.seconds
        for position in range(first_free, len(route) + 1):
            before = vehicle.start_point if position == 0 else route[position - 1]
            ready = (vehicle.shift.start if position == 0 else lower[position - 1]) + int(
                seconds[before, j]
            )
            # Later positions only leave later, so once the job is out of reach, stop.
            if ready > last_start:
                break
            candidate = [*route[:position], j, *route[position:]]
            result = schedule(prep, vehicle, candidate)
            if isinstance(result, Timing):
                yield Insertion(v, position, result, sum(result.legs) - sum(timing.legs))


def _room(prep: Prepared, vehicle: Vehicle, route: Sequence[int], timing: Timing, j: int) -> bool:
    """Capacity and working time, which no position can change for the better."""
    capacity = vehicle.tech.capacity
    if capacity is not None and timing.load + prep.jobs[j].demand > capacity:
        return False
    limit = vehicle.tech.max_work_seconds
    return limit is None or timing.work + prep.service(j, vehicle) <= limit


def _first_free_position(prep: Prepared, route: Sequence[int]) -> int:
    """Insertions before a stop with a fixed position (pinned, or under way) would move it."""
    fixed = [
        k
        for k, j in enumerate(route)
        if prep.jobs[j].pinned_position is not None or prep.jobs[j].started_by is not None
    ]
    return fixed[-1] + 1 if fixed else 0


def _earliest_ends(prep: Prepared, vehicle: Vehicle, route: Sequence[int]) -> list[int]:
    """A lower bound on when each stop can end: the schedule without breaks (breaks only
    ever make things later)."""
    seconds = prep.matrices.seconds
    ends = []
    clock, place = vehicle.shift.start, vehicle.start_point
    for j in route:
        ready = clock + int(seconds[place, j])
        start = next((max(ready, s) for s, e in prep.windows(j) if ready <= e), ready)
        clock, place = start + prep.service(j, vehicle), j
        ends.append(clock)
    return ends
