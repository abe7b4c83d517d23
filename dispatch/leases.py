"""Leases on planning tasks: a worker claims a task (with its region's lock, held by the job)
under a lease a heartbeat renews and every write checks, so that a task whose worker died is
taken over by another, and a worker that lost its lease writes nothing more."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dispatch import db
from dispatch.models import JobStatus, PlanningJob, PlanningTask, Region, RegionLock

log = logging.getLogger(__name__)
# A task whose workers keep dying (or cannot reach the database to record an end) is given
# up after this many starts instead of being taken over for ever.
MAX_ATTEMPTS = 3
ENDED = (JobStatus.succeeded, JobStatus.failed)


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


def utc_now() -> datetime:
    return datetime.now(UTC)


def claim(engine: sa.Engine, task_id: int, owner: str, lease: float) -> Claimed | Ran:
    """Take task ``task_id`` (queued, or running under a lease that ran out) together with its
    region's lock for its job, in one transaction: a busy region, or a task not ready to run,
    leaves the task as it was."""
    holder: int | None = None
    with db.transaction(db.writers(engine)) as session:
        now = utc_now()
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
        if not ready(session, task):
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


def ready(session: Session, task: PlanningTask) -> bool:
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


def _lapsed(now: datetime) -> sa.ColumnElement[bool]:
    """Running, under a lease nobody renewed in time."""
    return sa.and_(PlanningTask.status == JobStatus.running, col(PlanningTask.lease_until) < now)


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        PlanningTask.status == JobStatus.queued,
        sa.and_(_lapsed(now), col(PlanningTask.attempts) < MAX_ATTEMPTS),
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


def unlock(engine: sa.Engine, task: Claimed) -> None:
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
    until = utc_now() + timedelta(seconds=task.lease)
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


def abandoned(engine: sa.Engine) -> tuple[list[int], list[int]]:
    """Tasks whose worker stopped renewing the lease: those put back in the queue for another
    worker to take over (hand them over again), and those given up after MAX_ATTEMPTS
    (failed, saying why; their jobs may now be complete). Each task is returned to one
    caller only, however many workers look at once."""
    requeued: list[int] = []
    given_up: list[int] = []
    with db.transaction(engine) as session:
        # A look first: on SQLite a writing transaction locks out every other writer.
        if session.exec(select(PlanningTask.id).where(_lapsed(utc_now()))).first() is None:
            return requeued, given_up
    with db.transaction(db.writers(engine)) as session:
        now = utc_now()
        lapsed = session.exec(
            select(PlanningTask).where(_lapsed(now)).with_for_update(skip_locked=True)
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
    before = utc_now() - timedelta(seconds=seconds)
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
            if "read_at" not in lead.scope or not ready(session, lead):
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
