"""Turning route orders into a Solution: schedules, stops, breaks and the objective value."""

from __future__ import annotations

import logging

from routing.model import drop_penalty
from routing.prepare import Prepared
from routing.schedule import Refusal, Timing, schedule, sla_cost
from routing.solution import BreakPlacement, Route, Stop

log = logging.getLogger(__name__)


def timings_of(prep: Prepared, routes: list[list[int]]) -> list[Timing | None]:
    """Schedules of the search's routes. Should the search's times disagree with the
    scheduler's (never expected), the route is shortened from its end until it is feasible."""
    timings: list[Timing | None] = []
    for v, route in enumerate(routes):
        result = schedule(prep, prep.vehicles[v], route)
        while isinstance(result, Refusal) and route:
            dropped = route.pop()
            log.warning(
                "route %d infeasible (%s); leaving job %s out",
                v,
                result.reason,
                prep.jobs[dropped].id,
            )
            result = schedule(prep, prep.vehicles[v], route)
        timings.append(result if isinstance(result, Timing) else None)
    return timings


def route_of(prep: Prepared, v: int, route: list[int], timing: Timing) -> Route:
    vehicle = prep.vehicles[v]
    stops = []
    for k, j in enumerate(route):
        arrival, start = timing.arrivals[k], timing.starts[k]
        paused = sum(e - s for s, e in timing.breaks if arrival <= s and e <= start)
        stops.append(
            Stop(
                job_id=prep.jobs[j].id,
                arrival=arrival,
                start=start,
                end=timing.ends[k],
                wait=start - arrival - paused,
                travel_seconds=timing.legs[k],
                travel_metres=timing.leg_metres[k],
                late_seconds=timing.late_seconds[k],
            )
        )
    return Route(
        technician_id=vehicle.tech.id,
        day=vehicle.day,
        departure=timing.departure,
        back=timing.back,
        stops=tuple(stops),
        breaks=tuple(BreakPlacement(s, e) for s, e in timing.breaks),
        return_seconds=timing.legs[-1],
        return_metres=timing.leg_metres[-1],
        work_seconds=timing.work,
        load=timing.load,
    )


def route_cost(prep: Prepared, v: int, route: list[int], timing: Timing) -> float:
    """One route's share of the objective: travel, SLA lateness, technician time."""
    weights = prep.problem.objective
    cost = weights.travel_second_cost * sum(timing.legs)
    cost += weights.travel_metre_cost * sum(timing.leg_metres)
    cost += sla_cost(prep, route, timing)
    tech = prep.vehicles[v].tech
    cost += sum(
        prep.jobs[j].reassign_cost
        for j in route
        if prep.jobs[j].incumbent is not None and prep.jobs[j].incumbent != tech.id
    )
    return cost + tech.cost_per_hour * (timing.back - timing.departure) / 3600


def drop_cost(prep: Prepared, j: int) -> float:
    return drop_penalty(prep, j) / 3600


def objective(
    prep: Prepared, routes: list[list[int]], timings: list[Timing | None], left_out: list[int]
) -> float:
    """The plan's cost in objective units, computed from its final times (the search's own
    figure is for the search's times and scaling)."""
    total = sum(drop_cost(prep, j) for j in left_out)
    busiest = 0
    for v, route in enumerate(routes):
        timing = timings[v]
        if timing is not None:
            total += route_cost(prep, v, route, timing)
            busiest = max(busiest, timing.work)
    return total + prep.problem.objective.balance_weight * busiest
