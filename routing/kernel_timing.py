"""Compiled route timing for the ruin-and-recreate kernel: the earliest schedule of a route
with its breaks, its cost, and the insertion bounds, on flat arrays (numba, cached on disk).

It mirrors routing.schedule exactly (same break placement order, same choice of the earliest
return, same departure rule); every plan is re-timed by that module and verified by the
checker, so a disagreement could only lose a job, never break a rule.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BIG = np.int64(1) << np.int64(60)
NONE = np.int64(-1)


@njit(cache=True)
def _earliest_start(j, ready, win_ptr, win_s, win_e):  # type: ignore[no-untyped-def]
    for w in range(win_ptr[j], win_ptr[j + 1]):
        if ready <= win_e[w]:
            return max(ready, win_s[w])
    return NONE


@njit(cache=True)
def _latest_start(j, bound, win_ptr, win_s, win_e):  # type: ignore[no-untyped-def]
    best = -BIG
    for w in range(win_ptr[j], win_ptr[j + 1]):
        if win_s[w] <= bound:
            best = max(best, min(win_e[w], bound))
    return best


@njit(cache=True)
def route_cost(  # type: ignore[no-untyped-def]
    v, route, n, sec, met, win_ptr, win_s, win_e, service, demand, sla_deadline, sla_ppm,
    veh_tech, v_start_pt, v_end_pt, v_shift_s, v_shift_e, v_maxwork, v_cap, v_cph,
    brk_ptr, brk_dur, brk_early, brk_late, w_sec, w_met, starts,
):  # fmt: skip
    """(feasible, cost, work, load) of the earliest schedule of ``route[:n]`` on vehicle v,
    as routing.schedule computes it; ``starts`` receives the service start times."""
    tech = veh_tech[v]
    load = 0
    work = 0
    travel = 0
    metres = 0
    prev = v_start_pt[v]
    for k in range(n):
        j = route[k]
        load += demand[j]
        work += sec[prev, j] + service[j, tech]
        travel += sec[prev, j]
        metres += met[prev, j]
        prev = j
    work += sec[prev, v_end_pt[v]]
    travel += sec[prev, v_end_pt[v]]
    metres += met[prev, v_end_pt[v]]
    if load > v_cap[v] or work > v_maxwork[v]:
        return False, 0.0, work, load
    b0 = brk_ptr[v]
    nb = brk_ptr[v + 1] - b0
    gaps = np.zeros(max(nb, 1), dtype=np.int64)
    best_back = BIG
    best_first_break = BIG
    trial = np.empty(n, dtype=np.int64)
    while True:
        back, first_break = _simulate(
            v, route, n, gaps, nb, b0, sec, win_ptr, win_s, win_e, service, tech,
            v_start_pt, v_end_pt, v_shift_s, v_shift_e, brk_dur, brk_early, brk_late, trial,
        )  # fmt: skip
        if back >= 0 and back < best_back:
            best_back = back
            best_first_break = first_break
            for k in range(n):
                starts[k] = trial[k]
        if nb == 0:
            break
        i = nb - 1
        while i >= 0 and gaps[i] == n:
            i -= 1
        if i < 0:
            break
        gaps[i] += 1
        for m in range(i + 1, nb):
            gaps[m] = gaps[i]
    if best_back == BIG:
        return False, 0.0, work, load
    departure = v_shift_s[v]
    if n > 0 and best_first_break >= starts[0]:
        first_leg = sec[v_start_pt[v], route[0]]
        departure = max(v_shift_s[v], starts[0] - first_leg)
    cost = w_sec * travel + w_met * metres + v_cph[v] * (best_back - departure) / 3600.0
    for k in range(n):
        j = route[k]
        if sla_deadline[j] >= 0 and starts[k] > sla_deadline[j]:
            cost += (starts[k] - sla_deadline[j]) * sla_ppm[j] / 60.0
    return True, cost, work, load


@njit(cache=True)
def _simulate(  # type: ignore[no-untyped-def]
    v, route, n, gaps, nb, b0, sec, win_ptr, win_s, win_e, service, tech,
    v_start_pt, v_end_pt, v_shift_s, v_shift_e, brk_dur, brk_early, brk_late, starts,
):  # fmt: skip
    """Return time (-1 if infeasible) and the start of the first break (BIG if none)."""
    clock = v_shift_s[v]
    prev = v_start_pt[v]
    first_break = BIG
    for gap in range(n + 1):
        nxt = route[gap] if gap < n else v_end_pt[v]
        cursor = clock
        left = sec[prev, nxt]
        arrived = NONE
        for k in range(nb):
            if gaps[k] != gap:
                continue
            begin = max(cursor, brk_early[b0 + k])
            if begin > brk_late[b0 + k]:
                return NONE, first_break
            moved = min(left, begin - cursor)
            left -= moved
            if left == 0 and arrived == NONE:
                arrived = cursor + moved
            cursor = begin + brk_dur[b0 + k]
            first_break = min(first_break, begin)
        if arrived == NONE:
            arrived = cursor + left
            cursor = arrived
        if gap == n:
            if arrived > v_shift_e[v]:
                return NONE, first_break
            return arrived, first_break
        start = _earliest_start(nxt, cursor, win_ptr, win_s, win_e)
        if start == NONE:
            return NONE, first_break
        starts[gap] = start
        clock = start + service[nxt, tech]
        prev = nxt
    return NONE, first_break


@njit(cache=True)
def bounds(  # type: ignore[no-untyped-def]
    v, route, n, ee, ls, sec, win_ptr, win_s, win_e, service, veh_tech, v_start_pt, v_end_pt,
    v_shift_s, v_shift_e,
):  # fmt: skip
    """Earliest ends and latest starts of the stops, ignoring breaks."""
    tech = veh_tech[v]
    clock = v_shift_s[v]
    prev = v_start_pt[v]
    for k in range(n):
        j = route[k]
        ready = clock + sec[prev, j]
        start = _earliest_start(j, ready, win_ptr, win_s, win_e)
        if start == NONE:
            start = ready
        clock = start + service[j, tech]
        ee[k] = clock
        prev = j
    limit = v_shift_e[v]
    after = v_end_pt[v]
    for k in range(n - 1, -1, -1):
        j = route[k]
        ls[k] = _latest_start(j, limit - sec[j, after] - service[j, tech], win_ptr, win_s, win_e)
        limit = ls[k]
        after = j
