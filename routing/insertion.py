"""Where a job could still go: every feasible insertion of a job into the current routes.

Pruning is sound (no feasible insertion is ever skipped): positions are first tested against
bounds computed without breaks (breaks only ever make a route later), and only survivors are
scheduled exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from routing.prepare import Prepared, Vehicle
from routing.quota import QuotaUse
from routing.schedule import Timing, schedule


@dataclass(frozen=True, slots=True)
class Insertion:
    vehicle: int
    position: int
    timing: Timing
    added_seconds: int


@dataclass(frozen=True, slots=True)
class Bounds:
    """Per stop of a route, ignoring breaks: the earliest it can end and the latest it can
    start with the rest of the route still on time."""

    ends: tuple[int, ...]
    latest: tuple[int, ...]


def bounds(prep: Prepared, vehicle: Vehicle, route: Sequence[int]) -> Bounds:
    seconds = prep.matrices.seconds
    ends = []
    clock, place = vehicle.shift.start, vehicle.start_point
    for j in route:
        ready = clock + int(seconds[place, j])
        start = next((max(ready, s) for s, e in prep.windows(j) if ready <= e), ready)
        clock, place = start + prep.service(j, vehicle), j
        ends.append(clock)
    latest = [0] * len(route)
    limit, after = vehicle.shift.end, vehicle.end_point
    for k in range(len(route) - 1, -1, -1):
        j = route[k]
        bound = limit - int(seconds[j, after]) - prep.service(j, vehicle)
        latest[k] = _latest_start(prep.windows(j), bound)
        limit, after = latest[k], j
    return Bounds(tuple(ends), tuple(latest))


def _latest_start(windows: list[tuple[int, int]], bound: int) -> int:
    """The latest window time not after ``bound`` (or a time before every window)."""
    best = -(10**12)
    for start, end in windows:
        if start <= bound:
            best = max(best, min(end, bound))
    return best


def candidates(
    prep: Prepared,
    routes: Sequence[Sequence[int]],
    timings: Sequence[Timing | None],
    j: int,
    cache: dict[int, Bounds] | None = None,
    quota: QuotaUse | None = None,
) -> list[tuple[int, int, int]]:
    """(added travel seconds plus any stability price, vehicle, position) of every place that
    passes the bounds, among the vehicles allowed to take job ``j`` (and, given ``quota``, on
    days its budget allows). ``cache`` keeps route bounds between calls; drop a vehicle's
    entry when its route changes."""
    windows = prep.windows(j)
    if not windows:
        return []
    cache = {} if cache is None else cache
    last_start = windows[-1][1]
    seconds = prep.matrices.seconds
    found = []
    for v in prep.allowed[j]:
        vehicle = prep.vehicles[v]
        route, timing = routes[v], timings[v]
        if (
            timing is None
            or vehicle.shift.start > last_start
            or not _room(prep, vehicle, timing, j)
            or (quota is not None and not quota.allows(j, vehicle.day))
        ):
            continue
        if v not in cache:
            cache[v] = bounds(prep, vehicle, route)
        bound = cache[v]
        service = prep.service(j, vehicle)
        limit = vehicle.tech.max_work_seconds
        job = prep.jobs[j]
        # The stability price ranks with travel, so construction keeps jobs where they were.
        moved = job.reassign_cost if job.incumbent not in (None, vehicle.tech.id) else 0
        for position in _positions(prep, route, j):
            before = vehicle.start_point if position == 0 else route[position - 1]
            after = vehicle.end_point if position == len(route) else route[position]
            leave = vehicle.shift.start if position == 0 else bound.ends[position - 1]
            ready = leave + int(seconds[before, j])
            if ready > last_start:
                break  # later positions only leave later
            start = next(max(ready, s) for s, e in windows if ready <= e)
            deadline = vehicle.shift.end if position == len(route) else bound.latest[position]
            if start + service + int(seconds[j, after]) > deadline:
                continue
            added = int(seconds[before, j]) + int(seconds[j, after]) - int(seconds[before, after])
            if limit is not None and timing.work + service + added > limit:
                continue
            found.append((added + moved, v, position))
    return found


def insertions(
    prep: Prepared,
    routes: Sequence[Sequence[int]],
    timings: Sequence[Timing | None],
    j: int,
    cache: dict[int, Bounds] | None = None,
    quota: QuotaUse | None = None,
) -> Iterator[Insertion]:
    """Feasible places for job ``j``, least added travel first."""
    for added, v, position in sorted(candidates(prep, routes, timings, j, cache, quota)):
        route = routes[v]
        result = schedule(prep, prep.vehicles[v], [*route[:position], j, *route[position:]])
        if isinstance(result, Timing):
            yield Insertion(v, position, result, added)


def _room(prep: Prepared, vehicle: Vehicle, timing: Timing, j: int) -> bool:
    """Capacity and working time, which no position can change for the better."""
    capacity = vehicle.tech.capacity
    if capacity is not None and timing.load + prep.jobs[j].demand > capacity:
        return False
    limit = vehicle.tech.max_work_seconds
    return limit is None or timing.work + prep.service(j, vehicle) <= limit


def _first_free_position(prep: Prepared, route: Sequence[int]) -> int:
    """The first place where inserting moves no stop beyond its pinned position (a pinned
    stop still short of its position may move one step towards it)."""
    first = 0
    for k, job in enumerate(route):
        pin = prep.pin(job)
        if pin is not None and k + 1 > pin:
            first = k + 1
    return first


def _positions(prep: Prepared, route: Sequence[int], j: int) -> Sequence[int]:
    """Where job ``j`` may go: its pinned position only, or anywhere from the first free."""
    first = _first_free_position(prep, route)
    pin = prep.pin(j)
    if pin is None:
        return range(first, len(route) + 1)
    return [pin] if first <= pin <= len(route) else []
