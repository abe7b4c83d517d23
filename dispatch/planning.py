"""Planning a region: build the routing problem from the rows, solve it, and store the result
as a new draft plan version with its stops and unassigned visits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

import routing
from dispatch import adapter
from dispatch.models import Plan, PlanStatus, Region
from routing.greedy import greedy
from routing.search import Progress
from schedules.errors import InvalidError, NotFoundError

STRATEGIES = ("optimised", "greedy")


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
) -> Planned:
    """A new draft plan of ``region`` for ``days`` local days from ``first``. Nothing is
    written unless the solve succeeds; the caller's transaction makes the write atomic."""
    if strategy not in STRATEGIES:
        raise InvalidError(
            f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}",
            field="strategy",
            value=strategy,
        )
    if not 1 <= days <= 31:
        raise InvalidError(f"days {days} is outside 1..31", field="days", value=days)
    started = time.perf_counter()
    built = adapter.build(session, region, first, days, now=now)
    if strategy == "greedy":
        solution = greedy(built.problem)
    else:
        solution = routing.solve(built.problem, params, progress=progress)
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
        days=days,
        version=version,
        status=PlanStatus.draft,
        strategy=strategy,
        solver_status=solution.stats.status,
        objective=round(solution.stats.objective),
        wall_seconds=round(time.perf_counter() - started, 3),
        stats=_stats(built, solution),
        created_at=now or datetime.now(UTC),
    )
    session.add(plan)
    session.flush()
    session.add_all(adapter.stop_rows(built, solution, plan.id))  # type: ignore[arg-type]
    session.add_all(adapter.unassigned_rows(built, solution, plan.id))  # type: ignore[arg-type]
    session.flush()
    return Planned(plan, solution, built)


def _stats(built: adapter.Built, solution: routing.Solution) -> dict:
    summary = solution.summary()
    reasons = dict(summary["unassigned_by_reason"])
    for item in built.left_out:
        reasons[item.reason.value] = reasons.get(item.reason.value, 0) + 1
    quotas = {}
    used: dict[str, int] = {}
    for route in solution.routes:
        for stop in route.stops:
            job = built.problem.job(stop.job_id)
            for quota_id in job.quotas:
                quota = next(q for q in built.problem.quotas if q.id == quota_id)
                if quota.covers(route.day):
                    used[quota_id] = used.get(quota_id, 0) + job.quota_draw
    for quota_id, status in built.quotas.items():
        quotas[quota_id] = {
            "remaining_minutes_before": status.remaining,
            "planned_minutes": used.get(quota_id, 0) // 60,
            "days_remaining_before": status.days_remaining,
        }
    return {
        **summary,
        "unassigned": summary["unassigned"] + len(built.left_out),
        "unassigned_by_reason": reasons,
        "visits": len(built.visits),
        "technicians": len(built.technicians),
        "quotas": quotas,
    }
