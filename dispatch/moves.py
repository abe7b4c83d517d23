"""A dispatcher's hand on the plan: assign or move a visit to a technician (and position),
unassign it, pin and unpin it, lock a technician's route. Every change is checked against
the rules the optimiser keeps (skills, windows, shift, breaks, working time, quotas) by timing
the changed route, and refused with the rule and the numbers when it breaks one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from dispatch import adapter, events, ledger
from dispatch.horizon import Horizon
from dispatch.models import (
    EventTopic,
    Region,
    RouteLock,
    ServiceRequest,
    Site,
    Technician,
    Visit,
    VisitStatus,
)
from routing.explain import clock
from routing.insertion import insertions
from routing.prepare import Prepared
from routing.quota import QuotaUse
from routing.schedule import Refusal, Timing, schedule
from schedules.errors import ConflictError, InvalidError, NotFoundError
from schedules.periods import local_day

MOVABLE = (VisitStatus.unscheduled, VisitStatus.scheduled, VisitStatus.dispatched)
REFUSALS = {
    "skill": "the technician lacks a skill level the visit needs",
    "technician": "the visit is pinned to or restricted from this technician",
    "day": "the visit may not be done on that day",
    "region": "the visit is outside the technician's region",
}
TIMING = {
    "window": "its time windows cannot be met",
    "shift_end": "the route would end after the shift",
    "max_work": "the technician's working time would exceed the maximum",
    "capacity": "the load would exceed the technician's capacity",
    "break": "the break could not be placed",
}


@dataclass(frozen=True, slots=True)
class Moved:
    visit: Visit
    # The technician's route on the day after the change, in order, with new times.
    route: list[Visit]


def _region_of(session: Session, visit: Visit) -> Region:
    site_region = session.exec(
        select(Site.region_id)
        .join(ServiceRequest, ServiceRequest.site_id == Site.id)
        .where(ServiceRequest.id == visit.request_id)
    ).one()
    return session.get_one(Region, site_region)


def _route(session: Session, technician: Technician, day: date, region: Region) -> list[Visit]:
    """The technician's planned visits on local ``day``, in planned order."""
    horizon = Horizon.of(day, 1, region.timezone)
    visits = session.exec(
        select(Visit)
        .where(Visit.technician_id == technician.id, col(Visit.status).in_(MOVABLE))
        .order_by(Visit.planned_start, Visit.code)
    )
    return [
        v
        for v in visits
        if v.planned_start is not None and horizon.origin <= v.planned_start < horizon.end()
    ]


def _locked(session: Session, technician: Technician, day: date) -> bool:
    return session.get(RouteLock, (technician.id, day)) is not None


def _movable(visit: Visit) -> None:
    if visit.status not in MOVABLE:
        raise ConflictError(
            f"visit {visit.code} is {visit.status.value}; only visits not yet under way move",
            field="status",
            value=visit.status.value,
        )


def assign(
    session: Session,
    visit: Visit,
    technician: Technician,
    day: date,
    *,
    position: int | None = None,
    pin: bool = False,
    now: datetime | None = None,
) -> Moved:
    """Put ``visit`` on ``technician``'s route of local ``day``: at ``position`` (0 = first)
    or, when not given, where it adds the least travel. With ``pin``, later optimisations
    keep it with this technician on this day (and position, when given)."""
    _movable(visit)
    now = now or datetime.now(UTC)
    region = _region_of(session, visit)
    # The route it joins and, when it leaves one, the route it leaves (on its own day).
    touched = [(technician.id, day)]
    if visit.technician_id is not None and visit.planned_start is not None:
        touched.append((visit.technician_id, local_day(visit.planned_start, region.timezone)))
    for who, when in touched:
        tech = session.get_one(Technician, who)
        if _locked(session, tech, when):
            raise ConflictError(
                f"the route of {tech.code} on {when} is locked; unlock it first",
                field="technician",
                value=tech.code,
            )
    if technician.region_id != region.id:
        raise InvalidError(
            f"technician {technician.code} works in another region than visit {visit.code}",
            field="technician",
            value=technician.code,
        )
    day_routes = {
        code: [v for v in _route(session, row, day, region) if v.id != visit.id]
        for code, row in _technicians(session, region).items()
    }
    releasing = [visit.id, *(v.id for route in day_routes.values() for v in route)]
    built = adapter.build(session, region, day, 1, now=now, releasing=releasing)
    if visit.code not in built.visits or any(u.job_id == visit.code for u in built.left_out):
        raise InvalidError(
            f"visit {visit.code} cannot be planned on {day} "
            f"(its days are {visit.earliest_date}..{visit.due_date}, or its windows miss the day)",
            field="day",
            value=day.isoformat(),
        )
    prep = Prepared(built.problem)
    j = prep.job_index[visit.code]
    vehicle = next((v for v in prep.vehicles if v.tech.id == technician.code), None)
    if vehicle is None:
        raise InvalidError(
            f"technician {technician.code} has no shift on {day}",
            field="day",
            value=day.isoformat(),
        )
    refusal = prep.refusal(j, vehicle)
    if refusal is not None:
        raise InvalidError(
            f"visit {visit.code} cannot go to {technician.code}: {REFUSALS[refusal]}",
            field="technician",
            value=technician.code,
        )
    routes: list[list[int]] = [[] for _ in prep.vehicles]
    for v in prep.vehicles:
        routes[v.index] = [prep.job_index[r.code] for r in day_routes.get(v.tech.id, [])]
    route = routes[vehicle.index]
    short = QuotaUse(prep, routes).shortfall(j, vehicle.day)
    if short is not None:
        kind, needed, remaining = short
        unit, scale = ("min", 60) if kind == "seconds" else ("on-site days", 1)
        raise InvalidError(
            f"visit {visit.code} needs {needed // scale} {unit} of its contract's quota; "
            f"{max(0, remaining) // scale} remain",
            field="quota",
            value={"needed": needed // scale, "remaining": remaining // scale, "unit": unit},
        )
    if position is None:
        timings: list[Timing | None] = [None] * len(prep.vehicles)
        timings[vehicle.index] = _time(prep, vehicle, route, visit.code, technician.code)
        best = next(insertions(prep, routes, timings, j), None)
        if best is None:
            _explain_misfit(prep, vehicle, route, j, visit, technician)
        position = best.position  # type: ignore[union-attr]
    if not 0 <= position <= len(route):
        raise InvalidError(
            f"position {position} is outside 0..{len(route)} of {technician.code}'s route",
            field="position",
            value=position,
        )
    new_route = [*route[:position], j, *route[position:]]
    timing = schedule(prep, vehicle, new_route)
    if isinstance(timing, Refusal):
        _explain_misfit(prep, vehicle, new_route, j, visit, technician, timing)
    ordered = [visit if k == j else built.visits[prep.jobs[k].id] for k in new_route]
    horizon = built.horizon
    for k, (row, start, end) in enumerate(zip(ordered, timing.starts, timing.ends, strict=True)):  # type: ignore[union-attr]
        new_start, new_end = horizon.instant(start), horizon.instant(end)
        if (row.technician_id, row.planned_start) != (technician.id, new_start):
            row.technician_id = technician.id
            row.planned_start, row.planned_end = new_start, new_end
            row.status = (
                VisitStatus.scheduled if row.status is VisitStatus.unscheduled else row.status
            )
            row.revision += 1
            events.emit(
                session,
                EventTopic.visit_scheduled,
                "visit",
                row.id,  # type: ignore[arg-type]
                {
                    "visit": row.code,
                    "technician": technician.code,
                    "planned_start": new_start.isoformat(),
                    "planned_end": new_end.isoformat(),
                    "by": "dispatcher",
                    "position": k,
                },
                at=now,
            )
    if pin:
        visit.pinned_technician_id, visit.pinned_date = technician.id, day
        visit.pinned_position = position
    session.flush()
    ledger.record_placed(session, visit, f"visit {visit.code} placed by hand")
    return Moved(visit, ordered)


def _time(prep, vehicle, route, code, tech_code):  # type: ignore[no-untyped-def]
    timing = schedule(prep, vehicle, route)
    if isinstance(timing, Refusal):
        # The route as it stands no longer fits (a shift changed since it was planned).
        raise ConflictError(
            f"{tech_code}'s current route no longer fits the shift "
            f"({TIMING.get(timing.reason, timing.reason)}); re-plan before moving {code}",
            field="technician",
            value=tech_code,
        )
    return timing


def _explain_misfit(prep, vehicle, route, j, visit, technician, timing=None):  # type: ignore[no-untyped-def]
    alone = schedule(prep, vehicle, [j])
    if isinstance(alone, Refusal):
        reason = TIMING.get(alone.reason, alone.reason)
        spans = ", ".join(f"{clock(s)}-{clock(e)}" for s, e in prep.windows(j))
        raise InvalidError(
            f"visit {visit.code} does not fit {technician.code}'s shift even alone: {reason} "
            f"(start windows {spans})",
            field="technician",
            value=technician.code,
        )
    reason = TIMING.get(timing.reason, timing.reason) if timing is not None else "no position fits"
    raise InvalidError(
        f"visit {visit.code} does not fit {technician.code}'s route there: {reason}",
        field="position",
        value=None if timing is None else timing.position,
    )


def _technicians(session: Session, region: Region) -> dict[str, Technician]:
    return {
        t.code: t for t in session.exec(select(Technician).where(Technician.region_id == region.id))
    }


def unassign(session: Session, visit: Visit, *, now: datetime | None = None) -> Visit:
    """Take ``visit`` off its route (and its pin); it waits for the next plan."""
    _movable(visit)
    if visit.technician_id is not None and visit.planned_start is not None:
        region = _region_of(session, visit)
        tech = session.get_one(Technician, visit.technician_id)
        day = local_day(visit.planned_start, region.timezone)
        if _locked(session, tech, day):
            raise ConflictError(
                f"the route of {tech.code} on {day} is locked; unlock it first",
                field="technician",
                value=tech.code,
            )
    ledger.release_planned(session, [visit.id], f"visit {visit.code} unassigned by hand")  # type: ignore[list-item]
    visit.status, visit.technician_id = VisitStatus.unscheduled, None
    visit.planned_start = visit.planned_end = None
    visit.pinned_technician_id = visit.pinned_date = visit.pinned_position = None
    visit.revision += 1
    session.flush()
    return visit


def pin(
    session: Session,
    visit: Visit,
    technician: Technician | None,
    day: date | None,
    position: int | None = None,
) -> Visit:
    """Keep ``visit`` with ``technician`` on ``day`` (and ``position``) in later plans; without
    a technician or a day, those it is planned with now."""
    _movable(visit)
    if technician is None:
        if visit.technician_id is None:
            raise InvalidError(
                f"visit {visit.code} is not assigned; name the technician",
                field="technician",
                value=None,
            )
        technician = session.get_one(Technician, visit.technician_id)
    if day is None:
        if visit.planned_start is None:
            raise InvalidError(
                f"visit {visit.code} is not planned; name the date", field="date", value=None
            )
        day = local_day(visit.planned_start, _region_of(session, visit).timezone)
    if not visit.earliest_date <= day <= visit.due_date:
        raise InvalidError(
            f"day {day} is outside visit {visit.code}'s days "
            f"{visit.earliest_date}..{visit.due_date}",
            field="day",
            value=day.isoformat(),
        )
    if position is not None and position < 0:
        raise InvalidError(f"position {position} is negative", field="position", value=position)
    visit.pinned_technician_id, visit.pinned_date, visit.pinned_position = (
        technician.id,
        day,
        position,
    )
    visit.revision += 1
    session.flush()
    return visit


def unpin(session: Session, visit: Visit) -> Visit:
    visit.pinned_technician_id = visit.pinned_date = visit.pinned_position = None
    visit.revision += 1
    session.flush()
    return visit


def lock_route(
    session: Session,
    technician: Technician,
    day: date,
    *,
    by: int | None = None,
    exist_ok: bool = False,
) -> RouteLock:
    """Later optimisations keep the technician's route of ``day`` exactly as it is. A route
    already locked is refused, or with ``exist_ok`` left locked as it was."""
    existing = session.get(RouteLock, (technician.id, day))
    if existing is not None and exist_ok:
        return existing
    if existing is not None:
        raise ConflictError(
            f"the route of {technician.code} on {day} is already locked",
            field="day",
            value=day.isoformat(),
        )
    lock = RouteLock(technician_id=technician.id, day=day, locked_by=by)  # type: ignore[arg-type]
    session.add(lock)
    session.flush()
    return lock


def unlock_route(session: Session, technician: Technician, day: date) -> None:
    lock = session.get(RouteLock, (technician.id, day))
    if lock is None:
        raise NotFoundError(
            f"the route of {technician.code} on {day} is not locked",
            field="day",
            value=day.isoformat(),
        )
    session.delete(lock)
    session.flush()


def amend(session: Session, visit: Visit, changes: dict[str, object]) -> Visit:
    """Change what a visit needs — its duration, its days, its notes — before it is under way.
    A planned visit keeps its place until the next plan, which sees the new values; a pin
    outside the new days is refused rather than silently dropped."""
    _movable(visit)
    merged = visit.model_dump() | changes
    duration = merged["duration_minutes"]
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= 1440:
        raise InvalidError(
            f"duration_minutes {duration!r} is not in 1..1440",
            field="duration_minutes",
            value=duration,
        )
    earliest, due = merged["earliest_date"], merged["due_date"]
    if not isinstance(earliest, date) or not isinstance(due, date) or due < earliest:
        raise InvalidError(
            f"due_date {due} is before earliest_date {earliest}",
            field="due_date",
            value=str(due),
        )
    pinned = visit.pinned_date
    if pinned is not None and not earliest <= pinned <= due:
        raise ConflictError(
            f"visit {visit.code} is pinned to {pinned}, outside {earliest}..{due}; unpin it first",
            field="earliest_date" if pinned < earliest else "due_date",
            value=str(earliest if pinned < earliest else due),
        )
    for name, value in changes.items():
        setattr(visit, name, value)
    visit.revision += 1
    session.flush()
    return visit
