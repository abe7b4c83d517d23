"""Compiled core of the ruin-and-recreate search: ruin, recreate and acceptance on flat
arrays, jitted with numba (cached on disk after the first compilation). Route timing lives in
routing.kernel_timing."""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.kernel_timing import BIG, _earliest_start, bounds, route_cost

__all__ = ["BIG", "lns_batch", "route_cost", "seed_random"]

# Share of rounds that try a budget swap instead of a neighbourhood ruin, where budgets exist.
QUOTA_SWAP_SHARE = 0.2


@njit(cache=True)
def seed_random(seed: int) -> None:
    np.random.seed(seed)


@njit(cache=True)
def lns_batch(  # type: ignore[no-untyped-def]
    iterations, hot, cold, progress0, progress1,
    routes, length, where, cost, work, load, ee, ls, best_routes, best_length, best,
    near, pin, eligible, allowed, drop, home, max_string, mean_removed, blink, retries,
    sec, met, win_ptr, win_s, win_e, service, demand, sla_deadline, sla_ppm,
    veh_tech, v_start_pt, v_end_pt, v_shift_s, v_shift_e, v_maxwork, v_cap, v_cph,
    brk_ptr, brk_dur, brk_early, brk_late, w_sec, w_met, fast, w_balance,
    v_day, q_of, q_draw, q_sec, q_days, q_open, q_used, q_perday, q_dayused, has_quota,
    incumbent, reassign,
):  # fmt: skip
    """``iterations`` rounds of ruin, recreate and simulated-annealing acceptance, the
    temperature falling geometrically from progress0 to progress1 of the way from hot to
    cold. ``best`` holds [best cost, current cost]. ``q_*`` are the budgets (see
    routing.quota) and their use by the current routes, kept up to date."""
    n_jobs = where.shape[0]
    n_veh = length.shape[0]
    cap = routes.shape[1]
    saved_routes = routes.copy()
    saved_length = length.copy()
    saved_where = where.copy()
    saved_cost = cost.copy()
    saved_work = work.copy()
    saved_load = load.copy()
    touched = np.zeros(n_veh, dtype=np.bool_)
    starts = np.empty(cap + 1, dtype=np.int64)
    buffer = np.empty(cap + 1, dtype=np.int64)
    pool = np.empty(n_jobs, dtype=np.int64)
    cand_cost = np.empty(n_veh * (cap + 1), dtype=np.float64)
    cand_v = np.empty(n_veh * (cap + 1), dtype=np.int64)
    cand_p = np.empty(n_veh * (cap + 1), dtype=np.int64)
    current = best[1]
    for it in range(iterations):
        progress = progress0 + (progress1 - progress0) * it / max(1, iterations)
        temperature = hot * (cold / hot) ** progress if hot > 0 else 0.0
        # -- ruin: strings of consecutive stops from routes near a random seed job
        routed_routes = 0
        routed_stops = 0
        for v in range(n_veh):
            if length[v] > 0:
                routed_routes += 1
                routed_stops += length[v]
        removed = 0
        # -- or a budget swap: a left-out job whose budget is spent takes the place of the
        # lowest-priority jobs drawing on the same budget (neighbourhood ruin rarely frees
        # budget, which is shared by visits far apart).
        target = -1
        if has_quota and np.random.random() < QUOTA_SWAP_SHARE:
            for _ in range(20):
                c = np.random.randint(0, n_jobs)
                if where[c] < 0 and eligible[c]:
                    target = c
                    break
        q = -1
        if target >= 0:
            first_day = np.random.randint(0, q_of.shape[1])
            for step in range(q_of.shape[1]):
                d = (first_day + step) % q_of.shape[1]
                if q_of[target, d] >= 0:
                    q = q_of[target, d]
                    break
        if q >= 0:
            while q_used[q] + q_draw[target] > q_sec[q]:
                victim = -1
                victim_at = -1
                lowest = drop[target]
                for k in range(n_jobs):
                    v = where[k]
                    if v < 0 or drop[k] >= lowest or pin[k] >= 0 or q_of[k, v_day[v]] != q:
                        continue
                    at = 0
                    while routes[v, at] != k:
                        at += 1
                    movable = True
                    for m in range(at + 1, length[v]):
                        if pin[routes[v, m]] >= 0:
                            movable = False
                            break
                    if movable:
                        victim, victim_at, lowest = k, at, drop[k]
                if victim < 0:
                    break
                v = where[victim]
                for m in range(victim_at + 1, length[v]):
                    routes[v, m - 1] = routes[v, m]
                length[v] -= 1
                where[victim] = -1
                _draw(victim, v_day[v], -1, q_of, q_draw, q_used, q_perday, q_dayused)
                pool[removed] = victim
                removed += 1
                touched[v] = True
                _refresh(
                    v, routes, length, cost, work, load, ee, ls, starts, sec, met, win_ptr, win_s,
                    win_e, service, demand, sla_deadline, sla_ppm, veh_tech, v_start_pt, v_end_pt,
                    v_shift_s, v_shift_e, v_maxwork, v_cap, v_cph, brk_ptr, brk_dur, brk_early,
                    brk_late, w_sec, w_met, fast, incumbent, reassign,
                )  # fmt: skip
        swapped = removed > 0
        if swapped:
            pool[removed] = target
            removed += 1
        if routed_routes > 0 and not swapped:
            longest = min(float(max_string), routed_stops / routed_routes)
            strings = max(1, int(np.random.uniform(1.0, 4.0 * mean_removed / (1.0 + longest))))
            seed = np.random.randint(0, n_jobs)
            ruined = 0
            for q in range(-1, near.shape[1]):
                if ruined >= strings:
                    break
                c = seed if q < 0 else near[seed, q]
                v = where[c]
                if v < 0 or touched[v]:
                    continue
                size = length[v]
                span = int(np.random.uniform(1.0, min(float(size), longest) + 1.0))
                span = max(1, min(span, size))
                at = 0
                while routes[v, at] != c:
                    at += 1
                # Stops before a pinned one must stay put too.
                first = 0
                for m in range(size):
                    if pin[routes[v, m]] >= 0:
                        first = m + 1
                if at < first:
                    continue
                span = min(span, size - first)
                low = max(first, at - span + 1)
                high = min(at, size - span)
                begin = low + np.random.randint(0, high - low + 1)
                skip = False
                for k in range(begin, begin + span):
                    if pin[routes[v, k]] >= 0:
                        skip = True
                if skip:
                    continue
                touched[v] = True
                for k in range(begin, begin + span):
                    pool[removed] = routes[v, k]
                    where[routes[v, k]] = -1
                    if has_quota:
                        _draw(routes[v, k], v_day[v], -1, q_of, q_draw, q_used, q_perday, q_dayused)
                    removed += 1
                for k in range(begin + span, size):
                    routes[v, k - span] = routes[v, k]
                length[v] = size - span
                _refresh(
                    v, routes, length, cost, work, load, ee, ls, starts, sec, met, win_ptr, win_s,
                    win_e, service, demand, sla_deadline, sla_ppm, veh_tech, v_start_pt, v_end_pt,
                    v_shift_s, v_shift_e, v_maxwork, v_cap, v_cph, brk_ptr, brk_dur, brk_early,
                    brk_late, w_sec, w_met, fast, incumbent, reassign,
                )  # fmt: skip
                ruined += 1
        # -- recreate: the removed jobs and a sample of left-out ones, in one of four orders
        size_pool = removed
        left_count = 0
        for j in range(n_jobs):
            if where[j] < 0 and eligible[j] and saved_where[j] < 0:
                left_count += 1
        if left_count > 0:
            chance = min(1.0, retries / left_count)
            for j in range(n_jobs):
                if (
                    where[j] < 0
                    and eligible[j]
                    and saved_where[j] < 0
                    and j != target
                    and np.random.random() < chance
                ):
                    pool[size_pool] = j
                    size_pool += 1
        # After a swap, priority order, so the swapped-in job goes before its victims.
        draw = 5.0 if swapped else np.random.random() * 11.0
        keys = np.empty(size_pool, dtype=np.float64)
        for k in range(size_pool):
            j = pool[k]
            if draw < 4.0:
                keys[k] = np.random.random()
            elif draw < 8.0:
                keys[k] = -drop[j]
            elif draw < 10.0:
                keys[k] = -home[j]
            else:
                keys[k] = home[j]
        order = np.argsort(keys)
        for k in range(size_pool):
            j = pool[order[k]]
            count = 0
            busiest_now = 0
            if w_balance > 0:
                for v in range(n_veh):
                    if length[v] > 0 and work[v] > busiest_now:
                        busiest_now = work[v]
            for v in range(n_veh):
                if not allowed[j, v] or length[v] + 1 > cap:
                    continue
                tech = veh_tech[v]
                srv = service[j, tech]
                if load[v] + demand[j] > v_cap[v] or work[v] + srv > v_maxwork[v]:
                    continue
                if has_quota:
                    q = q_of[j, v_day[v]]
                    if q >= 0 and (
                        q_used[q] + q_draw[j] > q_sec[q]
                        or (q_perday[q, v_day[v]] == 0 and q_dayused[q] >= q_days[q])
                    ):
                        continue
                size = length[v]
                # Inserting must not push a pinned stop beyond its position; a job with a
                # pinned position of its own goes only there.
                first = 0
                for m in range(size):
                    if pin[routes[v, m]] >= 0 and m + 1 > pin[routes[v, m]]:
                        first = m + 1
                low, high = first, size
                if pin[j] >= 0:
                    if pin[j] < first or pin[j] > size:
                        continue
                    low, high = pin[j], pin[j]
                last_window = win_e[win_ptr[j + 1] - 1]
                for p in range(low, high + 1):
                    before = v_start_pt[v] if p == 0 else routes[v, p - 1]
                    after = v_end_pt[v] if p == size else routes[v, p]
                    leave = v_shift_s[v] if p == 0 else ee[v, p - 1]
                    ready = leave + sec[before, j]
                    if ready > last_window:
                        break
                    begin = _earliest_start(j, ready, win_ptr, win_s, win_e)
                    deadline = v_shift_e[v] if p == size else ls[v, p]
                    if begin + srv + sec[j, after] > deadline:
                        continue
                    added = sec[before, j] + sec[j, after] - sec[before, after]
                    if work[v] + srv + added > v_maxwork[v]:
                        continue
                    if blink > 0.0 and np.random.random() < blink:
                        continue
                    extra = met[before, j] + met[j, after] - met[before, after]
                    cand_cost[count] = w_sec * added + w_met * extra
                    if incumbent[j] >= 0 and incumbent[j] != tech:
                        cand_cost[count] += reassign[j]
                    if w_balance > 0:
                        # Growing the busiest route raises the balance term too.
                        cand_cost[count] += w_balance * max(0, work[v] + srv + added - busiest_now)
                    cand_v[count] = v
                    cand_p[count] = p
                    count += 1
            if count == 0:
                continue
            ranked = np.argsort(cand_cost[:count])
            for r in range(count):
                v = cand_v[ranked[r]]
                p = cand_p[ranked[r]]
                size = length[v]
                for m in range(p):
                    buffer[m] = routes[v, m]
                buffer[p] = j
                for m in range(p, size):
                    buffer[m + 1] = routes[v, m]
                if not fast[v]:
                    ok, _, _, _ = route_cost(
                        v, buffer, size + 1, sec, met, win_ptr, win_s, win_e, service, demand,
                        sla_deadline, sla_ppm, veh_tech, v_start_pt, v_end_pt, v_shift_s,
                        v_shift_e, v_maxwork, v_cap, v_cph, brk_ptr, brk_dur, brk_early,
                        brk_late, w_sec, w_met, starts,
                    )  # fmt: skip
                    if not ok:
                        continue
                touched[v] = True
                for m in range(size + 1):
                    routes[v, m] = buffer[m]
                length[v] = size + 1
                where[j] = v
                if has_quota:
                    _draw(j, v_day[v], 1, q_of, q_draw, q_used, q_perday, q_dayused)
                _refresh(
                    v, routes, length, cost, work, load, ee, ls, starts, sec, met, win_ptr, win_s,
                    win_e, service, demand, sla_deadline, sla_ppm, veh_tech, v_start_pt, v_end_pt,
                    v_shift_s, v_shift_e, v_maxwork, v_cap, v_cph, brk_ptr, brk_dur, brk_early,
                    brk_late, w_sec, w_met, fast, incumbent, reassign,
                )  # fmt: skip
                break
        # -- accept or roll back
        candidate = 0.0
        busiest = 0
        for v in range(n_veh):
            candidate += cost[v]
            if length[v] > 0 and work[v] > busiest:
                busiest = work[v]
        candidate += w_balance * busiest
        for j in range(n_jobs):
            if where[j] < 0 and eligible[j]:
                candidate += drop[j]
        threshold = -temperature * np.log(max(np.random.random(), 1e-12))
        if candidate < current + threshold:
            current = candidate
            _copy_touched(
                touched, routes, length, cost, work, load,
                saved_routes, saved_length, saved_cost, saved_work, saved_load,
            )  # fmt: skip
            for j in range(n_jobs):
                saved_where[j] = where[j]
            if candidate < best[0] - 1e-9:
                best[0] = candidate
                for v in range(n_veh):
                    best_length[v] = length[v]
                    for m in range(length[v]):
                        best_routes[v, m] = routes[v, m]
        else:
            _copy_touched(
                touched, saved_routes, saved_length, saved_cost, saved_work, saved_load,
                routes, length, cost, work, load,
            )  # fmt: skip
            for v in range(n_veh):
                if touched[v]:
                    bounds(
                        v, routes[v], length[v], ee[v], ls[v], sec, win_ptr, win_s, win_e,
                        service, veh_tech, v_start_pt, v_end_pt, v_shift_s, v_shift_e,
                    )  # fmt: skip
            for j in range(n_jobs):
                where[j] = saved_where[j]
            if has_quota:
                _recount(where, v_day, q_of, q_draw, q_open, q_used, q_perday, q_dayused)
        for v in range(n_veh):
            touched[v] = False
    best[1] = current


@njit(cache=True)
def _draw(j, day, sign, q_of, q_draw, q_used, q_perday, q_dayused):  # type: ignore[no-untyped-def]
    """Job j served (sign 1) or no longer served (-1) on ``day``: update its budget's use."""
    q = q_of[j, day]
    if q < 0:
        return
    if sign > 0 and q_perday[q, day] == 0:
        q_dayused[q] += 1
    q_perday[q, day] += sign
    if sign < 0 and q_perday[q, day] == 0:
        q_dayused[q] -= 1
    q_used[q] += sign * q_draw[j]


@njit(cache=True)
def _recount(where, v_day, q_of, q_draw, q_open, q_used, q_perday, q_dayused):  # type: ignore[no-untyped-def]
    """Budget use from scratch (after a rolled-back round). Open days start at one visit, so
    they never count as a new day."""
    q_used[:] = 0
    q_perday[:, :] = q_open
    q_dayused[:] = 0
    for j in range(where.shape[0]):
        if where[j] >= 0:
            _draw(j, v_day[where[j]], 1, q_of, q_draw, q_used, q_perday, q_dayused)


@njit(cache=True)
def _copy_touched(  # type: ignore[no-untyped-def]
    touched, routes, length, cost, work, load, to_routes, to_length, to_cost, to_work, to_load
):
    """Copy the routes marked touched, with their figures, from one state to the other."""
    for v in range(touched.shape[0]):
        if touched[v]:
            for m in range(length[v]):
                to_routes[v, m] = routes[v, m]
            to_length[v] = length[v]
            to_cost[v] = cost[v]
            to_work[v] = work[v]
            to_load[v] = load[v]


@njit(cache=True)
def _refresh(  # type: ignore[no-untyped-def]
    v, routes, length, cost, work, load, ee, ls, starts, sec, met, win_ptr, win_s, win_e,
    service, demand, sla_deadline, sla_ppm, veh_tech, v_start_pt, v_end_pt, v_shift_s,
    v_shift_e, v_maxwork, v_cap, v_cph, brk_ptr, brk_dur, brk_early, brk_late, w_sec, w_met,
    fast, incumbent, reassign,
):  # fmt: skip
    """Recompute the cost, work, load and bounds of route v after a change. Jobs served by
    another technician than their incumbent cost their ``reassign`` price."""
    size = length[v]
    if fast[v]:
        tech = veh_tech[v]
        prev = v_start_pt[v]
        travel = 0
        metres = 0
        w = 0
        ld = 0
        for k in range(size):
            j = routes[v, k]
            travel += sec[prev, j]
            metres += met[prev, j]
            w += service[j, tech]
            ld += demand[j]
            prev = j
        travel += sec[prev, v_end_pt[v]]
        metres += met[prev, v_end_pt[v]]
        cost[v] = w_sec * travel + w_met * metres
        work[v] = w + travel
        load[v] = ld
    else:
        _, c, w, ld = route_cost(
            v, routes[v], size, sec, met, win_ptr, win_s, win_e, service, demand, sla_deadline,
            sla_ppm, veh_tech, v_start_pt, v_end_pt, v_shift_s, v_shift_e, v_maxwork, v_cap,
            v_cph, brk_ptr, brk_dur, brk_early, brk_late, w_sec, w_met, starts,
        )  # fmt: skip
        cost[v] = c
        work[v] = w
        load[v] = ld
    for k in range(size):
        j = routes[v, k]
        if incumbent[j] >= 0 and incumbent[j] != veh_tech[v]:
            cost[v] += reassign[j]
    bounds(
        v, routes[v], size, ee[v], ls[v], sec, win_ptr, win_s, win_e, service, veh_tech,
        v_start_pt, v_end_pt, v_shift_s, v_shift_e,
    )  # fmt: skip
