"""Planning as a background job: a request is checked and queued as a PlanningJob row, an
executor runs it outside the request, and its progress, plans and result live in that row."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

import routing
from dispatch import adapter, db, inputs, planning
from dispatch.models import (
    JobStatus,
    Plan,
    PlanningJob,
    Region,
    ServiceRequest,
    Site,
    Visit,
)
from dispatch.settings import Settings
from schedules.errors import DomainError, InvalidError, TooLargeError

log = logging.getLogger(__name__)
# Solver progress reaches the job row at most this often: each report is a transaction.
PROGRESS_EVERY_SECONDS = 1.0
MESSAGE_LIMIT = 500
# Transactions that write go through db.writers(): on SQLite they wait for the write lock
# instead of failing when an API request is writing at the same moment.

ParamsFor = Callable[[int], routing.SolveParams]


def wall_clock(seconds: int) -> routing.SolveParams:
    """How jobs search by default: for the job's time limit."""
    return routing.SolveParams(time_limit_seconds=seconds)


class Executor(Protocol):
    """Where queued jobs run: this process's threads now, a task queue later."""

    def submit(self, job_id: int) -> None: ...

    def shutdown(self) -> None: ...


ExecutorFactory = Callable[[sa.Engine, Settings], Executor]


def open_visits(session: Session, region_ids: list[int], last: date) -> int:
    """Visits a plan of ``region_ids`` up to local day ``last`` would take on (the adapter's
    own choice: open, and allowed to start by then)."""
    return session.exec(
        select(sa.func.count(col(Visit.id)))
        .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
        .join(Site, col(Site.id) == ServiceRequest.site_id)
        .where(
            col(Site.region_id).in_(region_ids),
            col(Visit.status).in_(adapter.PLANNABLE),
            Visit.earliest_date <= last,
        )
    ).one()


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
    """Queue a plan of one region (every region when ``region_code`` is None) from local day
    ``starts_on`` for ``days`` days, refused up front when it is malformed, asks for more
    solver time than allowed, or would take on more open visits than allowed."""
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
        region_ids = list(session.exec(select(Region.id)))
        region_id = None
    else:
        region_id = planning.region_by_code(session, region_code).id
        region_ids = [region_id]
    count = open_visits(session, region_ids, starts_on + timedelta(days=days - 1))  # type: ignore[arg-type]
    if count > settings.max_plan_visits:
        raise TooLargeError(
            f"the plan would take on {count} open visits, more than the {settings.max_plan_visits} "
            "allowed; plan one region or fewer days at a time",
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
    return job


def run(
    engine: sa.Engine, job_id: int, settings: Settings, *, params: ParamsFor = wall_clock
) -> None:
    """Run queued job ``job_id`` to its end: each region read, solved and written like
    ``dispatch plan`` does (no transaction spans a solve), progress in transactions of its
    own. A region that fails is recorded with its error and the others go on; whatever
    happens, the job ends succeeded or failed, never left running."""
    try:
        claimed = _claim(engine, job_id)
        if claimed is None:
            return
        job, regions = claimed
        travel = routing.Osrm(settings.osrm_url) if settings.osrm_url else None
        outcomes = {}
        for index, (region_id, code) in enumerate(regions):
            outcomes[code] = _plan_region(
                engine, job, region_id, code, (index, len(regions)), params, travel
            )
        _finish(engine, job_id, outcomes)
    except Exception as error:
        log.exception("planning job %s failed", job_id)
        fail(engine, job_id, f"unexpected error: {type(error).__name__}: {error}")


def fail(engine: sa.Engine, job_id: int, message: str) -> None:
    """Mark a job that has not ended as failed, saying why."""
    try:
        with db.transaction(db.writers(engine)) as session:
            session.execute(
                sa.update(PlanningJob)
                .where(
                    col(PlanningJob.id) == job_id,
                    col(PlanningJob.status).in_((JobStatus.queued, JobStatus.running)),
                )
                .values(
                    status=JobStatus.failed,
                    message=message[:MESSAGE_LIMIT],
                    finished_at=datetime.now(UTC),
                )
            )
    except Exception:
        log.exception("could not record the failure of planning job %s", job_id)


def _claim(engine: sa.Engine, job_id: int) -> tuple[PlanningJob, list[tuple[int, str]]] | None:
    """Take a queued job (None: unknown, or another worker took it first, as a task queue
    that delivers twice would make happen) and list the regions it plans."""
    with db.transaction(db.writers(engine)) as session:
        taken = session.execute(
            sa.update(PlanningJob)
            .where(col(PlanningJob.id) == job_id, PlanningJob.status == JobStatus.queued)
            .values(status=JobStatus.running, started_at=datetime.now(UTC), message="starting")
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("planning job %s is not queued; not running it", job_id)
            return None
        job = session.get_one(PlanningJob, job_id)
        query = select(Region.id, Region.code).order_by(Region.code)
        if job.region_id is not None:
            query = query.where(Region.id == job.region_id)
        regions = [(region_id, code) for region_id, code in session.exec(query)]
        session.expunge(job)
    return job, regions  # type: ignore[return-value]


def _progress(engine: sa.Engine, job_id: int, share: float, message: str) -> None:
    with db.transaction(db.writers(engine)) as session:
        session.execute(
            sa.update(PlanningJob)
            .where(col(PlanningJob.id) == job_id)
            .values(progress=round(min(max(share, 0.0), 1.0), 3), message=message[:MESSAGE_LIMIT])
        )


def _plan_region(
    engine: sa.Engine,
    job: PlanningJob,
    region_id: int,
    code: str,
    place: tuple[int, int],
    params: ParamsFor,
    travel: routing.MatrixProvider | None,
) -> dict[str, Any]:
    """One region's plan (and publication when asked), or why not."""
    index, count = place
    job_id: int = job.id  # type: ignore[assignment]

    def at(step: float) -> float:
        return (index + step) / count

    planned: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        _progress(engine, job_id, at(0), f"{code}: reading")
        read_at = datetime.now(UTC)
        with db.transaction(engine) as session:
            region = session.get_one(Region, region_id)
            built = adapter.build(session, region, job.starts_on, job.days, travel=travel)
        label = f"{code}: {len(built.visits)} visits, {len(built.technicians)} technicians"
        _progress(engine, job_id, at(0.1), f"{label}: solving")
        solution = planning.solve_built(
            built,
            params=params(job.time_limit_seconds),
            strategy=job.strategy,
            progress=_reporter(engine, job_id, label, at, job.time_limit_seconds),
        )
        _progress(engine, job_id, at(0.9), f"{label}: storing")
        with db.transaction(db.writers(engine)) as session:
            plan = planning.store_plan(
                session,
                session.get_one(Region, region_id),
                built,
                solution,
                strategy=job.strategy,
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
        }
        if job.publish:
            # Its own transaction: a refused publication keeps the draft for a look.
            _progress(engine, job_id, at(0.95), f"{label}: publishing")
            with db.transaction(db.writers(engine)) as session:
                planning.publish(session, session.get_one(Plan, plan.id))
            planned["published"] = True
        return planned
    except DomainError as error:
        return planned | {
            "error": error.message,
            "field": error.field,
            "value": _plain(error.value),
        }
    except Exception as error:
        log.exception("planning job %s: region %s failed", job_id, code)
        return planned | {"error": f"unexpected error: {type(error).__name__}: {error}"}


def _reporter(
    engine: sa.Engine, job_id: int, label: str, at: Callable[[float], float], limit: int
) -> Callable[[float, float], None]:
    """The solver's progress callback: the best objective so far, at most once a second."""
    last = [-math.inf]

    def report(objective: float, elapsed: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS:
            return
        last[0] = now
        share = at(0.1 + 0.8 * min(1.0, elapsed / limit))
        try:
            _progress(engine, job_id, share, f"{label}: best {objective:,.0f} at {elapsed:.1f} s")
        except Exception:
            # A progress report lost is no reason to lose the plan.
            log.warning("planning job %s: progress not recorded", job_id, exc_info=True)

    return report


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
            .where(col(PlanningJob.id) == job_id)
            .values(
                status=JobStatus.failed if failed else JobStatus.succeeded,
                progress=1.0,
                message=message[:MESSAGE_LIMIT],
                plan_ids=plan_ids,
                result=result,
                finished_at=datetime.now(UTC),
            )
        )


def _plain(value: Any) -> Any:
    """A refusal's value as JSON can hold it (dates and the like become text)."""
    return json.loads(json.dumps(value, default=str))


class InProcessExecutor:
    """Runs jobs on a small thread pool of this process; ``inline`` runs each at once in the
    submitting thread (tests, scripts). Jobs still waiting at shutdown are marked failed."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        *,
        workers: int = 1,
        inline: bool = False,
        params: ParamsFor = wall_clock,
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
        if self._pool is None:
            return
        with self._lock:
            waiting = dict(self._waiting)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for job_id, future in waiting.items():
            if future.cancelled():
                fail(self.engine, job_id, "the server stopped before the job began; request again")
