"""Times along one route: the earliest feasible schedule for a vehicle and an order of jobs,
placing its breaks, or the reason there is none. Used to report, repair and explain plans."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from routing.prepare import Prepared, Vehicle

WINDOW, SHIFT_END, MAX_WORK, CAPACITY, BREAK = (
    "window",
    "shift_end",
    "max_work",
    "capacity",
    "break",
)


@dataclass(frozen=True, slots=True)
class Timing:
    """A feasible schedule. ``legs``/``leg_metres`` hold the travel into each stop and, last,
    the way back; ``breaks`` the (start, end) of each of the vehicle's breaks in order."""

    departure: int
    arrivals: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    legs: tuple[int, ...]
    leg_metres: tuple[int, ...]
    breaks: tuple[tuple[int, int], ...]
    back: int
    work: int
    load: int
    late_seconds: tuple[int, ...]


class _Run(NamedTuple):
    arrivals: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    breaks: tuple[tuple[int, int], ...]
    back: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no schedule exists: the rule broken and the stop where it broke (None: whole route)."""

    reason: str
    position: int | None = None


def schedule(prep: Prepared, vehicle: Vehicle, route: Sequence[int]) -> Timing | Refusal:
    """The earliest feasible schedule of ``route`` (job indices, in order) on ``vehicle``."""
    seconds, metres = prep.matrices.seconds, prep.matrices.metres
    points = [vehicle.start_point, *route, vehicle.end_point]
    legs = tuple(int(seconds[a, b]) for a, b in pairwise(points))
    leg_metres = tuple(int(metres[a, b]) for a, b in pairwise(points))
    services = [prep.service(j, vehicle) for j in route]
    load = sum(prep.jobs[j].demand for j in route)
    capacity = vehicle.tech.capacity
    if capacity is not None and load > capacity:
        return Refusal(CAPACITY)
    work = sum(legs) + sum(services)
    limit = vehicle.tech.max_work_seconds
    if limit is not None and work > limit:
        return Refusal(MAX_WORK)
    windows = [prep.windows(j) for j in route]
    best: _Run | None = None
    furthest = Refusal(WINDOW, 0) if route else Refusal(SHIFT_END)
    for assignment in _assignments(len(vehicle.breaks), len(route)):
        result = _simulate(prep, vehicle, route, legs, services, windows, assignment)
        if isinstance(result, Refusal):
            if (result.position or 0) > (furthest.position or 0):
                furthest = result
            continue
        if best is None or result.back < best.back:
            best = result
    if best is None:
        return furthest
    return _leave_later(
        Timing(
            departure=vehicle.shift.start,
            arrivals=best.arrivals,
            starts=best.starts,
            ends=best.ends,
            legs=legs,
            leg_metres=leg_metres,
            breaks=best.breaks,
            back=best.back,
            work=work,
            load=load,
            late_seconds=_lateness(prep, route, best.starts),
        ),
        vehicle,
    )


def _assignments(breaks: int, stops: int) -> Iterator[tuple[int, ...]]:
    """Every way to give each break (in order) a gap 0..stops, gaps never decreasing."""
    if breaks == 0:
        yield ()
        return

    def extend(prefix: tuple[int, ...], low: int) -> Iterator[tuple[int, ...]]:
        if len(prefix) == breaks:
            yield prefix
            return
        for gap in range(low, stops + 1):
            yield from extend((*prefix, gap), gap)

    yield from extend((), 0)


def _simulate(
    prep: Prepared,
    vehicle: Vehicle,
    route: Sequence[int],
    legs: tuple[int, ...],
    services: list[int],
    windows: list[list[tuple[int, int]]],
    assignment: tuple[int, ...],
) -> _Run | Refusal:
    breaks = vehicle.breaks
    placed: list[tuple[int, int]] = []
    arrivals: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    clock = vehicle.shift.start
    for gap in range(len(route) + 1):
        cursor, left, arrived = clock, legs[gap], None
        for k, brk in enumerate(breaks):
            if assignment[k] != gap:
                continue
            begin = max(cursor, brk.earliest)
            if begin > brk.latest:
                return Refusal(BREAK, gap)
            # Travel goes on until the break begins, and resumes after it.
            moved = min(left, begin - cursor)
            left -= moved
            if left == 0 and arrived is None:
                arrived = cursor + moved
            cursor = begin + brk.duration
            placed.append((begin, cursor))
        if arrived is None:
            arrived = cursor + left
            cursor = arrived
        if gap == len(route):
            # Home is reached when the travel ends; a break after that is taken off duty.
            if arrived > vehicle.shift.end:
                return Refusal(SHIFT_END, gap)
            return _Run(tuple(arrivals), tuple(starts), tuple(ends), tuple(placed), arrived)
        start = _earliest_start(windows[gap], cursor)
        if start is None:
            return Refusal(WINDOW, gap)
        arrivals.append(arrived)
        starts.append(start)
        ends.append(start + services[gap])
        clock = start + services[gap]
    raise AssertionError("unreachable")  # pragma: no cover


def _earliest_start(windows: list[tuple[int, int]], ready: int) -> int | None:
    for begin, end in windows:
        if ready <= end:
            return max(ready, begin)
    return None


def _leave_later(timing: Timing, vehicle: Vehicle) -> Timing:
    """Leave home just in time for the first stop instead of waiting there (only when no break
    comes before it): same stops, same times on site, less idle time on the clock."""
    if not timing.starts or any(start < timing.starts[0] for start, _ in timing.breaks):
        return timing
    departure = max(vehicle.shift.start, timing.starts[0] - timing.legs[0])
    if departure == timing.departure:
        return timing
    arrivals = (departure + timing.legs[0], *timing.arrivals[1:])
    return Timing(
        departure=departure,
        arrivals=arrivals,
        starts=timing.starts,
        ends=timing.ends,
        legs=timing.legs,
        leg_metres=timing.leg_metres,
        breaks=timing.breaks,
        back=timing.back,
        work=timing.work,
        load=timing.load,
        late_seconds=timing.late_seconds,
    )


def _lateness(prep: Prepared, route: Sequence[int], starts: Sequence[int]) -> tuple[int, ...]:
    late = []
    for j, start in zip(route, starts, strict=True):
        deadline = prep.jobs[j].sla_deadline
        late.append(max(0, start - deadline) if deadline is not None else 0)
    return tuple(late)


def sla_cost(prep: Prepared, route: Sequence[int], timing: Timing) -> float:
    """Objective cost units of lateness past soft SLA deadlines on this route."""
    return sum(
        late * prep.jobs[j].sla_penalty_per_minute / 60
        for j, late in zip(route, timing.late_seconds, strict=True)
    )
