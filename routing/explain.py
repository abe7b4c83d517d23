"""Why each left-out job is out: a reason found by testing the job against every technician
shift and every route, never guessed, and a sentence a dispatcher can act on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routing.insertion import insertions
from routing.prepare import DAY, Prepared, Vehicle
from routing.quota import QuotaUse
from routing.schedule import Timing, schedule
from routing.solution import Reason, Unassigned

MAX_NAMED = 5


def clock(seconds: int) -> str:
    """'day 1 09:30' for a time in seconds from the start of day 0."""
    day, rest = divmod(seconds, DAY)
    return f"day {day} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def explain(
    prep: Prepared,
    routes: Sequence[Sequence[int]],
    timings: Sequence[Timing | None],
    left_out: Sequence[int],
    *,
    repaired: bool = False,
) -> list[Unassigned]:
    """Reasons for ``left_out``. With ``repaired`` the caller vouches that none of them fits
    any route (repair tried every job), which spares testing that again."""
    return [_explain(prep, routes, timings, j, repaired) for j in left_out]


def _explain(
    prep: Prepared,
    routes: Sequence[Sequence[int]],
    timings: Sequence[Timing | None],
    j: int,
    repaired: bool,
) -> Unassigned:
    job = prep.jobs[j]
    if prep.unreachable(j):
        return Unassigned(
            job.id, Reason.invalid_location, "No route leads to or from its location."
        )
    static, day = prep.masks(j)
    eligible = [prep.vehicles[v] for v in prep.allowed[j]]
    if not eligible:
        return _nobody(prep, j, static, day)
    if not prep.windows(j):
        return Unassigned(
            job.id,
            Reason.time_window_unreachable,
            "Its time windows all close before its latest allowed arrival.",
        )
    fitting = []
    for v in eligible:  # a few vehicles that could take it on an empty day are enough to name
        if isinstance(schedule(prep, v, [j]), Timing):
            fitting.append(v)
            if len(fitting) == MAX_NAMED:
                break
    if not fitting:
        return _never_fits(prep, j, eligible)
    quota = QuotaUse(prep, routes) if prep.quota.active else None
    if quota is not None:
        short = [quota.shortfall(j, v.day) for v in eligible]
        if all(short):
            return _over_budget(prep, j, eligible, short, quota)  # type: ignore[arg-type]
    pin = prep.pin(j)
    if pin and all(len(routes[v.index]) < pin for v in eligible):
        return Unassigned(
            job.id,
            Reason.pinned_position_unreachable,
            f"It is pinned to position {pin + 1} of its route, but no route that could take "
            f"it has {pin} other visits to come first.",
        )
    place = None if repaired else next(insertions(prep, routes, timings, j, None, quota), None)
    if place is not None:
        vehicle = prep.vehicles[place.vehicle]
        return Unassigned(
            job.id,
            Reason.not_placed,
            f"It fits the route of {vehicle.tech.id} on day {vehicle.day}, "
            "but the planner did not place it.",
        )
    return _displaced(prep, routes, timings, j, fitting)


def _over_budget(
    prep: Prepared,
    j: int,
    eligible: list[Vehicle],
    short: list[tuple[str, int, int]],
    quota: QuotaUse,
) -> Unassigned:
    """Every day it could be served on, its budget is spent: say which and by how much."""
    job = prep.jobs[j]
    budget = quota.table.ids[quota.budget(j, eligible[0].day)]
    kind, needed, remaining = next((s for s in short if s[0] == "seconds"), short[0])
    if kind == "seconds":
        return Unassigned(
            job.id,
            Reason.quota_exhausted,
            f"It needs {needed // 60} min of quota {budget}; {max(0, remaining) // 60} min "
            "remain after the visits planned with higher priority.",
            figures={"needed_seconds": needed, "remaining_seconds": remaining},
        )
    return Unassigned(
        job.id,
        Reason.quota_exhausted,
        f"It needs another on-site day of quota {budget}; its days are all used by the "
        "visits planned with higher priority.",
        figures={"needed_days": needed, "remaining_days": remaining},
    )


def _nobody(prep: Prepared, j: int, static: np.ndarray, day: np.ndarray) -> Unassigned:
    job = prep.jobs[j]
    # Qualified technicians without a shift in the horizon have no vehicle at all.
    on_other_days = sorted(
        {prep.vehicles[v].tech.id for v in np.flatnonzero(static & ~day)} | set(prep.qualified(j))
    )
    if on_other_days:
        due = prep.due_day(job)
        days = (
            f"day {job.pinned_day}"
            if job.pinned_day is not None
            else f"days {job.earliest_day}-{due}"
        )
        return Unassigned(
            job.id,
            Reason.no_shift_on_allowed_days,
            f"Technicians who could do it ({_names(on_other_days)}) have no shift on {days}.",
        )
    if _skilled_somewhere(prep, j):
        return Unassigned(
            job.id,
            Reason.no_skilled_technician,
            "No technician it may be given to has the skills: it is restricted to "
            f"{_restriction(job)} and the region or skills do not match.",
        )
    return Unassigned(job.id, Reason.no_skilled_technician, _missing_skills(prep, j))


def _skilled_somewhere(prep: Prepared, j: int) -> bool:
    """Some technician has the skills, so the other rules (region, who may take it) refused."""
    job = prep.jobs[j]
    return any(
        all(t.skills.get(s, 0) >= level for s, level in job.skills.items())
        for t in prep.problem.technicians
    )


def _restriction(job) -> str:  # type: ignore[no-untyped-def]
    if job.started_by or job.pinned_technician:
        return f"technician {job.started_by or job.pinned_technician}"
    if job.allowed_technicians is not None:
        return f"technicians {_names(sorted(job.allowed_technicians))}"
    return "technicians of its region"


def _missing_skills(prep: Prepared, j: int) -> str:
    job = prep.jobs[j]
    if not prep.problem.technicians:
        return "There is no technician to give it to."
    parts = []
    for skill, level in job.skills.items():
        best = max((t.skills.get(skill, 0) for t in prep.problem.technicians), default=0)
        if best < level:
            parts.append(f"{skill} at level {level} (best available: {best or 'none'})")
    if parts:
        return "Nobody has " + "; ".join(parts) + "."
    return (
        "No single technician has all of "
        + ", ".join(f"{s} {lv}" for s, lv in job.skills.items())
        + "."
    )


def _never_fits(prep: Prepared, j: int, eligible: list[Vehicle]) -> Unassigned:
    job = prep.jobs[j]
    if all(
        prep.jobs[j].demand > (v.tech.capacity if v.tech.capacity is not None else job.demand)
        for v in eligible
    ):
        return Unassigned(
            job.id,
            Reason.exceeds_capacity,
            f"It needs a load of {job.demand}, more than any eligible technician carries.",
        )
    if not any(_fits_ignoring_windows(prep, v, j) for v in eligible):
        longest = max(v.shift.end - v.shift.start for v in eligible)
        return Unassigned(
            job.id,
            Reason.exceeds_shift_length,
            f"{prep.service(j, eligible[0]) // 60} min on site plus travel and breaks does not fit "
            f"any eligible shift or working-time limit (longest shift {longest // 60} min).",
        )
    spans = ", ".join(f"{clock(s)}-{clock(e)}" for s, e in prep.windows(j))
    return Unassigned(
        job.id,
        Reason.time_window_unreachable,
        f"No eligible technician can start it within {spans}, even with an empty day.",
    )


def _fits_ignoring_windows(prep: Prepared, v: Vehicle, j: int) -> bool:
    seconds = prep.matrices.seconds
    travel = int(seconds[v.start_point, j]) + int(seconds[j, v.end_point])
    service = prep.service(j, v)
    paused = sum(b.duration for b in v.breaks)
    limit = v.tech.max_work_seconds
    return v.shift.start + travel + service + paused <= v.shift.end and (
        limit is None or travel + service <= limit
    )


def _displaced(
    prep: Prepared,
    routes: Sequence[Sequence[int]],
    timings: Sequence[Timing | None],
    j: int,
    fitting: list[Vehicle],
) -> Unassigned:
    job = prep.jobs[j]
    windows = prep.windows(j)
    holders: dict[int, int] = {}
    for v in fitting:
        timing = timings[v.index]
        if timing is None:
            continue
        for k, other in enumerate(routes[v.index]):
            start, end = timing.starts[k], timing.ends[k]
            if any(start <= w_end and end >= w_start for w_start, w_end in windows):
                holders[other] = prep.jobs[other].priority
        if not holders:  # full for lack of working time or capacity, not of clock time
            for other in routes[v.index]:
                holders[other] = prep.jobs[other].priority
    named = sorted(holders, key=lambda o: (-holders[o], prep.jobs[o].id))[:MAX_NAMED]
    names = ", ".join(f"{prep.jobs[o].id} (priority {holders[o]})" for o in named)
    techs = _names(sorted({v.tech.id for v in fitting}))
    return Unassigned(
        job.id,
        Reason.displaced_by_higher_priority,
        f"It would fit an empty day of {techs}, but their routes have no room left in its "
        f"windows; the time is held by {names or 'other visits'} (its priority: {job.priority}).",
        displaced_by=tuple(prep.jobs[o].id for o in named),
    )


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")
