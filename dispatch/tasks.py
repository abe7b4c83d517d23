"""Planning tasks (one region of a job) as workers run them: claimed under a lease renewed by a
heartbeat, one task per region at a time (the region lock), and stages recorded in the task's
row so that a worker taking over a dead worker's task never stores or publishes twice."""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import db, planning, territories
from dispatch.models import JobStatus, Plan, PlanningJob, PlanningTask, Region, RegionLock
from schedules.errors import DomainError

log = logging.getLogger(__name__)
# Solver progress reaches the rows at most this often: each report is a transaction.
PROGRESS_EVERY_SECONDS = 1.0
MESSAGE_LIMIT = 500
# A task whose workers keep dying (or cannot reach the database to record an end) is given
# up after this many starts instead of being taken over for ever.
MAX_ATTEMPTS = 3
ENDED = (JobStatus.succeeded, JobStatus.failed)

ParamsFor = Callable[[int], routing.SolveParams]
# Where a task sends the tasks it makes ready (a queue's send, or this process's pool).
HandOver = Callable[[int], None]


class Ran(StrEnum):
    """What became of a hand-over of a task to a worker."""

    done = "done"  # it ended (succeeded or failed) here, or (a lead) cut its region
    not_ours = "not_ours"  # ended already, running under another worker's live lease, or
    # not ready (a territory before its lead cut the region, a lead before its territories)
    busy = "busy"  # its region is being planned by another job: hand it over again later


class LeaseLost(Exception):
    """Another worker took the task over (this one stalled past its lease): stop writing."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A task this worker holds, with what its job asks for."""

    id: int
    job_id: int
    region_id: int
    code: str
    owner: str
    lease: float
    plan_id: int | None
    published: bool
    outcome: dict[str, Any]
    starts_on: date
    days: int
    strategy: str
    time_limit_seconds: int
    publish: bool
    part: int = 0
    parts: int = 0
    scope: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.code} territory {self.part}/{self.parts}" if self.part else self.code


def new_owner() -> str:
    """This run's lease owner: the host and process (for people reading the row) and a random
    part, so that two runs in one process never pass for each other."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def _now() -> datetime:
    return datetime.now(UTC)


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
        log.warning("planning task %s was taken over by another worker; stopped", task_id)
        return Ran.not_ours
    finally:
        heartbeat.stop()
        if final:
            _unlock(engine, claimed)
    return Ran.done


def claim(engine: sa.Engine, task_id: int, owner: str, lease: float) -> Claimed | Ran:
    """Take task ``task_id`` (queued, or running under a lease that ran out) together with its
    region's lock for its job, in one transaction: a busy region, or a task not ready to run,
    leaves the task as it was."""
    holder: int | None = None
    with db.transaction(db.writers(engine)) as session:
        now = _now()
        taken = session.execute(
            sa.update(PlanningTask)
            .where(col(PlanningTask.id) == task_id, _claimable(now))
            .values(
                status=JobStatus.running,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease),
                attempts=PlanningTask.attempts + 1,
                started_at=sa.func.coalesce(PlanningTask.started_at, now),
                message="starting",
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return Ran.not_ours
        task = session.get_one(PlanningTask, task_id)
        if not _ready(session, task):
            session.rollback()
            return Ran.not_ours
        holder = _lock(session, task.region_id, task.job_id, now, now + timedelta(seconds=lease))
        if holder is not None:
            session.rollback()
        else:
            job = session.get_one(PlanningJob, task.job_id)
            session.execute(
                sa.update(PlanningJob)
                .where(col(PlanningJob.id) == job.id, PlanningJob.status == JobStatus.queued)
                .values(status=JobStatus.running, started_at=now)
            )
            return Claimed(
                id=task_id,
                job_id=job.id,  # type: ignore[arg-type]
                region_id=task.region_id,
                code=session.get_one(Region, task.region_id).code,
                owner=owner,
                lease=lease,
                plan_id=task.plan_id,
                published=task.published,
                outcome=dict(task.outcome),
                starts_on=job.starts_on,
                days=job.days,
                strategy=job.strategy,
                time_limit_seconds=job.time_limit_seconds,
                publish=job.publish,
                part=task.part,
                parts=task.parts,
                scope=dict(task.scope),
            )
    _waiting(engine, task_id, holder)
    return Ran.busy


def _ready(session: Session, task: PlanningTask) -> bool:
    """A territory runs once its lead has cut the region; a lead that has cut it assembles
    once every territory has ended."""
    if task.part:
        return bool(task.scope)
    if not task.parts or "read_at" not in task.scope:
        return True
    return not session.exec(
        select(PlanningTask.id).where(
            PlanningTask.job_id == task.job_id,
            PlanningTask.region_id == task.region_id,
            col(PlanningTask.part) > 0,
            col(PlanningTask.status).not_in(ENDED),
        )
    ).first()


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        PlanningTask.status == JobStatus.queued,
        sa.and_(
            PlanningTask.status == JobStatus.running,
            col(PlanningTask.lease_until) < now,
            col(PlanningTask.attempts) < MAX_ATTEMPTS,
        ),
    )


def _lock(
    session: Session, region_id: int, job_id: int, now: datetime, until: datetime
) -> int | None:
    """Hold the region for job ``job_id`` (None) or name the job holding it. A lock whose
    holder stopped renewing it has lapsed and is taken."""
    taken = session.execute(
        sa.update(RegionLock)
        .where(
            col(RegionLock.region_id) == region_id,
            sa.or_(col(RegionLock.held_until) < now, RegionLock.job_id == job_id),
        )
        .values(job_id=job_id, held_until=until)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return None
    held = session.get(RegionLock, region_id)
    if held is not None:
        return held.job_id
    try:
        # Two first takers race on the primary key: the loser sees the winner's row.
        with session.begin_nested():
            session.add(RegionLock(region_id=region_id, job_id=job_id, held_until=until))
    except sa.exc.IntegrityError:
        held = session.get(RegionLock, region_id, populate_existing=True)
        return held.job_id if held is not None else -1
    return None


def _unlock(engine: sa.Engine, task: Claimed) -> None:
    try:
        with db.transaction(db.writers(engine)) as session:
            session.execute(
                sa.delete(RegionLock).where(
                    col(RegionLock.region_id) == task.region_id, RegionLock.job_id == task.job_id
                )
            )
    except Exception:
        # It lapses by itself when its time is up.
        log.warning("planning task %s: region lock not released", task.id, exc_info=True)


def _waiting(engine: sa.Engine, task_id: int, holder: int | None) -> None:
    with db.transaction(db.writers(engine)) as session:
        session.execute(
            sa.update(PlanningTask)
            .where(col(PlanningTask.id) == task_id, PlanningTask.status == JobStatus.queued)
            .values(
                message="waiting: the region is being planned"
                + (f" by job {holder}" if holder and holder > 0 else "")
            )
        )


class Heartbeat:
    """Renews a task's lease and its region's lock every third of the lease, in a thread, so
    that a worker that dies (or hangs) lets go within one lease."""

    def __init__(self, engine: sa.Engine, task: Claimed) -> None:
        self.engine, self.task = engine, task
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{task.id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.task.lease / 3):
            try:
                with db.transaction(db.writers(self.engine)) as session:
                    renew(session, self.task)
            except LeaseLost:
                return
            except Exception:
                # The next beat may get through; the lease is three beats long.
                log.warning("planning task %s: lease not renewed", self.task.id, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def renew(session: Session, task: Claimed) -> None:
    """Extend the lease and the region lock, or raise LeaseLost when the task is no longer
    this worker's. Every write of a stage does this first in its own transaction, which on
    PostgreSQL also locks the task's row until commit: a takeover waits, then sees a live
    lease."""
    until = _now() + timedelta(seconds=task.lease)
    kept = session.execute(
        sa.update(PlanningTask)
        .where(
            col(PlanningTask.id) == task.id,
            PlanningTask.lease_owner == task.owner,
            PlanningTask.status == JobStatus.running,
        )
        .values(lease_until=until)
    )
    if kept.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(task.id)
    session.execute(
        sa.update(RegionLock)
        .where(col(RegionLock.region_id) == task.region_id, RegionLock.job_id == task.job_id)
        .values(held_until=until)
    )


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
    except (LeaseLost, sa.exc.OperationalError, sa.exc.InterfaceError):
        # Lost to another worker, or the database is unreachable: left to a takeover.
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
        read_at = _now()
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
        return list(
            session.exec(
                select(PlanningTask)
                .where(
                    PlanningTask.job_id == task.job_id,
                    PlanningTask.region_id == task.region_id,
                    col(PlanningTask.part) > 0,
                )
                .order_by(col(PlanningTask.part))
            )
        )


def _cut(
    engine: sa.Engine, task: Claimed, travel: routing.MatrixProvider | None, hand_over: HandOver
) -> None:
    """The lead's first turn: read the region, cut it into territories, record their shares,
    go back to waiting (its lease given up, the region lock kept for the job) and hand the
    territories over. A failure fails the lead and its territories alike."""
    try:
        _progress(engine, task, 0.0, f"{task.code}: reading to cut {task.parts} territories")
        read_at = _now()
        built = territories.read(engine, task.region_id, task.starts_on, task.days, travel)
        with db.transaction(db.writers(engine)) as session:
            renew(session, task)
            lead = session.get_one(PlanningTask, task.id)
            ready = territories.cut(session, lead, built, read_at)
            lead.status, lead.lease_owner, lead.lease_until = JobStatus.queued, None, None
            lead.attempts = 0  # the assembly is a turn of its own
            lead.message = f"{task.code}: waiting for {task.parts} territories"
    except (LeaseLost, sa.exc.OperationalError, sa.exc.InterfaceError):
        raise
    except Exception as error:
        log.exception("planning task %s could not cut region %s", task.id, task.code)
        _end(engine, task, {"error": f"could not cut the region: {type(error).__name__}: {error}"})
        _fail_parts(engine, task, "the region could not be cut into territories")
        _unlock(engine, task)
        return
    for part in ready:
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
    except (LeaseLost, sa.exc.OperationalError, sa.exc.InterfaceError):
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
        if _ready(session, lead) and lead.status is JobStatus.queued:
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
            finished_at=_now(),
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


def abandoned(engine: sa.Engine) -> tuple[list[int], list[int]]:
    """Tasks whose worker stopped renewing the lease: those put back in the queue for another
    worker to take over (hand them over again), and those given up after MAX_ATTEMPTS
    (failed, saying why; their jobs may now be complete). Each task is returned to one
    caller only, however many workers look at once."""
    requeued: list[int] = []
    given_up: list[int] = []
    lapsed_now = (PlanningTask.status == JobStatus.running, col(PlanningTask.lease_until) < _now())
    with db.transaction(engine) as session:
        # A look first: on SQLite a writing transaction locks out every other writer.
        if session.exec(select(PlanningTask.id).where(*lapsed_now)).first() is None:
            return requeued, given_up
    with db.transaction(db.writers(engine)) as session:
        now = _now()
        lapsed = session.exec(
            select(PlanningTask)
            .where(PlanningTask.status == JobStatus.running, col(PlanningTask.lease_until) < now)
            .with_for_update(skip_locked=True)
        ).all()
        for task in lapsed:
            if task.attempts >= MAX_ATTEMPTS:
                reason = f"given up after {task.attempts} attempts whose workers stopped"
                task.status, task.message = JobStatus.failed, reason
                task.outcome = task.outcome | {"error": reason}
                task.finished_at, task.lease_until = now, None
                given_up.append(task.id)  # type: ignore[arg-type]
            else:
                task.status, task.message = JobStatus.queued, "taken over: its worker stopped"
                requeued.append(task.id)  # type: ignore[arg-type]
    if requeued or given_up:
        log.warning("planning tasks taken over: %s; given up: %s", requeued, given_up)
    return requeued, given_up


def stranded_leads(engine: sa.Engine, seconds: float) -> list[int]:
    """Leads waiting for territories that all ended over ``seconds`` ago."""
    before = _now() - timedelta(seconds=seconds)
    with db.transaction(engine) as session:
        leads = session.exec(
            select(PlanningTask).where(
                PlanningTask.part == 0,
                col(PlanningTask.parts) > 0,
                PlanningTask.status == JobStatus.queued,
            )
        ).all()
        stranded = []
        for lead in leads:
            if "read_at" not in lead.scope or not _ready(session, lead):
                continue
            last = session.exec(
                select(sa.func.max(PlanningTask.finished_at)).where(
                    PlanningTask.job_id == lead.job_id,
                    PlanningTask.region_id == lead.region_id,
                    col(PlanningTask.part) > 0,
                )
            ).one()
            if last is not None and last < before:
                stranded.append(lead.id)
        return stranded  # type: ignore[return-value]


def plain(value: Any) -> Any:
    """A refusal's value as JSON can hold it (dates and the like become text)."""
    return json.loads(json.dumps(value, default=str))
