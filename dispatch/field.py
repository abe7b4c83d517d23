"""What technicians report from the field: status changes of their visits and their
positions. Each report updates the visit, the ledger and the customers' arrival windows."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from dispatch import eta, events, ledger
from dispatch.models import EventTopic, TechnicianPosition, Visit, VisitStatus
from schedules.errors import ConflictError, InvalidError

# Which status may follow which: a technician cannot finish a visit they never reached.
NEXT = {
    VisitStatus.scheduled: {VisitStatus.dispatched, VisitStatus.en_route},
    VisitStatus.dispatched: {VisitStatus.en_route},
    VisitStatus.en_route: {VisitStatus.on_site, VisitStatus.failed},
    VisitStatus.on_site: {VisitStatus.completed, VisitStatus.failed},
}


def report_position(
    session: Session, technician_id: int, lat: float, lon: float, at: datetime
) -> TechnicianPosition:
    """Keep the technician's latest position (re-plans start routes from it)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidError(
            f"position ({lat}, {lon}) is not a latitude and longitude",
            field="position",
            value=[lat, lon],
        )
    if at.utcoffset() is None:
        raise InvalidError("at must be an aware time", field="at", value=at.isoformat())
    found = session.get(TechnicianPosition, technician_id)
    if found is None:
        found = TechnicianPosition(technician_id=technician_id, lat=lat, lon=lon, reported_at=at)
        session.add(found)
    elif at >= found.reported_at:  # a late-arriving older report must not win
        found.lat, found.lon, found.reported_at = lat, lon, at
    session.flush()
    driving = session.exec(
        select(Visit.id).where(
            Visit.technician_id == technician_id, Visit.status == VisitStatus.en_route
        )
    ).first()
    if driving is not None and found.reported_at == at:
        eta.refresh(session, technician_id, at)
    return found


def report_status(
    session: Session,
    visit: Visit,
    status: VisitStatus,
    at: datetime,
    *,
    technician_id: int,
    position: tuple[float, float] | None = None,
) -> Visit:
    """A technician's status report on their visit: moves it along its lifecycle, records the
    times, gives back its planned quota when it ends, and refreshes arrival windows."""
    if visit.technician_id != technician_id:
        raise ConflictError(
            f"visit {visit.code} is not assigned to this technician",
            field="visit",
            value=visit.code,
        )
    allowed = NEXT.get(visit.status, set())
    if status not in allowed:
        raise ConflictError(
            f"visit {visit.code} is {visit.status.value}; it can go to "
            f"{', '.join(sorted(s.value for s in allowed)) or 'no other status'}, "
            f"not {status.value}",
            field="status",
            value=status.value,
        )
    if position is not None:
        report_position(session, technician_id, position[0], position[1], at)
    visit.status = status
    visit.revision += 1
    if status is VisitStatus.on_site:
        visit.actual_start = at
    if status in (VisitStatus.completed, VisitStatus.failed):
        visit.actual_end = at
        if visit.actual_start is None:
            visit.actual_start = at
        ledger.record_visit_closed(session, visit)
        if status is VisitStatus.completed:
            events.emit(
                session,
                EventTopic.visit_completed,
                "visit",
                visit.id,  # type: ignore[arg-type]
                {
                    "visit": visit.code,
                    "completed_at": at.isoformat(),
                    # Positive: ran over its estimate; the re-plan watcher reacts to large ones.
                    "overrun_minutes": round(
                        (at - visit.actual_start).total_seconds() / 60 - visit.duration_minutes
                    ),
                },
                at=at,
            )
    session.flush()
    eta.refresh(session, technician_id, at)
    return visit
