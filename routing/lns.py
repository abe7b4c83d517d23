"""Ruin and recreate: a large-neighbourhood search on exact schedules, after Christiaens and
Vanden Berghe's SISR (2020). Strings of nearby stops are taken out of a few neighbouring
routes and put back by cheapest insertion with random blinks; left-out jobs get a new chance
each round; a simulated-annealing test keeps or undoes the change. The rounds run in the
compiled kernel (routing.kernel); this module turns the problem into its arrays and back."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from routing import kernel
from routing.assemble import drop_cost
from routing.prepare import Prepared

log = logging.getLogger(__name__)
BATCH_SECONDS = 0.05  # how often the clock is looked at


@dataclass(frozen=True, slots=True)
class LnsParams:
    max_string: int = 10
    mean_removed: int = 10
    blink: float = 0.01
    neighbours: int = 60
    # Temperatures as multiples of the starting plan's mean cost per leg.
    start_temperature: float = 10.0
    end_temperature: float = 0.1
    # Left-out jobs retried per round, on average, beyond those just removed.
    retries: int = 20


class _Arrays:
    """The prepared problem as the kernel's flat arrays."""

    def __init__(self, prep: Prepared, routes: list[list[int]]) -> None:
        jobs, vehicles = prep.jobs, prep.vehicles
        n_jobs, n_veh = len(jobs), len(vehicles)
        self.sec = np.ascontiguousarray(prep.matrices.seconds, dtype=np.int64)
        self.met = np.ascontiguousarray(prep.matrices.metres, dtype=np.int64)
        spans = [prep.windows(j) for j in range(n_jobs)]
        self.win_ptr = np.zeros(n_jobs + 1, dtype=np.int64)
        self.win_ptr[1:] = np.cumsum([len(s) for s in spans])
        self.win_s = np.array([s for spans_j in spans for s, _ in spans_j] or [0], dtype=np.int64)
        self.win_e = np.array([e for spans_j in spans for _, e in spans_j] or [0], dtype=np.int64)
        techs = sorted({v.tech_index for v in vehicles})
        column = {t: k for k, t in enumerate(techs)}
        self.veh_tech = np.array([column[v.tech_index] for v in vehicles], dtype=np.int64)
        first_of = {v.tech_index: v for v in reversed(vehicles)}
        self.service = np.array(
            [[prep.service(j, first_of[t]) for t in techs] for j in range(n_jobs)], dtype=np.int64
        ).reshape(n_jobs, max(1, len(techs)))
        self.demand = np.array([job.demand for job in jobs], dtype=np.int64)
        self.sla_deadline = np.array(
            [
                -1
                if job.sla_deadline is None or not job.sla_penalty_per_minute
                else job.sla_deadline
                for job in jobs
            ],
            dtype=np.int64,
        )
        self.sla_ppm = np.array([float(job.sla_penalty_per_minute) for job in jobs])
        self.drop = np.array([drop_cost(prep, j) for j in range(n_jobs)])
        # Re-planning during the day: the technician whose customer has an ETA, as a column
        # of ``service``, and what serving the job with anybody else costs.
        index_of = {
            tech.id: column[t] for t, tech in enumerate(prep.problem.technicians) if t in column
        }
        self.incumbent = np.array(
            [index_of.get(job.incumbent, -1) if job.incumbent else -1 for job in jobs],
            dtype=np.int64,
        )
        self.reassign = np.array([float(job.reassign_cost) for job in jobs])
        self.pin = np.array(
            [-1 if prep.pin(j) is None else prep.pin(j) for j in range(n_jobs)], dtype=np.int64
        )
        self.allowed = np.zeros((n_jobs, n_veh), dtype=np.bool_)
        for j in range(n_jobs):
            if spans[j]:
                self.allowed[j, prep.allowed[j]] = True
        self.eligible = self.allowed.any(axis=1)
        big = int(kernel.BIG)
        self.v_start_pt = np.array([v.start_point for v in vehicles], dtype=np.int64)
        self.v_end_pt = np.array([v.end_point for v in vehicles], dtype=np.int64)
        self.v_shift_s = np.array([v.shift.start for v in vehicles], dtype=np.int64)
        self.v_shift_e = np.array([v.shift.end for v in vehicles], dtype=np.int64)
        self.v_maxwork = np.array(
            [v.tech.max_work_seconds or big for v in vehicles], dtype=np.int64
        )
        self.v_cap = np.array(
            [big if v.tech.capacity is None else v.tech.capacity for v in vehicles], dtype=np.int64
        )
        self.v_cph = np.array([float(v.tech.cost_per_hour) for v in vehicles])
        breaks = [v.breaks for v in vehicles]
        self.brk_ptr = np.zeros(n_veh + 1, dtype=np.int64)
        self.brk_ptr[1:] = np.cumsum([len(b) for b in breaks])
        flat = [b for bs in breaks for b in bs]
        self.brk_dur = np.array([b.duration for b in flat] or [0], dtype=np.int64)
        self.brk_early = np.array([b.earliest for b in flat] or [0], dtype=np.int64)
        self.brk_late = np.array([b.latest for b in flat] or [0], dtype=np.int64)
        weights = prep.problem.objective
        self.w_sec, self.w_met = float(weights.travel_second_cost), float(weights.travel_metre_cost)
        plain = not any(job.sla_penalty_per_minute for job in jobs)
        self.fast = np.array(
            [plain and not v.breaks and not v.tech.cost_per_hour for v in vehicles], dtype=np.bool_
        )
        shortest = max(1, int(self.service.min())) if n_jobs else 1
        longest_shift = max((v.shift.end - v.shift.start for v in vehicles), default=0)
        cap = max(len(r) for r in routes) if routes else 0
        self.cap = max(cap + 1, min(n_jobs, longest_shift // shortest + 2), 1)
        seconds = self.sec
        self.home = np.array(
            [
                min(
                    (float(seconds[vehicles[v].start_point, j]) for v in prep.allowed[j]),
                    default=0.0,
                )
                for j in range(n_jobs)
            ]
        )

    def model(self) -> tuple:
        return (
            self.sec, self.met, self.win_ptr, self.win_s, self.win_e, self.service, self.demand,
            self.sla_deadline, self.sla_ppm, self.veh_tech, self.v_start_pt, self.v_end_pt,
            self.v_shift_s, self.v_shift_e, self.v_maxwork, self.v_cap, self.v_cph, self.brk_ptr,
            self.brk_dur, self.brk_early, self.brk_late, self.w_sec, self.w_met,
        )  # fmt: skip


def improve(
    prep: Prepared,
    routes: list[list[int]],
    *,
    deadline: float,
    iterations: int | None = None,
    seed: int = 0,
    params: LnsParams | None = None,
) -> list[list[int]]:
    """Better routes (job indices per vehicle) than the feasible ``routes``, searching until
    ``deadline`` (time.time()) or for ``iterations`` rounds (then deterministic per seed)."""
    params = params or LnsParams()
    if not prep.jobs or not prep.vehicles:
        return [list(r) for r in routes]
    a = _Arrays(prep, routes)
    n_veh, cap = len(prep.vehicles), a.cap
    state = np.zeros((n_veh, cap), dtype=np.int64)
    length = np.zeros(n_veh, dtype=np.int64)
    where = np.full(len(prep.jobs), -1, dtype=np.int64)
    for v, route in enumerate(routes):
        state[v, : len(route)] = route
        length[v] = len(route)
        where[route] = v
    cost = np.zeros(n_veh)
    work = np.zeros(n_veh, dtype=np.int64)
    load = np.zeros(n_veh, dtype=np.int64)
    ee = np.zeros((n_veh, cap), dtype=np.int64)
    ls = np.zeros((n_veh, cap), dtype=np.int64)
    starts = np.zeros(cap + 1, dtype=np.int64)
    model = a.model()
    quota = prep.quota
    v_day = np.array([v.day for v in prep.vehicles], dtype=np.int64)
    q_used = np.zeros(len(quota.seconds), dtype=np.int64)
    q_perday = np.zeros((len(quota.seconds), quota.days), dtype=np.int64)
    q_dayused = np.zeros(len(quota.seconds), dtype=np.int64)
    budgets = (
        v_day, quota.of, quota.draw, quota.seconds, quota.visit_days, quota.open, q_used,
        q_perday, q_dayused, quota.active,
    )  # fmt: skip
    if quota.active:
        kernel._recount(where, *budgets[:3], *budgets[5:9])
    for v in range(n_veh):
        kernel._refresh(
            v, state, length, cost, work, load, ee, ls, starts, *model, a.fast, a.incumbent,
            a.reassign,
        )  # fmt: skip
    balance = float(prep.problem.objective.balance_weight)
    busiest = float(work[length > 0].max()) if (length > 0).any() else 0.0
    current = float(cost.sum() + a.drop[(where < 0) & a.eligible].sum()) + balance * busiest
    best = np.array([current, current])
    best_routes, best_length = state.copy(), length.copy()
    legs = int(sum(len(r) + 1 for r in routes if r))
    scale = float(cost[length > 0].sum()) / legs if legs else 1.0
    hot, cold = params.start_temperature * scale, params.end_temperature * scale
    near = _neighbours(prep, params.neighbours)
    kernel.seed_random(seed)
    started = time.time()
    span = max(1e-9, deadline - started)
    done, batch = 0, 16
    first = current
    while iterations is None or done < iterations:
        now = time.time()
        if iterations is None and now >= deadline:
            break
        if iterations is not None:
            batch = min(batch, iterations - done)
            p0, p1 = done / iterations, (done + batch) / iterations
        else:
            p0 = (now - started) / span
            p1 = min(1.0, p0 + batch * max(1e-6, (now - started) / max(1, done)) / span)
        kernel.lns_batch(
            batch, hot, cold, p0, p1, state, length, where, cost, work, load, ee, ls,
            best_routes, best_length, best, near, a.pin, a.eligible, a.allowed, a.drop, a.home,
            params.max_string, params.mean_removed, params.blink, params.retries, *model, a.fast,
            balance, *budgets, a.incumbent, a.reassign,
        )  # fmt: skip
        done += batch
        elapsed = time.time() - now
        if iterations is None and elapsed < BATCH_SECONDS:
            batch = min(batch * 2, 1 << 16)
        elif elapsed > 2 * BATCH_SECONDS:
            batch = max(1, batch // 2)
    log.info("ruin and recreate: %d rounds, cost %.1f -> %.1f", done, first, best[0])
    return [best_routes[v, : best_length[v]].tolist() for v in range(n_veh)]


def _neighbours(prep: Prepared, k: int) -> np.ndarray:
    """Each job's nearest other jobs by travel time in either direction (n x k, int64)."""
    n = len(prep.jobs)
    if n <= 1:
        return np.zeros((n, 0), dtype=np.int64)
    seconds = prep.matrices.seconds[:n, :n]
    near = np.minimum(seconds, seconds.T).astype(np.float64)
    np.fill_diagonal(near, np.inf)
    k = min(k, n - 1)
    order = np.argpartition(near, k - 1, axis=1)[:, :k]
    rows = np.take_along_axis(near, order, axis=1).argsort(axis=1)
    return np.ascontiguousarray(np.take_along_axis(order, rows, axis=1), dtype=np.int64)


def warm_up() -> float:
    """Compile (or load from numba's cache) the kernel now rather than in the first plan;
    returns the seconds it took. Servers call it at start-up, images at build time."""
    from routing.problem import Break, Job, Location, Problem, Shift, Technician
    from routing.travel import Euclidean

    started = time.time()
    problem = Problem(
        jobs=(Job("a", Location(1, 0), 60), Job("b", Location(2, 0), 60)),
        technicians=(
            Technician("t", Location(0, 0), (Shift(0, 0, 3600, (Break(60, 600, 900),)),)),
        ),
        travel=Euclidean(),
    )
    prep = Prepared(problem)
    improve(prep, [[0, 1]], deadline=time.time() + 60, iterations=2)
    return time.time() - started
