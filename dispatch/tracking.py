"""Customers following their visit: an unguessable link per visit (256 random bits, stored
as a hash) showing its status, arrival window (with the region's timezone to show it in), the
technician's first name and how many stops come first; nothing else, and nothing once the
visit is long over."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from dispatch import inputs
from dispatch.models import (
    Region,
    ServiceRequest,
    Site,
    Technician,
    TrackingLink,
    Visit,
    VisitStatus,
)
from dispatch.prepared import Prepared, one_of
from schedules.errors import ConflictError, NotFoundError

# A closed visit's link still answers for this long, so the customer sees it done.
AFTER_CLOSE = timedelta(hours=12)
CLOSED = (VisitStatus.completed, VisitStatus.failed, VisitStatus.cancelled)
OPEN = (VisitStatus.scheduled, VisitStatus.dispatched, VisitStatus.en_route)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, visit: Visit) -> str:
    """A new link token for ``visit`` (earlier links keep working until the visit is over)."""
    token = secrets.token_urlsafe(32)
    # Written with the caller's next flush: publishing issues hundreds at once, and a flush
    # each went through every changed row of the session every time.
    session.add(TrackingLink(token_hash=_digest(token), visit_id=visit.id))  # type: ignore[arg-type]
    return token


@dataclass(frozen=True, slots=True)
class Issued:
    visit: str
    token: str


def issue_for(session: Session, *, visit_code: str, now: datetime) -> Issued:
    """A new link for the visit coded ``visit_code``, for a dispatcher to pass on. A visit that
    closed longer than AFTER_CLOSE ago gets none (ConflictError): its link would show nothing."""
    visit = inputs.by_code(session, Visit, "visit", visit_code)
    if visit.status in CLOSED:
        closed = visit.actual_end or visit.updated_at
        if now > closed + AFTER_CLOSE:
            raise ConflictError(
                f"visit {visit.code} is {visit.status.value} since {closed:%Y-%m-%d %H:%M} UTC; "
                f"a link would show nothing",
                field="visit",
                value=visit.code,
            )
    return Issued(visit=visit.code, token=issue(session, visit))


@dataclass(frozen=True, slots=True)
class Tracking:
    visit: str
    status: VisitStatus
    arrival_from: datetime | None
    arrival_to: datetime | None
    technician_first_name: str | None
    stops_before: int | None
    # The IANA timezone of the visit's region, to show times in.
    timezone: str


# Prepared (see dispatch.prepared): customers' phones poll these.
_LINKED = Prepared(
    select(
        Visit.code,
        Visit.status,
        Visit.technician_id,
        Visit.planned_start,
        Visit.eta_earliest,
        Visit.eta_latest,
        Visit.actual_end,
        Visit.updated_at,
        Technician.name,
        Region.timezone,
    )
    .select_from(TrackingLink)
    .join(Visit, col(Visit.id) == TrackingLink.visit_id)
    .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
    .join(Site, col(Site.id) == ServiceRequest.site_id)
    .join(Region, col(Region.id) == Site.region_id)
    .outerjoin(Technician, col(Technician.id) == Visit.technician_id)
    .where(TrackingLink.token_hash == sa.bindparam("digest"))
)
# The technician's stops still to come or under way in the 24 hours before ``start``.
_BEFORE = Prepared(
    select(func.count().label("stops"))
    .select_from(Visit)
    .where(
        Visit.technician_id == sa.bindparam("technician"),
        one_of(Visit.__table__.c.status, (*OPEN, VisitStatus.on_site)),
        Visit.planned_start < sa.bindparam("start"),  # type: ignore[operator]
        Visit.planned_start >= sa.bindparam("since"),  # type: ignore[operator]
    )
)


def lookup(connection: Session | sa.Connection, token: str, now: datetime) -> Tracking:
    """What the link shows. An unknown token and an expired one are the same NotFoundError:
    the answer must not tell which tokens ever existed. Two statements, columns only: a
    customer's phone polls this."""
    gone = NotFoundError("this tracking link is unknown or has expired", field="token")
    if not 20 <= len(token) <= 100:
        raise gone
    found = _LINKED.rows(connection, {"digest": _digest(token)})
    if not found:
        raise gone
    visit = found[0]
    if visit.status in CLOSED:
        closed = visit.actual_end or visit.updated_at
        if now > closed + AFTER_CLOSE:
            raise gone
    name = stops = None
    if visit.technician_id is not None and visit.status not in (VisitStatus.unscheduled, *CLOSED):
        name = visit.name.split()[0]
        if visit.planned_start is not None and visit.status is not VisitStatus.on_site:
            (stops,) = _BEFORE.rows(
                connection,
                {
                    "technician": visit.technician_id,
                    "start": visit.planned_start,
                    "since": visit.planned_start - timedelta(hours=24),
                },
            )[0]
    return Tracking(
        visit=visit.code,
        status=visit.status,
        arrival_from=visit.eta_earliest if visit.status in OPEN else None,
        arrival_to=visit.eta_latest if visit.status in OPEN else None,
        technician_first_name=name,
        stops_before=stops,
        timezone=visit.timezone,
    )
