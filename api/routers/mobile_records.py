"""The technicians' mobile API, continued: time and parts on my visits, and my week as an
iCalendar feed. Same rules as api.routers.mobile: only my own visits, others answer 404."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from api import idempotency
from api.deps import SessionDep
from api.routers.mobile import NOT_MINE, REFUSED, TechnicianUser, mine, planned
from dispatch import ledger
from dispatch.board import SHOWN
from dispatch.models import MaterialUsage, TimeEntry, TimeEntryKind, User, Visit, VisitStatus
from schedules.errors import InvalidError

router = APIRouter(prefix="/api/v1/me", tags=["technicians"], responses=REFUSED)


class TimeEntryIn(BaseModel):
    """Time on one of my visits. Who and which visit come from the token and the path."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["travel", "work"] = Field(examples=["work"])
    started_at: datetime = Field(examples=["2026-11-27T09:40:00+03:00"])
    ended_at: datetime = Field(examples=["2026-11-27T11:05:00+03:00"])
    note: str | None = Field(None, max_length=500)


class TimeEntryOut(BaseModel):
    id: int = Field(examples=[4711])
    visit: str
    kind: str
    started_at: datetime
    ended_at: datetime
    minutes: int
    note: str | None

    @classmethod
    def of(cls, row: TimeEntry, visit_code: str) -> TimeEntryOut:
        return cls(
            id=row.id,  # type: ignore[arg-type]
            visit=visit_code,
            kind=row.kind.value,
            started_at=row.started_at,
            ended_at=row.ended_at,
            minutes=ledger.minutes_between(row.started_at, row.ended_at),
            note=row.note,
        )


class MaterialIn(BaseModel):
    """Parts used; prices and billability are the office's to set, not the phone's."""

    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64, examples=["CAB-CAT6-2M"])
    description: str = Field(min_length=1, max_length=200, examples=["Patch cable, 2 m"])
    quantity: int = Field(gt=0, le=10_000)
    unit: str = Field("pcs", min_length=1, max_length=16)


# Time and parts go on any visit of my days (the board's statuses), done or not.
LOGGABLE = SHOWN


def _loggable(session: Session, user: User, code: str) -> Visit:
    visit = mine(session, user, code)
    if visit.status not in LOGGABLE:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"visit {code} is {visit.status.value}; nothing to log"
        )
    return visit


@router.post(
    "/visits/{code}/time-entries",
    status_code=201,
    response_model=TimeEntryOut,
    summary="Log time on one of my visits",
    responses=NOT_MINE,
)
def log_time(
    code: str,
    entry: TimeEntryIn,
    session: SessionDep,
    user: TechnicianUser,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response | TimeEntryOut:
    replay = idempotency.begin(
        session,
        user,
        idempotency_key,
        idempotency.fingerprint("POST", f"/me/visits/{code}/time-entries", entry),
    )
    if replay is not None:
        return replay
    visit = _loggable(session, user, code)
    for name in ("started_at", "ended_at"):
        value = getattr(entry, name)
        if value.utcoffset() is None:
            raise InvalidError(f"{name} needs a UTC offset", field=name, value=value.isoformat())
    if entry.ended_at <= entry.started_at:
        raise InvalidError(
            "ended_at must be after started_at", field="ended_at", value=entry.ended_at.isoformat()
        )
    if entry.ended_at - entry.started_at > timedelta(hours=16):
        raise InvalidError(
            "an entry longer than 16 hours is a mistake",
            field="ended_at",
            value=entry.ended_at.isoformat(),
        )
    if entry.ended_at > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidError(
            "time cannot be logged ahead", field="ended_at", value=entry.ended_at.isoformat()
        )
    row = TimeEntry(
        technician_id=user.technician_id,  # type: ignore[arg-type]
        visit_id=visit.id,
        kind=TimeEntryKind(entry.kind),
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        note=entry.note,
    )
    session.add(row)
    session.flush()
    ledger.record_time_entry(session, row)
    out = TimeEntryOut.of(row, visit.code)
    idempotency.finish(
        session,
        user,
        idempotency_key,
        201,
        {"content-type": "application/json"},
        out.model_dump_json(),
    )
    return out


@router.get(
    "/visits/{code}/time-entries",
    response_model=list[TimeEntryOut],
    summary="My time on a visit",
    responses=NOT_MINE,
)
def my_time(code: str, session: SessionDep, user: TechnicianUser) -> list[TimeEntryOut]:
    visit = mine(session, user, code)
    rows = session.exec(
        select(TimeEntry)
        .where(TimeEntry.visit_id == visit.id, TimeEntry.technician_id == user.technician_id)
        .order_by(TimeEntry.started_at)
    )
    return [TimeEntryOut.of(r, visit.code) for r in rows]


@router.post(
    "/visits/{code}/materials",
    status_code=204,
    response_model=None,
    summary="Parts used on one of my visits",
    responses=NOT_MINE,
)
def log_material(
    code: str,
    material: MaterialIn,
    session: SessionDep,
    user: TechnicianUser,
    idempotency_key: idempotency.KeyHeader = None,
) -> Response | None:
    replay = idempotency.begin(
        session,
        user,
        idempotency_key,
        idempotency.fingerprint("POST", f"/me/visits/{code}/materials", material),
    )
    if replay is not None:
        return replay
    visit = _loggable(session, user, code)
    session.add(
        MaterialUsage(
            visit_id=visit.id,  # type: ignore[arg-type]
            sku=material.sku,
            description=material.description,
            quantity=material.quantity,
            unit=material.unit,
        )
    )
    session.flush()
    idempotency.finish(session, user, idempotency_key, 204, {})
    return None


def _ics_text(value: str) -> str:
    """RFC 5545 TEXT escaping."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@router.get(
    "/calendar.ics",
    response_class=Response,
    summary="My week as an iCalendar feed",
    responses={200: {"content": {"text/calendar": {}}}},
)
def my_calendar(
    session: SessionDep,
    user: TechnicianUser,
    start: Annotated[date | None, Query(description="First day; default: today.")] = None,
) -> Response:
    """Seven days of my planned visits from ``start``, for a phone's calendar."""
    tech, _, rows = planned(session, user, start, 7)
    stamp = _ics_time(datetime.now(UTC))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//field-dispatch//technician feed//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_ics_text(tech.code)} visits",
    ]
    for visit, request, site in rows:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{visit.code}@field-dispatch",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_ics_time(visit.planned_start)}",  # type: ignore[arg-type]
            f"DTEND:{_ics_time(visit.planned_end)}",  # type: ignore[arg-type]
            f"SUMMARY:{_ics_text(f'{visit.code} {site.name}')}",
            f"LOCATION:{_ics_text(site.address)}",
            f"GEO:{site.lat:.6f};{site.lon:.6f}",
            f"DESCRIPTION:{_ics_text(request.description)}",
            f"SEQUENCE:{visit.revision}",
            f"STATUS:{'CANCELLED' if visit.status is VisitStatus.failed else 'CONFIRMED'}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return Response("\r\n".join(lines) + "\r\n", media_type="text/calendar; charset=utf-8")
