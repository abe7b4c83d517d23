"""Planning tasks (one region of a job, or one territory of an oversized region) as a worker
runs them under a lease (dispatch.leases): stages recorded in the task's row so that a worker
taking over a dead worker's task never stores or publishes twice, and progress as they go."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import db, planning, territories
from dispatch.leases import (
    Claimed,
    Heartbeat,
    LeaseLost,
    Ran,
    claim,
    new_owner,
    ready,
    renew,
    unlock,
    utc_now,
)
from dispatch.models import JobStatus, Plan, PlanningJob, PlanningTask, Region
from schedules.errors import DomainError

log = logging.getLogger(__name__)
# Solver progress reaches the rows at most this often: each report is a transaction.
PROGRESS_EVERY_SECONDS = 1.0
MESSAGE_LIMIT = 500

# Lost to another worker, or the database is unreachable: the stage is not recorded as
# failed but left, still running, to whichever worker takes the task over.
LEFT_TO_TAKEOVER = (LeaseLost, sa.exc.OperationalError, sa.exc.InterfaceError)

ParamsFor = Callable[[int], routing.SolveParams]
# Where a task sends the tasks it makes ready (a queue's send, or this process's pool).
HandOver = Callable[[int], None]


def run(
    engine: sa.Engine,
    task_id: int,
    *,
    lease: float,
    params: ParamsFor,
    travel: routing.MatrixProvider | None = None,
    hand_over: HandOver = lambda _: None,
) -> Ran:
    """Run task ``task_id`` here if nobody else holds it, each write fenced by the lease: a
    region is read, solved, stored as a draft and published when asked; an oversized one's
    lead cuts it into territories (handed over), each territory is solved, and the last one
    hands the lead over to assemble and publish. A refusal or an error is recorded as the
    task's outcome; an error recording it leaves the task to be taken over once its lease
    has run out."""
    claimed = claim(engine, task_id, new_owner(), lease)
    if not isinstance(claimed, Claimed):
        return claimed
    heartbeat = Heartbeat(engine, claimed)
    final = claimed.part == 0 and not (claimed.parts and "read_at" not in claimed.scope)
    try:
        if claimed.part:
            _territory(engine, claimed, params, travel, hand_over)
        elif final:
            _end(engine, claimed, _stages(engine, claimed, params, travel))
        else:
            _cut(engine, claimed, travel, hand_over)
    except LeaseLost:
        # The lock stays: it is the job's, and the worker that took over holds it now.
        log.warning("planning task %s was taken over by another worker; stopped", task_id)
        return Ran.not_ours
    finally:
        heartbeat.stop()
    if final:
        unlock(engine, claimed)
    return Ran.done


def _stages(
    engine: sa.Engine,
    task: Claimed,
    params: ParamsFor,
    travel: routing.MatrixProvider | None,
) -> dict[str, Any]:
    """Store a draft (unless an earlier attempt did) and publish it when asked (unless an
    earlier attempt did): the outcome of the task."""
    planned: dict[str, Any] = dict(task.outcome)
    try:
        plan_id = task.plan_id
        if plan_id is None:
            planned = _solve_and_store(engine, task, params, travel)
            plan_id = planned["plan_id"]
        if task.publish and not task.published:
            # Its own transaction: a refused publication keeps the draft for a look.
            _progress(engine, task, 0.95, f"{task.code}: publishing")
            with db.transaction(db.writers(engine)) as session:
                renew(session, task)
                planning.publish(session, session.get_one(Plan, plan_id))
                planned["published"] = True
                _record(session, task, published=True, outcome=planned)
        return planned
    except LEFT_TO_TAKEOVER:
        raise
    except DomainError as error:
        return planned | {
            "error": error.message,
            "field": error.field,
            "value": plain(error.value),
        }
    except Exception as error:
        log.exception("planning task %s (region %s) failed", task.id, task.code)
        return planned | {"error": f"unexpected error: {type(error).__name__}: {error}"}


def _solve_and_store(
    engine: sa.Engine,
    task: Claimed,
    params: ParamsFor,
    travel: routing.MatrixProvider | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    if task.parts:
        _progress(engine, task, 0.5, f"{task.code}: assembling {task.parts} territories")
        built, solution, read_at = territories.assemble(
            engine, task, _parts(engine, task), travel=travel, strategy=task.strategy
        )
        label = f"{task.code}: {len(built.visits)} visits in {task.parts} territories"
    else:
        _progress(engine, task, 0.0, f"{task.code}: reading")
        read_at = utc_now()
        built = territories.read(engine, task.region_id, task.starts_on, task.days, travel)
        label = f"{task.code}: {len(built.visits)} visits, {len(built.technicians)} technicians"
        _progress(engine, task, 0.1, f"{label}: solving")
        solution = planning.solve_built(
            built,
            params=params(task.time_limit_seconds),
            strategy=task.strategy,
            progress=_reporter(engine, task, label),
        )
    _progress(engine, task, 0.9, f"{label}: storing")
    with db.transaction(db.writers(engine)) as session:
        renew(session, task)
        plan = planning.store_plan(
            session,
            session.get_one(Region, task.region_id),
            built,
            solution,
            strategy=task.strategy,
            wall_seconds=time.perf_counter() - started,
            read_at=read_at,
        )
        stats = plan.stats
        planned = {
            "plan_id": plan.id,
            "version": plan.version,
            "published": False,
            "visits": stats["visits"],
            "assigned": stats["assigned"],
            "unassigned": stats["unassigned"],
            "unassigned_by_reason": stats["unassigned_by_reason"],
            "travel_km": stats["travel_km"],
            "late_minutes": stats["late_minutes"],
            "solve_seconds": round(time.perf_counter() - started, 1),
        }
        if task.parts:
            planned["territories"] = task.parts
        _record(session, task, plan_id=plan.id, outcome=planned)
    return planned


def _parts(engine: sa.Engine, task: Claimed) -> list[PlanningTask]:
    with db.transaction(engine) as session:
        return territories.parts_of(session, task.job_id, task.region_id)


def _cut(
    engine: sa.Engine, task: Claimed, travel: routing.MatrixProvider | None, hand_over: HandOver
) -> None:
    """The lead's first turn: read the region, cut it into territories, record their shares,
    go back to waiting (its lease given up, the region lock kept for the job) and hand the
    territories over. A failure fails the lead and its territories alike."""
    try:
        _progress(engine, task, 0.0, f"{task.code}: reading to cut {task.parts} territories")
        read_at = utc_now()
        built = territories.read(engine, task.region_id, task.starts_on, task.days, travel)
        with db.transaction(db.writers(engine)) as session:
            renew(session, task)
            lead = session.get_one(PlanningTask, task.id)
            territories_ready = territories.cut(session, lead, built, read_at)
            lead.status, lead.lease_owner, lead.lease_until = JobStatus.queued, None, None
            lead.attempts = 0  # the assembly is a turn of its own
            lead.message = f"{task.code}: waiting for {task.parts} territories"
    except LEFT_TO_TAKEOVER:
        raise
    except Exception as error:
        log.exception("planning task %s could not cut region %s", task.id, task.code)
        _end(engine, task, {"error": f"could not cut the region: {type(error).__name__}: {error}"})
        _fail_parts(engine, task, "the region could not be cut into territories")
        unlock(engine, task)
        return
    for part in territories_ready:
        hand_over(part)


def _fail_parts(engine: sa.Engine, task: Claimed, reason: str) -> None:
    with db.transaction(db.writers(engine)) as session:
        session.execute(
            sa.update(PlanningTask)
            .where(
                PlanningTask.job_id == task.job_id,
                PlanningTask.region_id == task.region_id,
                col(PlanningTask.part) > 0,
                PlanningTask.status == JobStatus.queued,
            )
            .values(status=JobStatus.failed, message=reason, outcome={"error": reason})
        )


def _territory(
    engine: sa.Engine,
    task: Claimed,
    params: ParamsFor,
    travel: routing.MatrixProvider | None,
    hand_over: HandOver,
) -> None:
    """Solve one territory and keep its solution for the lead; the last territory to end
    hands the lead over."""
    outcome: dict[str, Any] = {}
    solution = None
    try:
        label = f"{task.label}: {len(task.scope['jobs'])} visits"
        _progress(engine, task, 0.1, f"{label}: solving")
        found = territories.solve_part(
            engine,
            task.region_id,
            task.scope,
            first=task.starts_on,
            days=task.days,
            params=params(task.time_limit_seconds),
            strategy=task.strategy,
            travel=travel,
            progress=_reporter(engine, task, label),
        )
        solution, outcome = found.to_dict(), territories.summary(found)
    except LEFT_TO_TAKEOVER:
        raise
    except Exception as error:
        log.exception("planning task %s (%s) failed", task.id, task.label)
        outcome = {"error": f"{task.label}: {type(error).__name__}: {error}"}
    _end(engine, task, outcome, solution=solution)
    with db.transaction(engine) as session:
        lead = session.exec(
            select(PlanningTask).where(
                PlanningTask.job_id == task.job_id,
                PlanningTask.region_id == task.region_id,
                PlanningTask.part == 0,
            )
        ).one()
        if ready(session, lead) and lead.status is JobStatus.queued:
            hand_over(lead.id)  # type: ignore[arg-type]


def _record(session: Session, task: Claimed, **values: Any) -> None:
    session.execute(sa.update(PlanningTask).where(col(PlanningTask.id) == task.id).values(**values))


def _end(engine: sa.Engine, task: Claimed, outcome: dict[str, Any], **values: Any) -> None:
    failed = "error" in outcome
    outcome = outcome | {"worker": task.owner.rsplit(":", 1)[0]}
    with db.transaction(db.writers(engine)) as session:
        renew(session, task)
        _record(
            session,
            task,
            status=JobStatus.failed if failed else JobStatus.succeeded,
            progress=1.0,
            message=(outcome["error"] if failed else "done")[:MESSAGE_LIMIT],
            outcome=outcome,
            lease_until=None,
            finished_at=utc_now(),
            **values,
        )


def _progress(engine: sa.Engine, task: Claimed, share: float, message: str) -> None:
    """The task's progress, and its job's: the mean over the job's tasks."""
    with db.transaction(db.writers(engine)) as session:
        mine = session.execute(
            sa.update(PlanningTask)
            .where(col(PlanningTask.id) == task.id, PlanningTask.lease_owner == task.owner)
            .values(progress=round(min(max(share, 0.0), 1.0), 3), message=message[:MESSAGE_LIMIT])
        )
        if mine.rowcount != 1:  # type: ignore[attr-defined]
            return
        mean = (
            select(sa.func.avg(PlanningTask.progress))
            .where(PlanningTask.job_id == task.job_id)
            .scalar_subquery()
        )
        session.execute(
            sa.update(PlanningJob)
            .where(col(PlanningJob.id) == task.job_id, PlanningJob.status == JobStatus.running)
            .values(progress=mean, message=message[:MESSAGE_LIMIT])
        )


def _reporter(engine: sa.Engine, task: Claimed, label: str) -> Callable[[float, float], None]:
    """The solver's progress callback: the best objective so far, at most once a second."""
    last = [-math.inf]
    limit = task.time_limit_seconds

    def report(objective: float, elapsed: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = now
        share = 0.1 + 0.8 * min(1.0, elapsed / limit)
        try:
            _progress(engine, task, share, f"{label}: best {objective:,.0f} at {elapsed:.1f} s")
        except Exception:
            # A progress report lost is no reason to lose the plan.
            log.warning("planning task %s: progress not recorded", task.id, exc_info=True)

    return report


def plain(value: Any) -> Any:
    """A refusal's value as JSON can hold it (dates and the like become text)."""
    return json.loads(json.dumps(value, default=str))
