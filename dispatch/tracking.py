"""Customers following their visit: an unguessable link per visit (256 random bits, stored
as a hash) showing its status, arrival window, the technician's first name and how many
stops come first; nothing else, and nothing once the visit is long over."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from dispatch.models import Technician, TrackingLink, Visit, VisitStatus
from schedules.errors import NotFoundError

# A closed visit's link still answers for this long, so the customer sees it done.
AFTER_CLOSE = timedelta(hours=12)
CLOSED = (VisitStatus.completed, VisitStatus.failed, VisitStatus.cancelled)
OPEN = (VisitStatus.scheduled, VisitStatus.dispatched, VisitStatus.en_route)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, visit: Visit) -> str:
    """A new link token for ``visit`` (earlier links keep working until the visit is over)."""
    token = secrets.token_urlsafe(32)
    session.add(TrackingLink(token_hash=_digest(token), visit_id=visit.id))  # type: ignore[arg-type]
    session.flush()
    return token


@dataclass(frozen=True, slots=True)
class Tracking:
    visit: str
    status: VisitStatus
    arrival_from: datetime | None
    arrival_to: datetime | None
    technician_first_name: str | None
    stops_before: int | None


def lookup(session: Session, token: str, now: datetime) -> Tracking:
    """What the link shows. An unknown token and an expired one are the same NotFoundError:
    the answer must not tell which tokens ever existed."""
    gone = NotFoundError("this tracking link is unknown or has expired", field="token")
    if not 20 <= len(token) <= 100:
        raise gone
    link = session.get(TrackingLink, _digest(token))
    if link is None:
        raise gone
    visit = session.get_one(Visit, link.visit_id)
    if visit.status in CLOSED:
        closed = visit.actual_end or visit.updated_at
        if now > closed + AFTER_CLOSE:
            raise gone
    name = stops = None
    if visit.technician_id is not None and visit.status not in (VisitStatus.unscheduled, *CLOSED):
        tech = session.get_one(Technician, visit.technician_id)
        name = tech.name.split()[0]
        if visit.planned_start is not None and visit.status is not VisitStatus.on_site:
            stops = len(
                session.exec(
                    select(Visit.id).where(
                        Visit.technician_id == tech.id,
                        col(Visit.status).in_((*OPEN, VisitStatus.on_site)),
                        Visit.planned_start < visit.planned_start,  # type: ignore[operator]
                        Visit.planned_start >= visit.planned_start - timedelta(hours=24),  # type: ignore[operator]
                    )
                ).all()
            )
    return Tracking(
        visit=visit.code,
        status=visit.status,
        arrival_from=visit.eta_earliest if visit.status in OPEN else None,
        arrival_to=visit.eta_latest if visit.status in OPEN else None,
        technician_first_name=name,
        stops_before=stops,
    )
