"""Oversized regions planned in territories: the lead task cuts the region (routing.territory)
and records each territory's share, territory tasks solve their share on any worker, and the
lead assembles their solutions into the region's one plan."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import adapter, db, planning
from dispatch.models import JobStatus, PlanningTask, Region
from routing.territory import merge, territories
from schedules.errors import ConflictError


def parts_for(visits: int, per_territory: int) -> int:
    """How many territories a region of ``visits`` open visits is planned in (0: whole)."""
    return 0 if visits <= per_territory else math.ceil(visits / per_territory)


def read(engine: sa.Engine, region_id: int, first: Any, days: int, travel: Any) -> adapter.Built:
    with db.transaction(engine) as session:
        region = session.get_one(Region, region_id)
        return adapter.build(session, region, first, days, travel=travel)


def parts_of(session: Session, job_id: int, region_id: int) -> list[PlanningTask]:
    """The territory tasks of a region in a job, in order."""
    return list(
        session.exec(
            select(PlanningTask)
            .where(
                PlanningTask.job_id == job_id,
                PlanningTask.region_id == region_id,
                col(PlanningTask.part) > 0,
            )
            .order_by(col(PlanningTask.part))
        )
    )


def cut(session: Session, lead: PlanningTask, built: adapter.Built, read_at: datetime) -> list[int]:
    """Record each territory's share of ``built`` in its task (jobs, technicians, budgets) and
    when the lead read the region; the territory tasks to hand over."""
    parts = parts_of(session, lead.job_id, lead.region_id)
    problems = territories(built.problem, len(parts))
    for task, problem in zip(parts, problems, strict=False):
        task.scope = {
            "jobs": sorted(job.id for job in problem.jobs),
            "technicians": sorted(tech.id for tech in problem.technicians),
            "quotas": {q.id: [q.seconds, q.visit_days] for q in problem.quotas},
        }
    # Fewer technicians than territories: the territories left over have nothing to do.
    for task in parts[len(problems) :]:
        task.scope = {"jobs": [], "technicians": [], "quotas": {}}
    lead.scope = {
        "read_at": read_at.isoformat(),
        "territories": [len(p.jobs) for p in problems],
    }
    return [task.id for task in parts]  # type: ignore[misc]


def share(built: adapter.Built, scope: dict[str, Any]) -> routing.Problem:
    """A territory's problem: its jobs, technicians and budgets as the lead cut them (those
    that still exist: the lead's assembly refuses a plan whose visits changed meanwhile)."""
    budgets = scope["quotas"]
    problem = narrowed(built.problem, set(scope["jobs"]), set(scope["technicians"]))
    return replace(
        problem,
        quotas=tuple(
            replace(quota, seconds=budgets[quota.id][0], visit_days=budgets[quota.id][1])
            for quota in problem.quotas
            if quota.id in budgets
        ),
    )


def narrowed(problem: routing.Problem, jobs: set[str], technicians: set[str]) -> routing.Problem:
    """``problem`` with only the jobs and technicians named."""
    return replace(
        problem,
        jobs=tuple(job for job in problem.jobs if job.id in jobs),
        technicians=tuple(tech for tech in problem.technicians if tech.id in technicians),
    )


def solve_part(
    engine: sa.Engine,
    region_id: int,
    scope: dict[str, Any],
    *,
    first: Any,
    days: int,
    params: routing.SolveParams,
    strategy: str,
    travel: Any,
    progress: Any,
) -> routing.Solution:
    built = read(engine, region_id, first, days, travel)
    problem = share(built, scope)
    return planning.solve_built(
        replace(built, problem=problem),
        params=params,
        # A territory left without jobs has nothing to search for.
        strategy=strategy if problem.jobs else "greedy",
        progress=progress,
    )


def summary(solution: routing.Solution) -> dict[str, Any]:
    figures = solution.summary()
    return {key: figures[key] for key in ("assigned", "unassigned", "travel_km")}


def assemble(
    engine: sa.Engine, lead: Any, parts: list[PlanningTask], *, travel: Any, strategy: str
) -> tuple[adapter.Built, routing.Solution, datetime]:
    """The region's built problem (as read now, narrowed to what the lead cut) and the merged
    solution of its territories, and when the lead read the region. Raises ConflictError when
    visits or technicians changed so much meanwhile that the pieces no longer fit."""
    failed = [p for p in parts if p.status is JobStatus.failed or p.solution is None]
    if failed:
        first = failed[0]
        reason = first.outcome.get("error") or first.message
        raise ConflictError(
            f"territory {first.part} of {len(parts)} failed: {reason}",
            field="territory",
            value=first.part,
        )
    started = time.perf_counter()
    built = read(engine, lead.region_id, lead.starts_on, lead.days, travel)
    jobs = {job for p in parts for job in p.scope["jobs"]}
    technicians = {tech for p in parts for tech in p.scope["technicians"]}
    problem = built.problem
    missing = sorted(jobs - {job.id for job in problem.jobs})
    gone = sorted(technicians - {tech.id for tech in problem.technicians})
    if missing or gone:
        raise ConflictError(
            "visits or technicians changed while the territories were planned: "
            + ", ".join((missing + gone)[:10])
            + "; plan again",
            field="visits",
            value=missing + gone,
        )
    whole = narrowed(problem, jobs, technicians)
    solutions = [routing.Solution.from_dict(p.solution) for p in parts]  # type: ignore[arg-type]
    try:
        merged = merge(whole, solutions)
    except routing.CheckError as error:
        raise ConflictError(
            f"the territories' routes no longer fit the region's data ({error}); plan again",
            field="visits",
            value=None,
        ) from None
    kept = {job.id for job in whole.jobs}
    built = replace(
        built,
        problem=whole,
        visits={code: visit for code, visit in built.visits.items() if code in kept},
    )
    merged = replace(
        merged,
        stats=replace(
            merged.stats,
            wall_seconds=merged.stats.wall_seconds + time.perf_counter() - started,
            strategy=f"{strategy} in {len(parts)} territories",
        ),
    )
    return built, merged, datetime.fromisoformat(lead.scope["read_at"])
