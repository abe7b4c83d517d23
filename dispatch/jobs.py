"""Planning as a background job: a request is checked and queued as a PlanningJob row with one
task per region (dispatch.tasks), an executor runs the tasks outside the request (several at
once on several workers), and the job's progress, plans and result live in its row."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import adapter, db, inputs, leases, planning, tasks, territories
from dispatch.models import (
    JobStatus,
    PlanningJob,
    PlanningTask,
    Region,
    ServiceRequest,
    Site,
    Visit,
)
from dispatch.settings import Settings
from dispatch.tasks import MESSAGE_LIMIT, ParamsFor
from schedules.errors import InvalidError, TooLargeError

log = logging.getLogger(__name__)
# Transactions that write go through db.writers(): on SQLite they wait for the write lock
# instead of failing when an API request is writing at the same moment.
# How often a task waits to look again at a region another plan holds.
BUSY_RETRY_SECONDS = 1.0


def wall_clock(seconds: int) -> routing.SolveParams:
    """How jobs search by default: for the job's time limit."""
    return routing.SolveParams(time_limit_seconds=seconds)


class Executor(Protocol):
    """Where queued jobs run: this process's threads, or workers fed by a task queue."""

    def submit(self, job_id: int) -> None: ...

    def shutdown(self) -> None: ...


ExecutorFactory = Callable[[sa.Engine, Settings], Executor]


def open_visits(session: Session, region_ids: list[int], last: date) -> dict[int, int]:
    """Visits a plan of each of ``region_ids`` up to local day ``last`` would take on (the
    adapter's own choice: open, and allowed to start by then); regions with none are left
    out."""
    return dict(
        session.exec(
            select(Site.region_id, sa.func.count(col(Visit.id)))
            .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
            .join(Site, col(Site.id) == ServiceRequest.site_id)
            .where(
                col(Site.region_id).in_(region_ids),
                col(Visit.status).in_(adapter.PLANNABLE),
                Visit.earliest_date <= last,
            )
            .group_by(Site.region_id)
        ).all()
    )


def request_plan(
    session: Session,
    *,
    region_code: str | None,
    starts_on: date,
    days: int,
    strategy: str,
    time_limit_seconds: int | None,
    publish: bool,
    requested_by: int | None,
    settings: Settings,
) -> PlanningJob:
    """Queue a plan of one region (every region when ``region_code`` is None: one task per
    region) from local day ``starts_on`` for ``days`` days, refused up front when it is
    malformed, asks for more solver time than allowed, or would take on more open visits in a
    region than one plan may (each region is solved on its own)."""
    inputs.day("starts_on", starts_on)
    planning.check_request(strategy, days)
    limit = (
        math.ceil(settings.solver_time_limit_seconds)
        if time_limit_seconds is None
        else time_limit_seconds
    )
    if isinstance(limit, bool) or not 1 <= limit <= settings.max_plan_seconds:
        raise InvalidError(
            f"time_limit_seconds {limit!r} is outside 1..{settings.max_plan_seconds}",
            field="time_limit_seconds",
            value=limit,
        )
    if region_code is None:
        regions = dict(session.exec(select(Region.id, Region.code)).all())
        region_id = None
    else:
        region = planning.region_by_code(session, region_code)
        region_id = region.id
        regions = {region.id: region.code}
    counts = open_visits(session, list(regions), starts_on + timedelta(days=days - 1))  # type: ignore[arg-type]
    largest, count = max(counts.items(), key=lambda item: item[1], default=(None, 0))
    if count > settings.max_plan_visits:
        raise TooLargeError(
            f"the plan of region {regions[largest]} would take on {count} open visits, more "  # type: ignore[index]
            f"than the {settings.max_plan_visits} allowed; plan fewer days at a time",
            field="visits",
            value=count,
        )
    job = inputs.validated(
        PlanningJob,
        {
            "region_id": region_id,
            "starts_on": starts_on,
            "days": days,
            "strategy": strategy,
            "time_limit_seconds": limit,
            "publish": publish,
            "requested_by": requested_by,
            "message": "queued",
        },
    )
    session.add(job)
    session.flush()
    for each in sorted(regions, key=lambda each: regions[each]):
        parts = territories.parts_for(counts.get(each, 0), settings.territory_visits)
        session.add_all(
            PlanningTask(job_id=job.id, region_id=each, part=part, parts=parts)  # type: ignore[arg-type]
            for part in range(parts + 1)
        )
    session.flush()
    return job


def run(
    engine: sa.Engine, job_id: int, settings: Settings, *, params: ParamsFor = wall_clock
) -> None:
    """Run every task of job ``job_id`` here, one after another (a region being planned by
    another job is waited for), then sum the job up. Whatever happens, the job ends succeeded
    or failed, never left running."""
    try:
        # A lead hands its territories over, the last territory its lead: they queue here.
        pending = deque(task_ids(engine, job_id))
        while pending:
            run_task(
                engine,
                pending.popleft(),
                settings,
                params=params,
                wait=True,
                hand_over=pending.append,
            )
        finish_if_done(engine, job_id)
    except Exception as error:
        log.exception("planning job %s failed", job_id)
        fail(engine, job_id, f"unexpected error: {type(error).__name__}: {error}")


def task_ids(engine: sa.Engine, job_id: int) -> list[int]:
    """The job's tasks that can start now, in region order: one per region (a territory
    starts once its lead has cut the region, which hands it over)."""
    with db.transaction(engine) as session:
        return list(
            session.exec(
                select(PlanningTask.id)
                .join(Region, col(Region.id) == PlanningTask.region_id)
                .where(
                    PlanningTask.job_id == job_id,
                    PlanningTask.part == 0,
                    col(PlanningTask.status).not_in(leases.ENDED),
                )
                .order_by(Region.code)
            )
        )  # type: ignore[arg-type]


def run_task(
    engine: sa.Engine,
    task_id: int,
    settings: Settings,
    *,
    params: ParamsFor = wall_clock,
    wait: bool = False,
    hand_over: tasks.HandOver = lambda _: None,
) -> leases.Ran:
    """Run one task here (``wait``: while its region is busy, wait for it up to the longest
    plan there can be), handing over the tasks it makes ready, and, when it was the job's
    last, sum the job up."""
    travel = routing.Osrm(settings.osrm_url) if settings.osrm_url else None
    deadline = time.monotonic() + settings.max_plan_seconds + 2 * settings.job_lease_seconds
    while True:
        ran = tasks.run(
            engine,
            task_id,
            lease=settings.job_lease_seconds,
            params=params,
            travel=travel,
            hand_over=hand_over,
        )
        if ran is not leases.Ran.busy or not wait:
            break
        if time.monotonic() > deadline:
            give_up(engine, task_id, "its region stayed busy with another plan; plan again")
            return leases.Ran.done
        time.sleep(BUSY_RETRY_SECONDS)
    if ran is leases.Ran.done:
        finish_if_done(engine, job_of_task(engine, task_id))
    return ran


def job_of_task(engine: sa.Engine, task_id: int) -> int:
    with db.transaction(engine) as session:
        return session.get_one(PlanningTask, task_id).job_id


def give_up(engine: sa.Engine, task_id: int, reason: str) -> None:
    """Fail a task that is still queued, saying why, and sum up its job if it was the last."""
    with db.transaction(db.writers(engine)) as session:
        task = session.get_one(PlanningTask, task_id)
        if task.status is JobStatus.queued:
            task.status, task.message, task.finished_at = (
                JobStatus.failed,
                reason,
                datetime.now(UTC),
            )
            task.outcome = task.outcome | {"error": reason}
        job_id = task.job_id
    finish_if_done(engine, job_id)


def fail(engine: sa.Engine, job_id: int, message: str) -> None:
    """Mark a job that has not ended as failed, saying why, with its tasks not yet begun."""
    try:
        with db.transaction(db.writers(engine)) as session:
            now = datetime.now(UTC)
            session.execute(
                sa.update(PlanningTask)
                .where(PlanningTask.job_id == job_id, PlanningTask.status == JobStatus.queued)
                .values(status=JobStatus.failed, message=message[:MESSAGE_LIMIT], finished_at=now)
            )
            session.execute(
                sa.update(PlanningJob)
                .where(
                    col(PlanningJob.id) == job_id,
                    col(PlanningJob.status).in_((JobStatus.queued, JobStatus.running)),
                )
                .values(status=JobStatus.failed, message=message[:MESSAGE_LIMIT], finished_at=now)
            )
    except Exception:
        log.exception("could not record the failure of planning job %s", job_id)


def finish_if_done(engine: sa.Engine, job_id: int) -> bool:
    """Sum the job up once every task has ended (whichever task ends last does it; each
    checks after its own end is committed, so the last one sees them all)."""
    with db.transaction(engine) as session:
        rows = session.exec(
            select(Region.code, PlanningTask.part, PlanningTask.status, PlanningTask.outcome)
            .join(Region, col(Region.id) == PlanningTask.region_id)
            .where(PlanningTask.job_id == job_id)
        ).all()
    if any(status not in leases.ENDED for _, _, status, _ in rows):
        return False
    # A region's outcome is its lead's (territories report through it).
    outcomes = {
        code: outcome or {"error": "not run"} for code, part, _, outcome in rows if not part
    }
    _finish(engine, job_id, outcomes)
    return True


def _finish(engine: sa.Engine, job_id: int, outcomes: dict[str, dict[str, Any]]) -> None:
    failed = sorted(code for code, outcome in outcomes.items() if "error" in outcome)
    done = [outcome for outcome in outcomes.values() if "error" not in outcome]
    reasons: dict[str, int] = {}
    for outcome in done:
        for reason, n in outcome["unassigned_by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    result = {
        "assigned": sum(o["assigned"] for o in done),
        "unassigned": sum(o["unassigned"] for o in done),
        "unassigned_by_reason": reasons,
        "travel_km": round(sum(o["travel_km"] for o in done), 1),
        "regions": outcomes,
        "failed_regions": failed,
    }
    plan_ids = [o["plan_id"] for o in outcomes.values() if o.get("plan_id") is not None]
    if not outcomes:
        message = "no regions to plan"
    elif failed:
        first = outcomes[failed[0]]["error"]
        message = f"{len(failed)} of {len(outcomes)} region(s) failed: {failed[0]}: {first}"
    else:
        message = (
            f"planned {', '.join(sorted(outcomes))}: {result['assigned']} visits assigned, "
            f"{result['unassigned']} unassigned"
        )
    with db.transaction(db.writers(engine)) as session:
        session.execute(
            sa.update(PlanningJob)
            .where(
                col(PlanningJob.id) == job_id,
                col(PlanningJob.status).in_((JobStatus.queued, JobStatus.running)),
            )
            .values(
                status=JobStatus.failed if failed else JobStatus.succeeded,
                progress=1.0,
                message=message[:MESSAGE_LIMIT],
                plan_ids=plan_ids,
                result=result,
                finished_at=datetime.now(UTC),
            )
        )


class Sweeper:
    """Every lease, hands over again the tasks whose worker stopped renewing theirs (another
    process's, or this one's before a restart), and sums up the jobs of tasks given up."""

    def __init__(
        self, engine: sa.Engine, settings: Settings, hand_over: Callable[[int], None]
    ) -> None:
        self.engine, self.hand_over = engine, hand_over
        self.every = settings.job_lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="planning-sweeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sweep()
            except Exception:
                log.warning("looking for abandoned planning tasks failed", exc_info=True)

    def sweep(self) -> list[int]:
        requeued, given_up = leases.abandoned(self.engine)
        # Leads whose territories all ended a lease ago without handing them over (the
        # last one's worker died between its end and the hand-over).
        requeued += leases.stranded_leads(self.engine, self.every)
        for task_id in requeued:
            self.hand_over(task_id)
        for job_id in {job_of_task(self.engine, task_id) for task_id in given_up}:
            finish_if_done(self.engine, job_id)
        return requeued

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def queued_tasks(engine: sa.Engine) -> list[int]:
    with db.transaction(engine) as session:
        return list(
            session.exec(
                select(PlanningTask.id)
                .where(PlanningTask.status == JobStatus.queued)
                .order_by(PlanningTask.id)
            )
        )  # type: ignore[arg-type]


class InProcessExecutor:
    """Runs jobs on a small thread pool of this process; ``inline`` runs each at once in the
    submitting thread (tests, scripts). Jobs still waiting at shutdown are marked failed.
    ``resume`` (servers): tasks left queued or abandoned by a server that stopped are run
    here, and those of another server process that dies are taken over."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        *,
        workers: int = 1,
        inline: bool = False,
        params: ParamsFor = wall_clock,
        resume: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.params = params
        self._pool = (
            None
            if inline
            else ThreadPoolExecutor(max_workers=workers, thread_name_prefix="planning-job")
        )
        self._waiting: dict[int, Future[None]] = {}
        self._lock = threading.Lock()
        self._sweeper: Sweeper | None = None
        if resume and self._pool is not None:
            for task_id in queued_tasks(engine):
                self._pool.submit(self._task, task_id)
            self._sweeper = Sweeper(
                engine, settings, lambda task_id: self._pool.submit(self._task, task_id)
            )  # type: ignore[union-attr]

    def _task(self, task_id: int) -> None:
        try:
            run_task(
                self.engine,
                task_id,
                self.settings,
                params=self.params,
                wait=True,
                hand_over=lambda follow: self._pool.submit(self._task, follow),  # type: ignore[union-attr]
            )
        except Exception:
            log.exception("planning task %s failed; it is taken over when its lease ends", task_id)

    def submit(self, job_id: int) -> None:
        if self._pool is None:
            run(self.engine, job_id, self.settings, params=self.params)
            return
        future = self._pool.submit(run, self.engine, job_id, self.settings, params=self.params)
        with self._lock:
            self._waiting[job_id] = future
        future.add_done_callback(lambda _: self._forget(job_id))

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._waiting.pop(job_id, None)

    def shutdown(self) -> None:
        """Wait for the jobs running now; fail those that have not begun (their requesters
        see why instead of a job queued for ever)."""
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._pool is None:
            return
        with self._lock:
            waiting = dict(self._waiting)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for job_id, future in waiting.items():
            if future.cancelled():
                fail(self.engine, job_id, "the server stopped before the job began; request again")
