"""The one translation between rows and the route solver: a region's visits, technicians'
calendars, quotas and SLA clocks become a routing.Problem (integer seconds from the horizon's
first local midnight); a routing.Solution becomes plan stops and unassigned rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

import routing
from dispatch.horizon import Horizon, shifts
from dispatch.models import (
    Contract,
    PlanStop,
    PlanUnassigned,
    Region,
    RouteLock,
    ServiceRequest,
    Site,
    SiteAccessHours,
    Skill,
    Technician,
    TechnicianSkill,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
)
from schedules import service
from schedules.calendars import local_to_utc
from schedules.models import OveragePolicy, Tier
from schedules.periods import local_day, periods_between
from schedules.priority import priority_weight
from schedules.quotas import QuotaStatus, quota_minutes
from schedules.sla import slack_minutes

# Visits the planner may place (or move); later states belong to the day's execution.
PLANNABLE = (VisitStatus.unscheduled, VisitStatus.scheduled, VisitStatus.dispatched)
# Objective cost per minute late on the SLA, by tier (1 cost unit = 1 s of travel): a minute
# late for a platinum customer weighs like two minutes of driving, for bronze like 15 s.
# Ten times more made plans drive 55% further on the demo day (most of its SLAs are already
# breached, so earlier is always better) for no fewer late visits; leaving visits out is
# priced by priority, far above both.
SLA_PENALTY_PER_MINUTE = {
    Tier.platinum: 120,
    Tier.gold: 60,
    Tier.silver: 30,
    Tier.bronze: 15,
}


@dataclass
class Built:
    """The problem and what is needed to read its solution back."""

    problem: routing.Problem
    horizon: Horizon
    visits: dict[str, Visit]
    technicians: dict[str, Technician]
    # Visits the adapter could not give the solver, with their reason and detail.
    left_out: list[routing.Unassigned] = field(default_factory=list)
    quotas: dict[str, QuotaStatus] = field(default_factory=dict)
    contracts: dict[int, Contract] = field(default_factory=dict)
    contract_of: dict[str, int] = field(default_factory=dict)


def build(
    session: Session,
    region: Region,
    first: date,
    days: int = 1,
    *,
    now: datetime | None = None,
    travel: routing.MatrixProvider | None = None,
    releasing: Collection[int] | None = None,
) -> Built:
    """The routing problem of ``region`` over ``days`` local days from ``first``; travel by
    ``travel``, or the region's average speed and detour factor over ellipsoid distance.
    Quota budgets count the planned time of every visit except those in ``releasing``
    (default: all the visits being planned, whose earlier plans this one replaces)."""
    now = now or datetime.now(UTC)
    horizon = Horizon.of(first, days, region.timezone)
    technicians = _technicians(session, region, horizon)
    built = Built(
        problem=routing.Problem(jobs=(), technicians=tuple(t for t, _ in technicians)),
        horizon=horizon,
        visits={},
        technicians={row.code: row for _, row in technicians},
    )
    jobs = _jobs(session, region, horizon, built, now)
    quotas = _quotas(session, horizon, built, jobs, releasing)
    built.problem = routing.Problem(
        jobs=tuple(jobs),
        technicians=tuple(t for t, _ in technicians),
        days=days,
        travel=travel or routing.GreatCircle(region.avg_speed_kmh, region.detour_factor),
        quotas=tuple(quotas),
    )
    return built


def _technicians(
    session: Session, region: Region, horizon: Horizon
) -> list[tuple[routing.Technician, Technician]]:
    rows = list(
        session.exec(
            select(Technician)
            .where(Technician.region_id == region.id, col(Technician.active).is_(True))
            .order_by(Technician.code)
        )
    )
    ids = [t.id for t in rows]
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for tech_id, code, level in session.exec(
        select(TechnicianSkill.technician_id, Skill.code, TechnicianSkill.level)
        .join(Skill, Skill.id == TechnicianSkill.skill_id)
        .where(col(TechnicianSkill.technician_id).in_(ids))
    ):
        skills[tech_id][code] = level
    spans = shifts(session, region=region, horizon=horizon, technician_ids=ids)
    found = []
    for row in rows:
        solver_shifts = tuple(
            routing.Shift(
                day=(span.day - horizon.first).days,
                start=horizon.seconds(span.starts_at),
                end=horizon.seconds(span.ends_at),
                breaks=tuple(
                    routing.Break(
                        b.minutes * 60, horizon.seconds(b.earliest), horizon.seconds(b.latest)
                    )
                    for b in span.breaks
                ),
            )
            for span in spans[row.id]  # type: ignore[index]
        )
        found.append(
            (
                routing.Technician(
                    id=row.code,
                    home=routing.Location(row.home_lat, row.home_lon),
                    shifts=solver_shifts,
                    skills=dict(skills[row.id]),  # type: ignore[index]
                    max_work_seconds=row.max_work_minutes * 60,
                ),
                row,
            )
        )
    return found


def _jobs(
    session: Session, region: Region, horizon: Horizon, built: Built, now: datetime
) -> list[routing.Job]:
    rows = list(
        session.exec(
            select(Visit, ServiceRequest, Site, Contract)
            .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
            .join(Site, Site.id == ServiceRequest.site_id)
            .join(Contract, Contract.id == ServiceRequest.contract_id)
            .where(
                Site.region_id == region.id,
                col(Visit.status).in_(PLANNABLE),
                Visit.earliest_date <= horizon.last,
            )
            .order_by(Visit.code)
        )
    )
    visit_ids = [v.id for v, *_ in rows]
    skills = visit_skills(session, visit_ids)  # type: ignore[arg-type]
    windows: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for w in session.exec(
        select(VisitTimeWindow).where(col(VisitTimeWindow.visit_id).in_(visit_ids))
    ):
        windows[w.visit_id].append((w.starts_at, w.ends_at))
    site_ids = {s.id for _, _, s, _ in rows}
    access: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for a in session.exec(
        select(SiteAccessHours).where(col(SiteAccessHours.site_id).in_(site_ids))
    ):
        access[a.site_id][a.weekday] = (a.opens_minute, a.closes_minute)
    tech_ids = {row.id: code for code, row in built.technicians.items()}
    locked = _locked_positions(session, horizon, rows, tech_ids)
    jobs = []
    for visit, request, site, contract in rows:
        built.visits[visit.code] = visit
        built.contracts[contract.id] = contract  # type: ignore[index]
        built.contract_of[visit.code] = contract.id  # type: ignore[assignment]
        job_windows = _windows(
            horizon,
            visit.duration_minutes * 60,
            windows[visit.id],  # type: ignore[index]
            access.get(site.id),  # type: ignore[arg-type]
        )
        if not job_windows:
            built.left_out.append(
                routing.Unassigned(
                    visit.code,
                    routing.Reason.time_window_unreachable,
                    "None of its time windows, within the site's access hours, falls in "
                    f"{horizon.first}..{horizon.last}.",
                )
            )
            continue
        earliest = max(0, (visit.earliest_date - horizon.first).days)
        due = min(horizon.days - 1, (visit.due_date - horizon.first).days)
        # An overdue visit may go on any day; its SLA penalty pulls it to the first.
        due = horizon.days - 1 if due < earliest else due
        deadline = None if request.sla_due_at is None else horizon.seconds(request.sla_due_at)
        pinned = tech_ids.get(visit.pinned_technician_id)  # type: ignore[arg-type]
        pinned_day = position = None
        if visit.pinned_date is not None and horizon.first <= visit.pinned_date <= horizon.last:
            pinned_day = (visit.pinned_date - horizon.first).days
            position = visit.pinned_position
        if visit.id in locked:
            pinned, pinned_day, position = locked[visit.id]
        jobs.append(
            routing.Job(
                id=visit.code,
                location=routing.Location(site.lat, site.lon),
                duration=visit.duration_minutes * 60,
                windows=tuple(job_windows),
                skills=dict(skills[visit.id]),  # type: ignore[index]
                priority=priority_weight(
                    contract.tier, request.urgency, slack_minutes(request.sla_due_at, now)
                ),
                earliest_day=earliest if pinned_day is None else min(earliest, pinned_day),
                due_day=due if pinned_day is None else max(due, pinned_day),
                sla_deadline=deadline,
                sla_penalty_per_minute=SLA_PENALTY_PER_MINUTE[contract.tier]
                if deadline is not None
                else 0,
                pinned_technician=pinned,
                pinned_day=pinned_day,
                pinned_position=position,
            )
        )
    return jobs


def _locked_positions(
    session: Session, horizon: Horizon, rows: list, tech_ids: dict[int, str]
) -> dict[int, tuple[str, int, int]]:
    """Visit id -> (technician, day, position) for visits on routes a dispatcher locked:
    pinned exactly where they are, the optimiser plans around them."""
    locks = {
        (lock.technician_id, lock.day)
        for lock in session.exec(
            select(RouteLock).where(
                col(RouteLock.technician_id).in_(list(tech_ids)),
                RouteLock.day >= horizon.first,
                RouteLock.day <= horizon.last,
            )
        )
    }
    if not locks:
        return {}
    routes: dict[tuple[int, date], list[Visit]] = defaultdict(list)
    for visit, *_ in rows:
        if visit.technician_id is None or visit.planned_start is None:
            continue
        day = local_day(visit.planned_start, horizon.timezone)
        if (visit.technician_id, day) in locks:
            routes[(visit.technician_id, day)].append(visit)
    found = {}
    for (tech_id, day), visits in routes.items():
        visits.sort(key=lambda v: v.planned_start)
        for position, visit in enumerate(visits):
            found[visit.id] = (tech_ids[tech_id], (day - horizon.first).days, position)
    return found


def visit_skills(session: Session, visit_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Visit id -> the skills it needs (code -> minimum level); visits needing none are
    absent."""
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for visit_id, code, level in session.exec(
        select(VisitSkill.visit_id, Skill.code, VisitSkill.min_level)
        .join(Skill, Skill.id == VisitSkill.skill_id)
        .where(col(VisitSkill.visit_id).in_(list(visit_ids)))
    ):
        skills[visit_id][code] = level
    return skills


def _windows(
    horizon: Horizon,
    duration: int,
    windows: list[tuple[datetime, datetime]],
    access: dict[int, tuple[int, int]] | None,
) -> list[routing.Window]:
    """When service may start: the visit's windows (any time if none) within the horizon,
    cut to the site's access hours so that the work also ends before the site closes."""
    end = horizon.seconds(horizon.end())
    spans = [(horizon.seconds(s), horizon.seconds(e)) for s, e in windows] or [(0, end)]
    spans = [(max(0, s), min(end, e)) for s, e in spans if e >= 0 and s <= end]
    if access is not None:
        open_spans = []
        for day in horizon.dates():
            hours = access.get(day.weekday())
            if hours is None:
                continue
            opens = horizon.seconds(local_to_utc(day, hours[0], horizon.timezone))
            closes = horizon.seconds(local_to_utc(day, hours[1], horizon.timezone)) - duration
            if closes >= opens:
                open_spans.append((opens, closes))
        spans = [
            (max(s, o), min(e, c))
            for s, e in spans
            for o, c in open_spans
            if max(s, o) <= min(e, c)
        ]
    return [routing.Window(s, e) for s, e in sorted(spans)]


def _quotas(
    session: Session,
    horizon: Horizon,
    built: Built,
    jobs: list[routing.Job],
    releasing: Collection[int] | None,
) -> list[routing.Quota]:
    """One solver budget per contract and period the horizon touches, for contracts whose
    overage policy blocks visits beyond the quota (bill_as_tm contracts may go over). The
    budget is what the ledger leaves once the visits being planned give back their earlier
    planned time."""
    by_contract: dict[int, list[int]] = defaultdict(list)
    for k, job in enumerate(jobs):
        by_contract[built.contract_of[job.id]].append(k)
    planning = [v.id for v in built.visits.values()] if releasing is None else list(releasing)
    quotas = []
    for contract_id, members in sorted(by_contract.items()):
        contract = built.contracts[contract_id]
        if quota_minutes(contract) is None or contract.overage_policy is not OveragePolicy.block:
            continue
        kind = contract.quota_period or "month"
        ids = []
        for period in periods_between(horizon.first, horizon.last, kind, horizon.timezone):
            status = service.contract_status(
                session,
                contract,
                period,
                excluding_visits=planning,  # type: ignore[arg-type]
            )
            days = frozenset(
                d
                for d, day in enumerate(horizon.dates())
                if period.starts_on <= day < period.ends_on
            )
            quota_id = f"{contract.code}/{period.label}"
            built.quotas[quota_id] = status
            quotas.append(
                routing.Quota(
                    quota_id,
                    seconds=max(0, status.remaining or 0) * 60,
                    visit_days=None
                    if status.days_remaining is None
                    else max(0, status.days_remaining),
                    days=days,
                    open_days=frozenset(
                        d for d, day in enumerate(horizon.dates()) if day in status.onsite_days
                    ),
                )
            )
            ids.append(quota_id)
        for k in members:
            jobs[k] = replace(jobs[k], quotas=tuple(ids))
    return quotas


def stop_rows(built: Built, solution: routing.Solution, plan_id: int) -> list[PlanStop]:
    rows = []
    horizon = built.horizon
    for route in solution.routes:
        tech = built.technicians[route.technician_id]
        day = horizon.first + timedelta(days=route.day)
        for sequence, stop in enumerate(route.stops):
            rows.append(
                PlanStop(
                    plan_id=plan_id,
                    visit_id=built.visits[stop.job_id].id,  # type: ignore[arg-type]
                    technician_id=tech.id,  # type: ignore[arg-type]
                    day=day,
                    sequence=sequence,
                    arrival_at=horizon.instant(stop.arrival),
                    start_at=horizon.instant(stop.start),
                    end_at=horizon.instant(stop.end),
                    travel_seconds=stop.travel_seconds,
                    travel_metres=stop.travel_metres,
                )
            )
    return rows


def unassigned_rows(built: Built, solution: routing.Solution, plan_id: int) -> list[PlanUnassigned]:
    return [
        PlanUnassigned(
            plan_id=plan_id,
            visit_id=built.visits[item.job_id].id,  # type: ignore[arg-type]
            reason=item.reason.value,
            detail=item.detail,
            figures=dict(item.figures),
        )
        for item in (*built.left_out, *solution.unassigned)
    ]
