"""Planning a region: build the routing problem from the rows, solve it, store the result as a
new draft plan version, and publish a draft so that it reaches technicians and customers.

Reading, solving and writing are separate steps: the solve holds no transaction, and the plan
is written in one, so a failed, timed-out or killed solve leaves the plans as they were."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import adapter, eta, events, ledger, tracking
from dispatch.models import (
    EventTopic,
    Plan,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
    Region,
    Technician,
    Visit,
    VisitStatus,
)
from routing.greedy import greedy
from routing.search import Progress
from schedules.errors import ConflictError, InvalidError, NotFoundError

STRATEGIES = ("optimised", "greedy")
# Statuses publishing may (re)assign; later ones belong to the day's execution.
REASSIGNABLE = (VisitStatus.unscheduled, VisitStatus.scheduled, VisitStatus.dispatched)
UNDER_WAY = (VisitStatus.en_route, VisitStatus.on_site)


@dataclass(frozen=True, slots=True)
class Planned:
    plan: Plan
    solution: routing.Solution
    built: adapter.Built


def region_by_code(session: Session, code: str) -> Region:
    region = session.exec(select(Region).where(Region.code == code)).first()
    if region is None:
        raise NotFoundError(f"region {code!r} does not exist", field="region", value=code)
    return region


def check_request(strategy: str, days: int) -> None:
    if strategy not in STRATEGIES:
        raise InvalidError(
            f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}",
            field="strategy",
            value=strategy,
        )
    if not 1 <= days <= 31:
        raise InvalidError(f"days {days} is outside 1..31", field="days", value=days)


def solve_built(
    built: adapter.Built,
    *,
    params: routing.SolveParams | None = None,
    strategy: str = "optimised",
    progress: Progress | None = None,
) -> routing.Solution:
    """The solver's answer; no database involved."""
    if strategy == "greedy":
        return greedy(built.problem)
    return routing.solve(built.problem, params, progress=progress)


def store_plan(
    session: Session,
    region: Region,
    built: adapter.Built,
    solution: routing.Solution,
    *,
    strategy: str,
    wall_seconds: float,
    read_at: datetime,
) -> Plan:
    """Write the solution as the next draft version of the region's plan for its first day.
    ``read_at``: when its data was read; publishing refuses the plan if any of its visits
    changed after that (also while the solver ran)."""
    first = built.horizon.first
    version = (
        session.exec(
            select(sa.func.max(Plan.version)).where(
                Plan.region_id == region.id, Plan.starts_on == first
            )
        ).one()
        or 0
    ) + 1
    plan = Plan(
        region_id=region.id,  # type: ignore[arg-type]
        starts_on=first,
        days=built.horizon.days,
        version=version,
        status=PlanStatus.draft,
        strategy=strategy,
        solver_status=solution.stats.status,
        objective=round(solution.stats.objective),
        wall_seconds=round(wall_seconds, 3),
        stats=plan_stats(built, solution),
        # The real clock at reading, whatever ``now`` planning assumed: publishing compares
        # it with visits' updated_at to refuse a plan made from visits changed since.
        created_at=read_at,
    )
    session.add(plan)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # Another planning run took this version number a moment earlier.
        raise ConflictError(
            f"plan version {version} of region {region.code} for {first} was just written by "
            "another run; plan again",
            field="version",
            value=version,
        ) from None
    session.add_all(adapter.stop_rows(built, solution, plan.id))  # type: ignore[arg-type]
    session.add_all(adapter.unassigned_rows(built, solution, plan.id))  # type: ignore[arg-type]
    session.flush()
    return plan


def plan_region(
    session: Session,
    region: Region,
    first: date,
    days: int = 1,
    *,
    params: routing.SolveParams | None = None,
    strategy: str = "optimised",
    now: datetime | None = None,
    progress: Progress | None = None,
    travel: routing.MatrixProvider | None = None,
) -> Planned:
    """Read, solve and write in one session (tests, scripts); the CLI and the API read,
    solve and write in separate steps so that no transaction spans the solve."""
    check_request(strategy, days)
    started, read_at = time.perf_counter(), datetime.now(UTC)
    built = adapter.build(session, region, first, days, now=now, travel=travel)
    solution = solve_built(built, params=params, strategy=strategy, progress=progress)
    plan = store_plan(
        session,
        region,
        built,
        solution,
        strategy=strategy,
        wall_seconds=time.perf_counter() - started,
        read_at=read_at,
    )
    return Planned(plan, solution, built)


def plan_stats(built: adapter.Built, solution: routing.Solution) -> dict:
    """What the plan's summary shows: totals, unassigned by reason, utilisation per
    technician, SLA at risk and quota use."""
    summary = solution.summary()
    reasons = dict(summary["unassigned_by_reason"])
    for item in built.left_out:
        reasons[item.reason.value] = reasons.get(item.reason.value, 0) + 1
    used: dict[str, int] = {}
    quotas_by_id = {q.id: q for q in built.problem.quotas}
    for route in solution.routes:
        for stop in route.stops:
            job = built.problem.job(stop.job_id)
            for quota_id in job.quotas:
                if quotas_by_id[quota_id].covers(route.day):
                    used[quota_id] = used.get(quota_id, 0) + job.quota_draw
    quotas = {
        quota_id: {
            "remaining_minutes_before": status.remaining,
            "planned_minutes": used.get(quota_id, 0) // 60,
            "days_remaining_before": status.days_remaining,
        }
        for quota_id, status in built.quotas.items()
    }
    shift_seconds: dict[str, int] = {}
    for tech in built.problem.technicians:
        shift_seconds[tech.id] = sum(
            s.end - s.start - sum(b.duration for b in s.breaks) for s in tech.shifts
        )
    busy: dict[str, int] = {}
    for route in solution.routes:
        busy[route.technician_id] = busy.get(route.technician_id, 0) + route.work_seconds
    utilisation = {
        tech_id: round(busy.get(tech_id, 0) / seconds, 3)
        for tech_id, seconds in sorted(shift_seconds.items())
        if seconds > 0
    }
    late = [
        {"visit": stop.job_id, "late_minutes": round(stop.late_seconds / 60)}
        for route in solution.routes
        for stop in route.stops
        if stop.late_seconds > 0
    ]
    return {
        **summary,
        "unassigned": summary["unassigned"] + len(built.left_out),
        "unassigned_by_reason": reasons,
        "visits": len(built.visits),
        "technicians": len(built.technicians),
        "utilisation": utilisation,
        "sla_late": sorted(late, key=lambda item: -item["late_minutes"]),
        "quotas": quotas,
        # Solved in territories (an oversized region): how many.
        **(
            {"territories": len(solution.extra["territories"])}
            if "territories" in solution.extra
            else {}
        ),
    }


@dataclass(frozen=True, slots=True)
class Published:
    plan: Plan
    superseded: list[Plan]
    scheduled: int
    unscheduled: int
    ledger_entries: int


def publish(session: Session, plan: Plan, *, now: datetime | None = None) -> Published:
    """Make a draft plan the one in force for its region and days: plans it overlaps are
    superseded, visits take its technicians and times (visits it leaves out, and those of the
    superseded plans it no longer holds, go back to unscheduled), the quota ledger records
    the planned time, and events tell technicians and customers. Visits already under way or
    done are never touched."""
    now = now or datetime.now(UTC)
    if plan.status is not PlanStatus.draft:
        raise ConflictError(
            f"plan {plan.id} is {plan.status.value}; only a draft can be published",
            field="status",
            value=plan.status.value,
        )
    stops = list(session.exec(select(PlanStop).where(PlanStop.plan_id == plan.id)))
    left = list(session.exec(select(PlanUnassigned).where(PlanUnassigned.plan_id == plan.id)))
    visit_ids = [s.visit_id for s in stops] + [u.visit_id for u in left]
    visits = {
        v.id: v
        for v in session.exec(select(Visit).where(col(Visit.id).in_(visit_ids)).with_for_update())
    }
    changed = sorted(
        v.code
        for v in visits.values()
        if v.updated_at > plan.created_at or v.status not in (*REASSIGNABLE, *UNDER_WAY)
    )
    if changed:
        raise ConflictError(
            f"visits changed since plan {plan.id} was made: {', '.join(changed[:10])}"
            + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
            + "; plan again",
            field="visits",
            value=changed,
        )
    last = plan.starts_on + timedelta(days=plan.days - 1)
    overlapping = [
        p
        for p in session.exec(
            select(Plan)
            .where(Plan.region_id == plan.region_id, Plan.status == PlanStatus.published)
            .with_for_update()
        )
        if p.starts_on <= last and plan.starts_on <= p.starts_on + timedelta(days=p.days - 1)
    ]
    for old in overlapping:
        old.status = PlanStatus.superseded
    session.flush()  # the partial unique index admits one published plan per region and day
    released = set()
    for old in overlapping:
        released |= set(session.exec(select(PlanStop.visit_id).where(PlanStop.plan_id == old.id)))
    written = ledger.release_planned(
        session, sorted(released), f"plans {[p.id for p in overlapping]} superseded by {plan.id}"
    )
    codes = dict(session.exec(select(Technician.id, Technician.code)).all())
    placed = set()
    for stop in stops:
        visit = visits[stop.visit_id]
        placed.add(visit.id)
        if visit.status in UNDER_WAY:
            continue  # the technician is on it: the plan only works around it
        moved = (visit.technician_id, visit.planned_start) != (stop.technician_id, stop.start_at)
        visit.technician_id = stop.technician_id
        visit.planned_start, visit.planned_end = stop.start_at, stop.end_at
        if moved:
            first_time = visit.status is VisitStatus.unscheduled
            visit.status = VisitStatus.scheduled
            visit.revision += 1
            # The customer's link comes with the first schedule (the webhook that tells
            # them carries it); later moves keep it.
            link = {"tracking_token": tracking.issue(session, visit)} if first_time else {}
            events.emit(
                session,
                EventTopic.visit_scheduled,
                "visit",
                visit.id,  # type: ignore[arg-type]
                {
                    "visit": visit.code,
                    "technician": codes[stop.technician_id],
                    "planned_start": stop.start_at.isoformat(),
                    "planned_end": stop.end_at.isoformat(),
                    "plan": plan.id,
                    **link,
                },
                at=now,
            )
    unscheduled = 0
    others = (released - placed) | {u.visit_id for u in left}
    for visit in session.exec(select(Visit).where(col(Visit.id).in_(others))):
        if visit.status in REASSIGNABLE and visit.id not in placed:
            if visit.status is not VisitStatus.unscheduled:
                unscheduled += 1
            visit.status, visit.technician_id = VisitStatus.unscheduled, None
            visit.planned_start = visit.planned_end = None
            visit.revision += 1
    plan.status, plan.published_at = PlanStatus.published, now
    session.flush()
    written += ledger.record_plan(session, plan)
    # Customers get their arrival windows with the plan (one measurement for all routes).
    variance = eta.measure(session, now - timedelta(days=90))
    timezone = session.get_one(Region, plan.region_id).timezone
    for technician_id in sorted({stop.technician_id for stop in stops}):
        eta.refresh(session, technician_id, now, variance, timezone)
    events.emit(
        session,
        EventTopic.plan_published,
        "plan",
        plan.id,  # type: ignore[arg-type]
        {
            "plan": plan.id,
            "region_id": plan.region_id,
            "starts_on": plan.starts_on.isoformat(),
            "days": plan.days,
            "version": plan.version,
            "visits": len(stops),
            "unassigned": len(left),
            "superseded": [p.id for p in overlapping],
        },
        at=now,
    )
    session.flush()
    return Published(plan, overlapping, len(stops), unscheduled, written)
