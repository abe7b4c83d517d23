"""Re-planning the rest of a day when things change (an urgent visit, a technician off sick, a
visit overrunning, finishing early or cancelled): routes restart from where technicians are
now; visits under way stay first; visits about to start are frozen; visits whose customer
already has an ETA keep their technician unless moving them gains more than a price."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import adapter, db, events, planning
from dispatch.horizon import Horizon
from dispatch.models import (
    CalendarException,
    EventTopic,
    OutboxEvent,
    Region,
    ServiceRequest,
    Site,
    Technician,
    TechnicianPosition,
    Visit,
    VisitStatus,
)
from schedules.errors import InvalidError
from schedules.periods import local_day

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
    started, read_at = time.perf_counter(), datetime.now(UTC)
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
        read_at=read_at,
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
    events.emit(
        session,
        EventTopic.technician_unavailable,
        "technician",
        technician.id,  # type: ignore[arg-type]
        {
            "technician": technician.code,
            "region_id": technician.region_id,
            "since": since.astimezone(UTC).isoformat(),
            "until": until.astimezone(UTC).isoformat(),
            "kind": kind,
        },
        at=since,
    )
    session.flush()


# Re-plans follow these events when they touch today's routes of a region.
TRIGGERS = (
    EventTopic.visit_escalated,
    EventTopic.visit_cancelled,
    EventTopic.technician_unavailable,
    EventTopic.visit_completed,
    EventTopic.visit_late,
)
URGENT = ("high", "emergency")
# A visit finishing this much earlier or later than estimated frees or eats enough of the
# day to re-plan the rest.
DEVIATION_MINUTES = 15


def triggers(session: Session, after: int, now: datetime) -> tuple[dict[int, list[str]], int]:
    """Regions whose day changed since outbox event ``after``, with why; and the last event
    id read (the next call's ``after``). Re-plans emit none of these topics, so they never
    trigger themselves."""
    found: dict[int, list[str]] = {}
    last = after
    rows = session.exec(
        select(OutboxEvent)
        .where(OutboxEvent.id > after, col(OutboxEvent.topic).in_(TRIGGERS))
        .order_by(OutboxEvent.id)
    )
    for event in rows:
        last = max(last, event.id or 0)
        reason = _reason(session, event, now)
        if reason is not None:
            region_id, why = reason
            found.setdefault(region_id, []).append(why)
    return found, last


def _reason(session: Session, event: OutboxEvent, now: datetime) -> tuple[int, str] | None:
    payload = event.payload
    if event.topic is EventTopic.technician_unavailable:
        region = session.get(Region, payload["region_id"])
        if region is None or payload["since"] > _day_end(region, now).isoformat():
            return None
        return region.id, f"{payload['technician']} unavailable"  # type: ignore[return-value]
    visit = session.get(Visit, event.subject_id)
    if visit is None:
        return None
    region = session.exec(
        select(Region)
        .join(Site, Site.region_id == Region.id)
        .join(ServiceRequest, ServiceRequest.site_id == Site.id)
        .where(ServiceRequest.id == visit.request_id)
    ).one()
    today = local_day(now, region.timezone)
    if event.topic is EventTopic.visit_escalated:
        urgent = payload.get("urgency") in URGENT and visit.earliest_date <= today
        return (region.id, f"urgent visit {visit.code}") if urgent else None  # type: ignore[return-value]
    if event.topic is EventTopic.visit_completed:
        deviation = abs(payload.get("overrun_minutes", 0))
        if deviation < DEVIATION_MINUTES:
            return None
        return region.id, f"{visit.code} off its estimate by {deviation} min"  # type: ignore[return-value]
    planned_today = (
        visit.planned_start is not None and local_day(visit.planned_start, region.timezone) == today
    )
    if not planned_today:
        return None
    what = "cancelled" if event.topic is EventTopic.visit_cancelled else "late"
    return region.id, f"{visit.code} {what}"  # type: ignore[return-value]


def _day_end(region: Region, now: datetime) -> datetime:
    return Horizon.of(local_day(now, region.timezone), 1, region.timezone).end()


def watch(
    engine: sa.Engine,
    *,
    interval: float,
    params: routing.SolveParams,
    regions: set[int] | None = None,
    rounds: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_replan: Callable[[Region, list[str], planning.Planned], None] | None = None,
) -> int:
    """Re-plan and publish today's routes of each region (or of ``regions``) whenever events
    change them, checking every ``interval`` seconds; for ``rounds`` checks or until
    interrupted. Events already in the outbox at start are history, not triggers. Returns the
    number of re-plans."""
    with db.transaction(engine) as session:
        cursor = session.exec(select(sa.func.max(OutboxEvent.id))).one() or 0
    done = checks = 0
    while rounds is None or checks < rounds:
        if checks:
            time.sleep(interval)
        checks += 1
        now = clock()
        with db.transaction(engine) as session:
            found, cursor = triggers(session, cursor, now)
        for region_id, reasons in sorted(found.items()):
            if regions is not None and region_id not in regions:
                continue
            # One transaction per region: a failed re-plan leaves that region's plan and
            # the others' re-plans stand.
            with db.transaction(engine) as session:
                region = session.get_one(Region, region_id)
                planned = replan_day(
                    session, region, local_day(now, region.timezone), now, params=params
                )
            done += 1
            if on_replan is not None:
                on_replan(region, reasons, planned)
    return done
