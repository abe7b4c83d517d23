"""Customers' arrival windows: P10..P90 of a technician's arrival, from how far actual visit
durations (per skill) and travel have strayed from plan in the past. Wide the day before
(every earlier stop can run over), narrow once the technician is on the way (one leg left);
recomputed as technicians report, with an event when it moves or is overrun."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

import routing
from dispatch import events
from dispatch.adapter import visit_skills
from dispatch.models import (
    EventTopic,
    PlanStop,
    Region,
    ServiceRequest,
    Site,
    Technician,
    TechnicianPosition,
    TimeEntry,
    TimeEntryKind,
    Visit,
    VisitStatus,
)
from schedules.periods import local_day

# z of the 10th and 90th percentiles of a normal distribution.
Z90 = 1.2816
# Before there is history: visits run 5% over on average with a 25% spread, travel 10% over
# with a 30% spread (a city's traffic), which gives about +-40 min after four stops.
DEFAULT_DURATION = (0.05, 0.25)
DEFAULT_TRAVEL = (0.10, 0.30)
# Fewer samples than this and the default stands: a handful of visits is noise.
MIN_SAMPLES = 20
# Never promise a window narrower than this: clocks, parking and doors.
MIN_HALF_WIDTH = timedelta(minutes=10)
# Moves smaller than this are not worth a message to the customer.
NOTIFY_CHANGE = timedelta(minutes=10)
LIVE = (VisitStatus.scheduled, VisitStatus.dispatched, VisitStatus.en_route)
# A position older than this says little about where a driving technician is now.
POSITION_FRESH = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Spread:
    """Relative error of actual against planned: mean and standard deviation."""

    mean: float
    sd: float
    samples: int = 0


@dataclass
class Variance:
    """Measured spreads: visit duration per skill (main skill code, "" for none), travel."""

    duration: dict[str, Spread] = field(default_factory=dict)
    travel: Spread = field(default_factory=lambda: Spread(*DEFAULT_TRAVEL))

    def of_duration(self, skill: str) -> Spread:
        return self.duration.get(skill) or self.duration.get("") or Spread(*DEFAULT_DURATION)


def _spread(errors: list[float], default: tuple[float, float]) -> Spread:
    if len(errors) < MIN_SAMPLES:
        return Spread(*default, samples=len(errors))
    return Spread(statistics.fmean(errors), statistics.pstdev(errors), len(errors))


def measure(session: Session, since: datetime) -> Variance:
    """Spreads from visits completed since ``since``: actual on-site time against the
    estimate, per main skill, and reported travel against the published plan's legs."""
    done = list(
        session.exec(
            select(Visit).where(
                Visit.status == VisitStatus.completed,
                col(Visit.actual_end).is_not(None),
                Visit.actual_end >= since,  # type: ignore[operator]
            )
        )
    )
    main_skill = _main_skills(session, [v.id for v in done])  # type: ignore[misc]
    by_skill: dict[str, list[float]] = defaultdict(list)
    for visit in done:
        if visit.actual_start is None:
            continue
        actual = (visit.actual_end - visit.actual_start).total_seconds() / 60  # type: ignore[operator]
        error = actual / visit.duration_minutes - 1
        skill = main_skill.get(visit.id, "")  # type: ignore[arg-type]
        by_skill[""].append(error)  # "" pools every visit: the fallback for rare skills
        if skill:
            by_skill[skill].append(error)
    planned_legs = {
        visit_id: seconds
        for visit_id, seconds in session.exec(
            select(PlanStop.visit_id, PlanStop.travel_seconds).where(
                col(PlanStop.visit_id).in_([v.id for v in done])
            )
        )
        if seconds > 0
    }
    travel: list[float] = []
    for entry in session.exec(
        select(TimeEntry).where(
            TimeEntry.kind == TimeEntryKind.travel,
            col(TimeEntry.visit_id).in_(list(planned_legs)),
        )
    ):
        actual = (entry.ended_at - entry.started_at).total_seconds()
        travel.append(actual / planned_legs[entry.visit_id] - 1)  # type: ignore[index]
    return Variance(
        duration={k: _spread(v, DEFAULT_DURATION) for k, v in by_skill.items()},
        travel=_spread(travel, DEFAULT_TRAVEL),
    )


@dataclass(frozen=True, slots=True)
class Leg:
    """What lies between now (or the route's start) and the visit: a planned span that can
    run over, with its spread."""

    seconds: float
    spread: Spread


def window(expected: datetime, legs: list[Leg]) -> tuple[datetime, datetime]:
    """P10..P90 of the arrival planned at ``expected`` after ``legs``, the errors taken as
    independent and normal (their sum is, near enough, for a few stops)."""
    mean = sum(leg.seconds * leg.spread.mean for leg in legs)
    sd = math.sqrt(sum((leg.seconds * leg.spread.sd) ** 2 for leg in legs))
    low = timedelta(seconds=mean - Z90 * sd)
    high = timedelta(seconds=mean + Z90 * sd)
    centre = expected + (low + high) / 2
    half = max(MIN_HALF_WIDTH, (high - low) / 2)
    return centre - half, centre + half


def route_windows(
    session: Session,
    route: list[Visit],
    variance: Variance,
    now: datetime,
    skills: dict[int, str] | None = None,
    driving: dict[int, float] | None = None,
) -> dict[int, tuple[datetime, datetime]]:
    """Windows for a technician's route of a day (visits in order). Uncertainty builds up
    from the first stop not yet finished; a visit the technician is driving to has only its
    own leg left: ``driving`` seconds from the last reported position when known."""
    driving = driving or {}
    skills = skills if skills is not None else _main_skills(session, [v.id for v in route])
    legs = _planned_legs(session, [v.id for v in route])
    found: dict[int, tuple[datetime, datetime]] = {}
    ahead: list[Leg] = []
    for visit in route:
        leg = Leg(legs.get(visit.id, 0), variance.travel)
        if visit.status is VisitStatus.on_site:
            started = visit.actual_start or now
            left = max(
                0.0, (started + timedelta(minutes=visit.duration_minutes) - now).total_seconds()
            )
            ahead = [Leg(left, variance.of_duration(skills.get(visit.id, "")))]  # type: ignore[arg-type]
            continue
        if visit.status is VisitStatus.en_route:
            ahead = [Leg(driving[visit.id], variance.travel)] if visit.id in driving else [leg]
        else:
            ahead.append(leg)
        if visit.planned_start is not None and visit.status in LIVE:
            expected = visit.planned_start
            if visit.status is VisitStatus.en_route:
                expected = (
                    now + timedelta(seconds=driving[visit.id])
                    if visit.id in driving
                    else max(visit.planned_start, now)
                )
            found[visit.id] = window(expected, ahead)  # type: ignore[index]
        ahead.append(
            Leg(visit.duration_minutes * 60, variance.of_duration(skills.get(visit.id, "")))
        )  # type: ignore[arg-type]
    return found


def refresh(
    session: Session,
    technician_id: int,
    now: datetime,
    variance: Variance | None = None,
    timezone: str | None = None,
) -> list[Visit]:
    """Recompute the windows of the technician's visits planned from today on; store them,
    and tell customers (``visit.eta_changed``) when one moves by more than NOTIFY_CHANGE.
    Returns the visits whose window changed."""
    variance = variance or measure(session, now - timedelta(days=90))
    visits = list(
        session.exec(
            select(Visit)
            .where(
                Visit.technician_id == technician_id,
                col(Visit.status).in_((*LIVE, VisitStatus.on_site)),
                col(Visit.planned_start).is_not(None),
            )
            .order_by(Visit.planned_start)
        )
    )
    if timezone is None:
        timezone = session.exec(
            select(Region.timezone)
            .join(Technician, Technician.region_id == Region.id)
            .where(Technician.id == technician_id)
        ).one()
    changed = []
    for day_route in _by_day(visits, timezone):
        driving = _driving(session, technician_id, day_route, now)
        for visit_id, (earliest, latest) in route_windows(
            session, day_route, variance, now, driving=driving
        ).items():
            visit = next(v for v in day_route if v.id == visit_id)
            moved = visit.eta_earliest is None or (
                abs(visit.eta_earliest - earliest) >= NOTIFY_CHANGE
                or abs(visit.eta_latest - latest) >= NOTIFY_CHANGE  # type: ignore[operator]
            )
            if visit.eta_earliest is not None and not moved:
                continue
            visit.eta_earliest, visit.eta_latest, visit.eta_updated_at = earliest, latest, now
            changed.append(visit)
            events.emit(
                session,
                EventTopic.visit_eta_changed,
                "visit",
                visit.id,  # type: ignore[arg-type]
                {
                    "visit": visit.code,
                    "eta_earliest": earliest.isoformat(),
                    "eta_latest": latest.isoformat(),
                    "status": visit.status.value,
                },
                at=now,
            )
    session.flush()
    return changed


def overdue(session: Session, now: datetime) -> list[Visit]:
    """Visits whose window closed with the technician not there yet: ``visit.late`` for each,
    and a new window from now so that the customer is told when to expect them instead."""
    late = list(
        session.exec(
            select(Visit).where(
                col(Visit.status).in_(LIVE),
                col(Visit.eta_latest).is_not(None),
                Visit.eta_latest < now,  # type: ignore[operator]
            )
        )
    )
    for visit in late:
        events.emit(
            session,
            EventTopic.visit_late,
            "visit",
            visit.id,  # type: ignore[arg-type]
            {
                "visit": visit.code,
                "eta_latest": visit.eta_latest.isoformat(),  # type: ignore[union-attr]
                "minutes_late": int((now - visit.eta_latest).total_seconds() // 60),  # type: ignore[operator]
            },
            at=now,
        )
        # The plan said earlier; the technician is behind: expect them from now on.
        shift = now - visit.eta_latest + MIN_HALF_WIDTH  # type: ignore[operator]
        visit.planned_start = visit.planned_start + shift  # type: ignore[operator]
        visit.planned_end = visit.planned_end + shift  # type: ignore[operator]
    for technician_id in sorted({v.technician_id for v in late}):
        refresh(session, technician_id, now)  # type: ignore[arg-type]
    return late


def _driving(
    session: Session, technician_id: int, route: list[Visit], now: datetime
) -> dict[int, float]:
    """Seconds left to drive to the visit the technician is on the way to, from their last
    position reported within POSITION_FRESH, at their region's speed."""
    heading = [v for v in route if v.status is VisitStatus.en_route]
    where = session.get(TechnicianPosition, technician_id)
    if not heading or where is None or now - where.reported_at > POSITION_FRESH:
        return {}
    visit = heading[0]
    site, region = session.exec(
        select(Site, Region)
        .join(ServiceRequest, ServiceRequest.site_id == Site.id)
        .join(Region, Region.id == Site.region_id)
        .where(ServiceRequest.id == visit.request_id)
    ).one()
    travel = routing.GreatCircle(region.avg_speed_kmh, region.detour_factor)
    seconds = travel.matrices(
        [routing.Location(where.lat, where.lon), routing.Location(site.lat, site.lon)]
    ).seconds
    return {visit.id: float(seconds[0, 1])}  # type: ignore[dict-item]


def _by_day(visits: list[Visit], timezone: str) -> list[list[Visit]]:
    """Routes by local day (a UTC date would split a Vladivostok morning in two)."""
    days: dict[object, list[Visit]] = defaultdict(list)
    for visit in visits:
        days[local_day(visit.planned_start, timezone)].append(visit)  # type: ignore[arg-type]
    return list(days.values())


def _planned_legs(session: Session, visit_ids: list[int]) -> dict[int, float]:
    """The travel into each visit in its latest plan."""
    legs: dict[int, float] = {}
    for visit_id, seconds in session.exec(
        select(PlanStop.visit_id, PlanStop.travel_seconds)
        .where(col(PlanStop.visit_id).in_(visit_ids))
        .order_by(PlanStop.plan_id)
    ):
        legs[visit_id] = seconds
    return legs


def _main_skills(session: Session, visit_ids: list[int]) -> dict[int, str]:
    """Visit id -> its main skill: the one needed at the highest level."""
    return {
        visit_id: max(needs, key=needs.__getitem__)
        for visit_id, needs in visit_skills(session, visit_ids).items()
    }
