"""The technicians' mobile API: my day, status reports and position pings (time, parts and
the calendar feed: api.routers.mobile_records). A technician reaches only their own visits;
anybody else's answer 404, as if absent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import pydantic_core
import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from api import conditional, idempotency
from api.auth import Account, require, require_account
from api.deps import SessionDep, read_on_loop
from dispatch import field
from dispatch.board import SHOWN
from dispatch.horizon import Horizon
from dispatch.models import (
    Region,
    Role,
    ServiceRequest,
    Site,
    Skill,
    Technician,
    User,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
)
from dispatch.prepared import Prepared, one_of
from schedules.periods import local_day

REFUSED = {401: {"description": "Not signed in"}, 403: {"description": "Not a technician"}}
router = APIRouter(prefix="/api/v1/me", tags=["technicians"], responses=REFUSED)
NOT_MINE = {404: {"description": "Not one of your visits (or no such visit)"}}
TechnicianUser = Annotated[User, Depends(require(Role.technician))]
TechnicianAccount = Annotated[Account, Depends(require_account(Role.technician))]


class Window(BaseModel):
    starts_at: datetime
    ends_at: datetime


class Stop(BaseModel):
    visit: str = Field(examples=["V-000123"])
    status: VisitStatus
    revision: int = Field(description="Send as If-Match (ETag) when reporting on this visit.")
    planned_start: datetime | None
    planned_end: datetime | None
    arrival_window: Window | None = Field(description="What the customer was told (P10..P90).")
    time_windows: list[Window]
    site: str
    address: str
    lat: float
    lon: float
    contact_name: str
    contact_phone: str | None
    description: str
    notes: str | None
    skills: dict[str, int] = Field(examples=[{"network": 3}])
    duration_minutes: int


class Day(BaseModel):
    technician: str
    date: date
    timezone: str = Field(
        examples=["Europe/Moscow"], description="The region's IANA timezone: the day is local."
    )
    stops: list[Stop]


class StatusReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["en_route", "on_site", "completed", "failed"] = Field(examples=["on_site"])
    at: datetime | None = Field(None, description="When it happened; default: now.")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    summary: str | None = Field(None, max_length=4000, description="Work done, or why it failed.")


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, examples=[55.7558])
    lon: float = Field(ge=-180, le=180, examples=[37.6173])
    at: datetime | None = None


def _technician(session: Session, user: User) -> Technician:
    return session.get_one(Technician, user.technician_id)


def mine(session: Session, user: User, code: str) -> Visit:
    visit = session.exec(
        select(Visit).where(Visit.code == code, Visit.technician_id == user.technician_id)
    ).first()
    if visit is None:
        # Another technician's visit is as absent as a visit that does not exist.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"visit {code!r} is not on your routes")
    return visit


def planned(
    session: Session, user: User, first: date | None, days: int
) -> tuple[Technician, date, list[tuple[Visit, ServiceRequest, Site]]]:
    """My visits planned on ``days`` local days from ``first`` (default: today), in order,
    with their requests and sites."""
    tech = _technician(session, user)
    region = session.get_one(Region, tech.region_id)
    first = first or local_day(datetime.now(UTC), region.timezone)
    horizon = Horizon.of(first, days, region.timezone)
    rows = session.exec(
        select(Visit, ServiceRequest, Site)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .join(Site, Site.id == ServiceRequest.site_id)
        .where(
            Visit.technician_id == tech.id,
            col(Visit.status).in_(SHOWN),
            Visit.planned_start >= horizon.origin,  # type: ignore[operator]
            Visit.planned_start < horizon.end(),  # type: ignore[operator]
        )
        .order_by(Visit.planned_start)
    )
    return tech, first, list(rows)  # type: ignore[arg-type]


# A technician's day in one statement (one round trip on PostgreSQL), run as a Prepared (see
# dispatch.prepared: this is the hottest read of the API). A UNION of the day's stops (kind 0),
# their time windows (kind 1) and their required skills (kind 2), each row filling only its
# kind's columns. The first branch's NULLs are cast: PostgreSQL types a union's columns branch
# by branch, and two untyped NULLs would make text.
_MINE = (
    Visit.technician_id == sa.bindparam("technician"),
    one_of(Visit.__table__.c.status, SHOWN),
    Visit.planned_start >= sa.bindparam("since"),  # type: ignore[operator]
    Visit.planned_start < sa.bindparam("until"),  # type: ignore[operator]
)
_STOP_COLUMNS = (
    col(Visit.code),
    col(Visit.status),
    col(Visit.revision),
    col(Visit.planned_start),
    col(Visit.planned_end),
    col(Visit.eta_earliest),
    col(Visit.eta_latest),
    col(Visit.notes),
    col(Visit.duration_minutes),
    col(Site.name),
    col(Site.address),
    col(Site.lat),
    col(Site.lon),
    col(ServiceRequest.contact_name),
    col(ServiceRequest.contact_phone),
    col(ServiceRequest.description),
)
_WINDOW_COLUMNS = (col(VisitTimeWindow.starts_at), col(VisitTimeWindow.ends_at))
_SKILL_COLUMNS = (
    col(VisitSkill.skill_id),
    col(Skill.code).label("skill"),
    col(VisitSkill.min_level).label("level"),
)


def _kind(number: int) -> sa.ColumnElement[int]:
    return sa.literal_column(str(number), sa.Integer).label("kind")


def _nulls(columns: tuple[sa.ColumnElement[Any], ...]) -> list[sa.ColumnElement[Any]]:
    return [sa.cast(sa.null(), c.type).label(c.key) for c in columns]


_DAY_VISITS = select(Visit.id).where(*_MINE)
_DAY = Prepared(
    sa.union_all(
        select(
            _kind(0),
            col(Visit.id).label("visit_id"),
            *_STOP_COLUMNS,
            *_nulls(_WINDOW_COLUMNS),
            *_nulls(_SKILL_COLUMNS),
        )
        .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
        .join(Site, col(Site.id) == ServiceRequest.site_id)
        .where(*_MINE),
        select(
            _kind(1),
            VisitTimeWindow.visit_id,
            *[sa.null()] * len(_STOP_COLUMNS),
            *_WINDOW_COLUMNS,
            *[sa.null()] * len(_SKILL_COLUMNS),
        ).where(col(VisitTimeWindow.visit_id).in_(_DAY_VISITS)),
        select(
            _kind(2),
            VisitSkill.visit_id,
            *[sa.null()] * (len(_STOP_COLUMNS) + len(_WINDOW_COLUMNS)),
            *_SKILL_COLUMNS,
        )
        .join(Skill, col(Skill.id) == VisitSkill.skill_id)
        .where(col(VisitSkill.visit_id).in_(_DAY_VISITS)),
    ).order_by("kind", "planned_start", "starts_at", "skill_id")
)


def _day(connection: sa.Connection, account: Account, first: date | None) -> bytes:
    """The day of the technician signed in as ``account`` as a Day's JSON: stops in time
    order, each with its windows in time order and its skills."""
    # A technician's account always names a technician, with a region and its timezone.
    technician_id, timezone = account.technician_id, account.timezone or ""
    first = first or local_day(datetime.now(UTC), timezone)
    horizon = Horizon.of(first, 1, timezone)
    rows = _DAY.rows(
        connection,
        {"technician": technician_id, "since": horizon.origin, "until": horizon.end()},
    )
    # Plain dicts with Day's fields in Day's order, serialised by pydantic's own serialiser:
    # every value comes typed from its column, so the JSON is what Day.model_dump_json gives
    # (a test compares the bytes, so a field added to Stop and not here fails it), without
    # building a model per stop and window: that was ~30% of reading a day, profiled.
    stops: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r.kind == 0:
            stops[r.visit_id] = {
                "visit": r.code,
                "status": r.status,
                "revision": r.revision,
                "planned_start": r.planned_start,
                "planned_end": r.planned_end,
                "arrival_window": {"starts_at": r.eta_earliest, "ends_at": r.eta_latest}
                if r.eta_earliest and r.eta_latest
                else None,
                "time_windows": [],
                "site": r.name,
                "address": r.address,
                "lat": r.lat,
                "lon": r.lon,
                "contact_name": r.contact_name,
                "contact_phone": r.contact_phone,
                "description": r.description,
                "notes": r.notes,
                "skills": {},
                "duration_minutes": r.duration_minutes,
            }
        elif r.kind == 1:
            stops[r.visit_id]["time_windows"].append(
                {"starts_at": r.starts_at, "ends_at": r.ends_at}
            )
        else:
            stops[r.visit_id]["skills"][r.skill] = r.level
    return pydantic_core.to_json(
        {
            "technician": account.technician_code,
            "date": first,
            "timezone": timezone,
            "stops": list(stops.values()),
        }
    )


@router.get("/day", response_model=Day, summary="My stops of a day, in order")
async def my_day(
    request: Request,
    account: TechnicianAccount,
    day: Annotated[
        date | None, Query(alias="date", description="Local day; default: today.")
    ] = None,
) -> Response:
    # A coroutine reading on the event loop: the hot path of every technician's phone. The
    # answer is serialised by _day, once: FastAPI would validate a model again first.
    return Response(read_on_loop(request, _day, account, day), media_type="application/json")


@router.post(
    "/visits/{code}/status",
    status_code=204,
    response_model=None,
    summary="Report on one of my visits",
    responses={
        404: {"description": "Not one of your visits"},
        409: {"description": "Not a next status of the visit; the allowed ones are named"},
        412: {"description": "If-Match names an older revision of the visit"},
    },
)
def report_status(
    code: str,
    report: StatusReport,
    session: SessionDep,
    user: TechnicianUser,
    response: Response,
    if_match: conditional.IfMatch = None,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response | None:
    print_ = idempotency.fingerprint("POST", f"/me/visits/{code}/status", report)
    replay = idempotency.begin(session, user, idempotency_key, print_)
    if replay is not None:
        return replay
    visit = mine(session, user, code)
    conditional.check(if_match, visit.revision, f"visit {code}")
    position = (
        (report.lat, report.lon) if report.lat is not None and report.lon is not None else None
    )
    at = report.at or datetime.now(UTC)
    field.report_status(
        session,
        visit,
        VisitStatus(report.status),
        at,
        technician_id=user.technician_id,
        position=position,  # type: ignore[arg-type]
    )
    if report.summary:
        visit.notes = f"{visit.notes}\n{report.summary}" if visit.notes else report.summary
    session.flush()
    conditional.tag(response, visit.revision)
    idempotency.finish(session, user, idempotency_key, 204, {"ETag": response.headers["ETag"]})
    return None


@router.post("/position", status_code=204, response_model=None, summary="Where I am now")
def report_position(
    position: Position,
    session: SessionDep,
    user: TechnicianUser,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response | None:
    print_ = idempotency.fingerprint("POST", "/me/position", position)
    replay = idempotency.begin(session, user, idempotency_key, print_)
    if replay is not None:
        return replay
    field.report_position(
        session,
        user.technician_id,
        position.lat,
        position.lon,
        position.at or datetime.now(UTC),  # type: ignore[arg-type]
    )
    idempotency.finish(session, user, idempotency_key, 204, {})
    return None
