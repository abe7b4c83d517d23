"""Dispatchers' API: planning — plan requests run as jobs, plans and their publication, re-plans,
manual moves and route locks (a region's day is in api.routers.board)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session, col, select

import routing
from api import idempotency
from api.auth import bearer, current_user, require
from api.deps import EngineDep, SessionDep, SettingsDep
from api.listing import Page, PagingDep, page
from api.schemas import planning as s
from dispatch import db, inputs, jobs, planning
from dispatch.models import (
    Plan,
    PlanningJob,
    PlanningTask,
    PlanStatus,
    Region,
    Role,
    User,
)
from dispatch.replan import replan_day
from schedules.errors import InvalidError, NotFoundError, UnavailableError
from schedules.periods import local_day

_staff = require(Role.dispatcher, Role.admin)
Dispatcher = Annotated[User, Depends(_staff)]
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not a dispatcher or an admin"},
}
STAFF = [Depends(_staff)]
router = APIRouter(prefix="/api/v1", tags=["planning"], responses=REFUSED)
NOT_FOUND = {404: {"description": "No such region, plan, job, visit or technician"}}
INVALID = {422: {"description": "A field breaks a rule; the field and value are named"}}
MOVE = {
    **NOT_FOUND,
    **INVALID,
    409: {"description": "The visit is under way, a route is locked, or it changed meanwhile"},
    412: {"description": "If-Match names an older revision of the visit"},
}
DayPath = Annotated[date, Path(ge=s.EARLIEST, le=s.LATEST, description="Local day.")]
# Ids are 32-bit integers in the database.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _staff_apart(
    engine: EngineDep, settings: SettingsDep, token: Annotated[str | None, Depends(bearer)]
) -> User:
    """The signed-in dispatcher or admin, read in a transaction of its own: a request that
    commits its own writes before answering must not hold the request's transaction (on
    SQLite its write lock) meanwhile."""
    with db.transaction(engine) as session:
        return _staff(current_user(session, settings, token))


def executor_of(request: Request) -> jobs.Executor:
    return request.app.state.executor


# Jobs and plans -------------------------------------------------------------------------------


def _job(session: Session, job: PlanningJob) -> s.JobRead:
    region = session.get(Region, job.region_id) if job.region_id is not None else None
    user = session.get(User, job.requested_by) if job.requested_by is not None else None
    return s.JobRead(
        id=job.id,  # type: ignore[arg-type]
        status=job.status,
        region=region.code if region else None,
        starts_on=job.starts_on,
        days=job.days,
        strategy=job.strategy,
        time_limit_seconds=job.time_limit_seconds,
        publish=job.publish,
        progress=job.progress,
        message=job.message,
        plans=[f"/api/v1/plans/{plan_id}" for plan_id in job.plan_ids],
        plan_ids=job.plan_ids,
        result=job.result,
        requested_by=user.username if user else None,
        tasks=[
            s.TaskRead(
                region=code,
                territory=task.part or None,
                territories=task.parts,
                status=task.status,
                progress=task.progress,
                message=task.message,
                attempts=task.attempts,
                started_at=task.started_at,
                finished_at=task.finished_at,
            )
            for task, code in session.exec(
                select(PlanningTask, Region.code)
                .join(Region, col(Region.id) == PlanningTask.region_id)
                .where(PlanningTask.job_id == job.id)
                .order_by(Region.code, col(PlanningTask.part))
            )
        ],
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post(
    "/plans",
    status_code=202,
    response_model=s.JobRead,
    summary="Request a plan: queued as a job",
    responses={
        202: {
            "headers": {
                "Location": {"description": "The job to poll.", "schema": {"type": "string"}}
            }
        },
        **NOT_FOUND,
        409: {"description": "A request with this Idempotency-Key is still being processed"},
        413: {"description": "The plan would take on more open visits than allowed"},
        **INVALID,
        503: {"description": "Jobs cannot be started now (the server is stopping)"},
    },
)
def request_plan(
    body: s.PlanCreate,
    user: Annotated[User, Depends(_staff_apart)],
    engine: EngineDep,
    settings: SettingsDep,
    executor: Annotated[jobs.Executor, Depends(executor_of)],
    response: Response,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response | s.JobRead:
    """Plan one region (or every region) from a local day for some days; the answer is the
    queued job at once. Poll its Location until it has succeeded or failed."""
    # Its own transaction, committed before the job is handed over, so the executor finds it.
    with db.transaction(db.writers(engine)) as session:
        replay = idempotency.begin(
            session, user, idempotency_key, idempotency.fingerprint("POST", "/plans", body)
        )
        if replay is not None:
            return replay
        job = jobs.request_plan(
            session,
            region_code=body.region,
            starts_on=body.starts_on,
            days=body.days,
            strategy=body.strategy,
            time_limit_seconds=body.time_limit_seconds,
            publish=body.publish,
            requested_by=user.id,
            settings=settings,
        )
        accepted = _job(session, job)
        location = f"/api/v1/jobs/{job.id}"
        idempotency.finish(
            session,
            user,
            idempotency_key,
            202,
            {"Location": location, "content-type": "application/json"},
            accepted.model_dump_json(),
        )
    try:
        executor.submit(accepted.id)
    except Exception as error:
        jobs.fail(engine, accepted.id, f"the job could not be started: {error}")
        raise UnavailableError(
            "planning jobs cannot be started now; retry shortly", field="job", value=accepted.id
        ) from error
    response.headers["Location"] = location
    return accepted


@router.get(
    "/jobs/{job_id}",
    dependencies=STAFF,
    response_model=s.JobRead,
    summary="A planning job",
    responses=NOT_FOUND,
)
def get_job(job_id: Id, session: SessionDep) -> s.JobRead:
    job = session.get(PlanningJob, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist", field="job", value=job_id)
    return _job(session, job)


def _summary(stats: dict[str, Any]) -> s.PlanSummary:
    counts = ("visits", "technicians", "assigned", "unassigned", "routes")
    figures = ("travel_km", "travel_hours", "late_minutes")
    return s.PlanSummary(
        **{name: stats.get(name, 0) for name in (*counts, *figures)},
        unassigned_by_reason=stats.get("unassigned_by_reason", {}),
    )


def _plan(plan: Plan, region: str) -> s.PlanRead:
    return s.PlanRead(
        **plan.model_dump(exclude={"region_id", "stats"}),
        region=region,
        summary=_summary(plan.stats),
    )


def _detail(session: Session, plan: Plan) -> s.PlanDetail:
    region = session.get_one(Region, plan.region_id).code
    stats = plan.stats
    return s.PlanDetail(
        **_plan(plan, region).model_dump(),
        utilisation=stats.get("utilisation", {}),
        sla_late=stats.get("sla_late", []),
        quotas=stats.get("quotas", {}),
    )


def _plan_by_id(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError(f"plan {plan_id} does not exist", field="plan", value=plan_id)
    return plan


@router.get(
    "/plans",
    dependencies=STAFF,
    response_model=Page[s.PlanRead],
    summary="Plans, newest first",
    responses={**NOT_FOUND, **INVALID},
)
def list_plans(
    session: SessionDep,
    paging: PagingDep,
    region: Annotated[str | None, Query(max_length=16, description="Region code.")] = None,
    starts_on: Annotated[date | None, Query(description="First local day.")] = None,
    plan_status: Annotated[PlanStatus | None, Query(alias="status")] = None,
) -> Page[s.PlanRead]:
    statement = select(Plan, Region.code).join(Region, col(Region.id) == Plan.region_id)
    if region is not None:
        statement = statement.where(Plan.region_id == planning.region_by_code(session, region).id)
    if starts_on is not None:
        statement = statement.where(Plan.starts_on == starts_on)
    if plan_status is not None:
        statement = statement.where(Plan.status == plan_status)
    return page(
        session,
        statement,
        paging,
        sortable={
            "created_at": Plan.created_at,
            "starts_on": Plan.starts_on,
            "version": Plan.version,
            "status": Plan.status,
            "region": Region.code,
        },
        default="-created_at",
        tiebreak=col(Plan.id),
        read=lambda row: _plan(row[0], row[1]),
    )


@router.get(
    "/plans/{plan_id}",
    dependencies=STAFF,
    response_model=s.PlanDetail,
    summary="A plan with its statistics",
    responses=NOT_FOUND,
)
def get_plan(plan_id: Id, session: SessionDep) -> s.PlanDetail:
    return _detail(session, _plan_by_id(session, plan_id))


@router.post(
    "/plans/{plan_id}/publish",
    dependencies=STAFF,
    response_model=s.PublishRead,
    summary="Publish a draft plan",
    responses={
        **NOT_FOUND,
        409: {"description": "Not a draft, or its visits changed since it was made"},
    },
)
def publish_plan(plan_id: Id, session: SessionDep) -> s.PublishRead:
    """The plan goes in force: visits take its technicians and times, the plans it overlaps
    are superseded, the quota ledger and customers' arrival windows follow."""
    done = planning.publish(session, _plan_by_id(session, plan_id))
    region = session.get_one(Region, done.plan.region_id).code
    return s.PublishRead(
        plan=_plan(done.plan, region),
        superseded=[p.id for p in done.superseded],  # type: ignore[misc]
        scheduled=done.scheduled,
        unscheduled=done.unscheduled,
        ledger_entries=done.ledger_entries,
    )


@router.post(
    "/regions/{code}/replan",
    dependencies=STAFF,
    response_model=s.ReplanRead,
    summary="Re-plan the rest of a region's day now",
    responses={**NOT_FOUND, 409: {"description": "Its visits changed meanwhile"}, **INVALID},
)
def replan(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    at: Annotated[
        datetime | None, Query(description="The moment to re-plan from, with offset; now.")
    ] = None,
    seconds: Annotated[
        float | None,
        Query(
            gt=0,
            allow_inf_nan=False,
            description="Solver budget; default and most: the replan time limit.",
        ),
    ] = None,
    publish: Annotated[bool, Query(description="false: store a draft only.")] = True,
) -> s.ReplanRead:
    """Routes restart from where technicians are; visits under way stay first, visits about
    to start keep their technician. Answers when the new plan is stored (and published)."""
    region = planning.region_by_code(session, code)
    now = datetime.now(UTC) if at is None else inputs.aware("at", at)
    if not s.EARLIEST <= now.date() <= s.LATEST:
        raise InvalidError(f"at {now.isoformat()} is outside the calendar", field="at", value=at)
    limit = settings.replan_time_limit_seconds if seconds is None else seconds
    if limit > settings.replan_time_limit_seconds:
        raise InvalidError(
            f"seconds {limit} is over the re-plan limit {settings.replan_time_limit_seconds}",
            field="seconds",
            value=limit,
        )
    done = replan_day(
        session,
        region,
        local_day(now, region.timezone),
        now,
        params=routing.SolveParams(time_limit_seconds=limit),
        publish=publish,
    )
    return s.ReplanRead(**_detail(session, done.plan).model_dump(), published=publish)
