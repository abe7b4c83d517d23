"""Builds the OR-Tools routing model of a prepared problem (pywrapcp).

Index layout: routing nodes are the prepared points (job ``i`` is node ``i``, then the
vehicles' distinct start and end places); vehicle ``v`` is the v-th technician shift. All
matrices are registered once with RegisterTransitMatrix, the demands with
RegisterUnaryTransitVector: no Python callback runs per arc.

Costs are integers scaled by COST_SCALE = 3600, which makes every weight integral: a cost unit
per hour of route time is one scaled unit per second, a penalty per minute late is 60 scaled
units per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from ortools.constraint_solver import pywrapcp

from routing.prepare import Prepared

COST_SCALE = 3600
# Pinned and started jobs are dropped only when they cannot be served at all.
PIN_FACTOR = 100


@dataclass
class Built:
    prep: Prepared
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension


def drop_penalty(prep: Prepared, j: int) -> int:
    """Scaled cost of leaving job ``j`` out."""
    factor = PIN_FACTOR if prep.pinned(j) else 1
    return COST_SCALE * prep.problem.objective.drop_weight * prep.jobs[j].priority * factor


def build(prep: Prepared) -> Built:
    problem = prep.problem
    vehicles = prep.vehicles
    manager = pywrapcp.RoutingIndexManager(
        len(prep.points),
        len(vehicles),
        [v.start_point for v in vehicles],
        [v.end_point for v in vehicles],
    )
    routing = pywrapcp.RoutingModel(manager)
    seconds, metres = prep.matrices.seconds, prep.matrices.metres
    objective = problem.objective

    cost = COST_SCALE * (
        objective.travel_second_cost * seconds + objective.travel_metre_cost * metres
    )
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(cost.tolist()))
    del cost

    time_evaluators, service_vectors = _time_evaluators(prep, routing)
    horizon = prep.horizon
    routing.AddDimensionWithVehicleTransitAndCapacity(
        time_evaluators, horizon, [horizon] * len(vehicles), False, "time"
    )
    time = routing.GetDimensionOrDie("time")
    solver = routing.solver()
    for v in vehicles:
        time.CumulVar(routing.Start(v.index)).SetRange(v.shift.start, v.shift.end)
        time.CumulVar(routing.End(v.index)).SetRange(v.shift.start, v.shift.end)
        if v.tech.cost_per_hour:
            time.SetSpanCostCoefficientForVehicle(v.tech.cost_per_hour, v.index)
        if v.breaks:
            intervals = [
                solver.FixedDurationIntervalVar(
                    b.earliest, b.latest, b.duration, False, f"break {v.index}.{k}"
                )
                for k, b in enumerate(v.breaks)
            ]
            transits = service_vectors[time_evaluators[v.index]]
            per_index = [transits[manager.IndexToNode(i)] for i in range(routing.Size())]
            time.SetBreakIntervalsOfVehicle(intervals, v.index, per_index)

    for j, job in enumerate(prep.jobs):
        index = manager.NodeToIndex(j)
        windows = prep.windows(j)
        cumul = time.CumulVar(index)
        allowed = prep.allowed[j]
        if not windows or not allowed:
            routing.ActiveVar(index).SetValue(0)
        else:
            cumul.SetRange(windows[0][0], windows[-1][1])
            for (_, end), (begin, _) in pairwise(windows):  # merged, so gaps are real
                cumul.RemoveInterval(end + 1, begin - 1)
            if len(allowed) < len(vehicles):
                # SetAllowedVehiclesForIndex cannot be called from Python in OR-Tools 9.15
                # (its span argument has no wrapper); the vehicle variable's domain says the
                # same, and OR-Tools' vehicle-var filter applies it during local search.
                routing.VehicleVar(index).SetValues([-1, *allowed])
        if job.sla_deadline is not None and job.sla_penalty_per_minute:
            time.SetCumulVarSoftUpperBound(index, job.sla_deadline, 60 * job.sla_penalty_per_minute)
        routing.AddDisjunction([index], drop_penalty(prep, j))

    _work_dimension(prep, routing, time_evaluators)
    _load_dimension(prep, routing)
    _positions(prep, routing, manager)
    _quotas(prep, routing, manager)
    return Built(prep=prep, manager=manager, routing=routing, time=time)


def _time_evaluators(
    prep: Prepared, routing: pywrapcp.RoutingModel
) -> tuple[list[int], dict[int, list[int]]]:
    """One travel-plus-service matrix per distinct service profile (with duration scaling,
    technicians of different levels need different matrices)."""
    seconds = prep.matrices.seconds
    profiles: dict[tuple[int, ...], int] = {}
    evaluators: list[int] = []
    services: dict[int, list[int]] = {}
    by_tech: dict[int, tuple[int, ...]] = {}
    for v in prep.vehicles:
        if v.tech_index not in by_tech:
            by_tech[v.tech_index] = tuple(prep.service(j, v) for j in range(len(prep.jobs)))
        profile = by_tech[v.tech_index]
        if profile not in profiles:
            service = np.zeros(len(prep.points), dtype=np.int64)
            service[: len(profile)] = profile
            evaluator = routing.RegisterTransitMatrix((seconds + service[:, None]).tolist())
            profiles[profile] = evaluator
            services[evaluator] = service.tolist()
        evaluators.append(profiles[profile])
    return evaluators, services


def _work_dimension(prep: Prepared, routing: pywrapcp.RoutingModel, evaluators: list[int]) -> None:
    """Travel plus service (no waiting, no breaks) per route, capped by max working time; its
    global span, weighted, evens out workloads."""
    limits = [v.tech.max_work_seconds for v in prep.vehicles]
    balance = prep.problem.objective.balance_weight
    if all(limit is None for limit in limits) and not balance:
        return
    horizon = prep.horizon
    routing.AddDimensionWithVehicleTransitAndCapacity(
        evaluators, 0, [horizon if limit is None else limit for limit in limits], True, "work"
    )
    if balance:
        routing.GetDimensionOrDie("work").SetGlobalSpanCostCoefficient(COST_SCALE * balance)


def _load_dimension(prep: Prepared, routing: pywrapcp.RoutingModel) -> None:
    if not any(job.demand for job in prep.jobs):
        return
    demands = [job.demand for job in prep.jobs] + [0] * (len(prep.points) - len(prep.jobs))
    total = sum(demands)
    capacities = [total if v.tech.capacity is None else v.tech.capacity for v in prep.vehicles]
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitVector(demands), 0, capacities, True, "load"
    )


def _positions(
    prep: Prepared, routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager
) -> None:
    """Pinned positions (and started jobs, always first) through a dimension counting stops."""
    fixed = {
        j: 0 if job.started_by is not None else job.pinned_position
        for j, job in enumerate(prep.jobs)
        if job.started_by is not None or job.pinned_position is not None
    }
    if not fixed:
        return
    routing.AddConstantDimension(1, len(prep.jobs) + 1, True, "position")
    position = routing.GetDimensionOrDie("position")
    for j, place in fixed.items():
        position.CumulVar(manager.NodeToIndex(j)).SetValue(place + 1)


def _quotas(
    prep: Prepared, routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager
) -> None:
    """Budgets across routes: a job counts against a budget when its vehicle is one of the
    budget's days; the served draws stay within its seconds and the days with a served job
    within its visit days. OR-Tools checks these constraints on every move it tries."""
    table = prep.quota
    if not table.active:
        return
    solver = routing.solver()
    day_of = [v.day for v in prep.vehicles]
    for q, members in table.jobs_of().items():
        draws, flags = [], []
        per_day: dict[int, list] = {}
        for j in members:
            variable = routing.VehicleVar(manager.NodeToIndex(j))
            for day in range(table.days):
                if table.of[j, day] != q:
                    continue
                vehicles = [v for v in prep.allowed[j] if day_of[v] == day]
                if not vehicles:
                    continue
                on = solver.IsMemberVar(variable, vehicles)
                draws.append(int(table.draw[j]))
                flags.append(on)
                if not table.open[q, day]:
                    per_day.setdefault(day, []).append(on)
        if not flags:
            continue
        if table.seconds[q] < sum(draws):
            solver.Add(solver.ScalProd(flags, draws) <= int(table.seconds[q]))
        if per_day and table.visit_days[q] < len(per_day):
            served = [solver.Max(day_flags) for day_flags in per_day.values()]
            solver.Add(solver.Sum(served) <= int(table.visit_days[q]))
