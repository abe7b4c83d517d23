"""Re-planning the rest of a day when things change (an urgent visit, a technician off sick, a
visit overrunning, finishing early or cancelled): routes restart from where technicians are
now; visits under way stay first; visits about to start are frozen; visits whose customer
already has an ETA keep their technician unless moving them gains more than a price."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

import routing
from dispatch import adapter, planning
from dispatch.models import (
    CalendarException,
    Region,
    ServiceRequest,
    Site,
    Technician,
    TechnicianPosition,
    Visit,
    VisitStatus,
)
from schedules.errors import InvalidError

UNDER_WAY = planning.UNDER_WAY
# Visits starting within this many minutes keep their technician and order: the technician
# may already be packing for them.
FREEZE_MINUTES = 30
# What moving a visit whose customer has an ETA to another technician costs, in objective
# units (seconds of travel): half an hour of driving must be saved to justify it.
STABILITY_COST = 1800
# A visit on site past its planned end is assumed to need at least this much more.
OVERRUN_MINUTES = 15


def replan_day(
    session: Session,
    region: Region,
    day: date,
    now: datetime,
    *,
    params: routing.SolveParams | None = None,
    freeze_minutes: int = FREEZE_MINUTES,
    stability_cost: int = STABILITY_COST,
    travel: routing.MatrixProvider | None = None,
    publish: bool = True,
) -> planning.Planned:
    """A new plan of ``region`` for the rest of local ``day`` as seen at ``now``, stored (and
    by default published) in the caller's transaction."""
    if now.utcoffset() is None:
        raise InvalidError("now must be an aware time", field="now", value=now.isoformat())
    started = time.perf_counter()
    built = live_problem(
        session,
        region,
        day,
        now,
        freeze_minutes=freeze_minutes,
        stability_cost=stability_cost,
        travel=travel,
    )
    solution = planning.solve_built(
        built, params=params or routing.SolveParams(time_limit_seconds=5.0)
    )
    plan = planning.store_plan(
        session,
        region,
        built,
        solution,
        strategy="replan",
        wall_seconds=time.perf_counter() - started,
    )
    if publish:
        planning.publish(session, plan, now=now)
    return planning.Planned(plan, solution, built)


def live_problem(
    session: Session,
    region: Region,
    day: date,
    now: datetime,
    *,
    freeze_minutes: int = FREEZE_MINUTES,
    stability_cost: int = STABILITY_COST,
    travel: routing.MatrixProvider | None = None,
) -> adapter.Built:
    """The day's problem from ``now``: shifts start now at technicians' reported positions,
    breaks already past are taken, visits under way are first stops of their technicians."""
    built = adapter.build(session, region, day, 1, now=now, travel=travel)
    horizon = built.horizon
    clock = horizon.seconds(now)
    positions = {
        p.technician_id: p
        for p in session.exec(
            select(TechnicianPosition).where(
                col(TechnicianPosition.technician_id).in_(
                    [t.id for t in built.technicians.values()]
                ),
                TechnicianPosition.reported_at >= horizon.origin,
            )
        )
    }
    technicians = []
    for tech in built.problem.technicians:
        row = built.technicians[tech.id]
        shifts = []
        for shift in tech.shifts:
            if shift.end <= clock:
                continue  # over: nothing more can be planned on it
            where = positions.get(row.id)
            shifts.append(
                replace(
                    shift,
                    start=max(shift.start, clock),
                    # A break whose window has passed was taken (or skipped) already.
                    breaks=tuple(
                        replace(b, earliest=max(b.earliest, clock))
                        for b in shift.breaks
                        if b.latest >= clock
                    ),
                    start_location=routing.Location(where.lat, where.lon) if where else None,
                )
            )
        technicians.append(replace(tech, shifts=tuple(shifts)))
    codes = {row.id: code for code, row in built.technicians.items()}
    jobs = [
        _settled(job, built, codes, clock, freeze_minutes, stability_cost)
        for job in built.problem.jobs
    ]
    jobs.extend(_under_way(session, region, built, codes, now))
    built.problem = replace(built.problem, jobs=tuple(jobs), technicians=tuple(technicians))
    return built


def _settled(job, built, codes, clock, freeze_minutes, stability_cost):  # type: ignore[no-untyped-def]
    """A planned visit's job: frozen to its technician and order when it starts soon, kept
    with its technician at a price when the customer has been told."""
    visit = built.visits[job.id]
    holder = codes.get(visit.technician_id)
    if holder is None or visit.planned_start is None:
        return job
    start = built.horizon.seconds(visit.planned_start)
    if start < clock + freeze_minutes * 60 and job.pinned_technician is None:
        return replace(job, pinned_technician=holder, pinned_day=0)
    return replace(job, incumbent=holder, reassign_cost=stability_cost)


def _under_way(session, region, built, codes, now):  # type: ignore[no-untyped-def]
    """Visits en route or on site today: fixed first stops, with the time they still need."""
    rows = session.exec(
        select(Visit, Site)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .join(Site, Site.id == ServiceRequest.site_id)
        .where(
            Site.region_id == region.id,
            col(Visit.status).in_(UNDER_WAY),
            col(Visit.technician_id).in_(list(codes)),
        )
    )
    found = []
    for visit, site in rows:
        duration = visit.duration_minutes * 60
        if visit.status is VisitStatus.on_site and visit.actual_start is not None:
            expected_end = visit.actual_start + timedelta(minutes=visit.duration_minutes)
            overrun = timedelta(minutes=OVERRUN_MINUTES)
            duration = int((expected_end - now if expected_end > now else overrun).total_seconds())
        built.visits[visit.code] = visit
        found.append(
            routing.Job(
                id=visit.code,
                location=routing.Location(site.lat, site.lon),
                duration=max(60, duration),
                started_by=codes[visit.technician_id],
                priority=100,
            )
        )
    return found


def technician_unavailable(
    session: Session, technician: Technician, since: datetime, until: datetime, *, kind: str
) -> None:
    """Record that a technician is off (sick, called away) so the next re-plan moves their
    visits: a calendar exception, the way the calendar already speaks of absences."""
    session.add(
        CalendarException(
            technician_id=technician.id,  # type: ignore[arg-type]
            kind=kind,
            starts_at=since.astimezone(UTC),
            ends_at=until.astimezone(UTC),
            note="reported during the day",
        )
    )
    session.flush()
