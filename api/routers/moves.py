"""Dispatchers' API: a dispatcher's hand on the plan — assign or move, unassign, pin and unpin
visits (each guarded by the visit's revision), lock and unlock technicians' routes."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session, col, select

from api import conditional
from api.deps import SessionDep
from api.routers.planning import (
    INVALID,
    MOVE,
    NOT_FOUND,
    REFUSED,
    STAFF,
    DayPath,
    Dispatcher,
)
from api.schemas import planning as s
from dispatch import inputs, moves
from dispatch.models import RouteLock, Technician, User, Visit

router = APIRouter(prefix="/api/v1", tags=["planning"], responses=REFUSED)


# Manual moves -------------------------------------------------------------------------------


def _visit(session: Session, code: str, if_match: str | None) -> Visit:
    visit = inputs.by_code(session, Visit, "visit", code)
    conditional.check(if_match, visit.revision, f"visit {code}")
    return visit


def _placements(session: Session, visits: list[Visit]) -> list[s.VisitPlacement]:
    ids = {v.technician_id for v in visits} | {v.pinned_technician_id for v in visits}
    codes = dict(
        session.exec(
            select(Technician.id, Technician.code).where(col(Technician.id).in_(ids))
        ).all()
    )
    return [
        s.VisitPlacement(
            visit=v.code,
            status=v.status,
            technician=codes.get(v.technician_id),
            planned_start=v.planned_start,
            planned_end=v.planned_end,
            pinned_technician=codes.get(v.pinned_technician_id),
            pinned_date=v.pinned_date,
            pinned_position=v.pinned_position,
            revision=v.revision,
        )
        for v in visits
    ]


def _placed(session: Session, visit: Visit, response: Response) -> s.VisitPlacement:
    conditional.tag(response, visit.revision)
    return _placements(session, [visit])[0]


@router.post(
    "/visits/{code}/assign",
    dependencies=STAFF,
    response_model=s.MoveRead,
    summary="Assign or move a visit to a technician's route",
    responses=MOVE,
)
def assign(
    code: str,
    body: s.AssignRequest,
    session: SessionDep,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.MoveRead:
    """At a position, or where it adds the least travel; an assigned visit moves. Refused,
    naming the rule and its numbers, when the route would break a skill, window, shift,
    working-time or quota rule, or a route involved is locked."""
    visit = _visit(session, code, if_match)
    technician = inputs.by_code(session, Technician, "technician", body.technician)
    moved = moves.assign(
        session, visit, technician, body.date, position=body.position, pin=body.pin
    )
    return s.MoveRead(
        visit=_placed(session, moved.visit, response), route=_placements(session, moved.route)
    )


@router.post(
    "/visits/{code}/unassign",
    dependencies=STAFF,
    response_model=s.VisitPlacement,
    summary="Take a visit off its route",
    responses=MOVE,
)
def unassign(
    code: str, session: SessionDep, response: Response, if_match: conditional.IfMatch = None
) -> s.VisitPlacement:
    return _placed(session, moves.unassign(session, _visit(session, code, if_match)), response)


@router.post(
    "/visits/{code}/pin",
    dependencies=STAFF,
    response_model=s.VisitPlacement,
    summary="Keep a visit with a technician and day in later plans",
    responses=MOVE,
)
def pin(
    code: str,
    body: s.PinRequest,
    session: SessionDep,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.VisitPlacement:
    """Without technician or date: where the visit is planned now."""
    visit = _visit(session, code, if_match)
    technician = (
        inputs.by_code(session, Technician, "technician", body.technician)
        if body.technician is not None
        else None
    )
    pinned = moves.pin(session, visit, technician, body.date, body.position)
    return _placed(session, pinned, response)


@router.post(
    "/visits/{code}/unpin",
    dependencies=STAFF,
    response_model=s.VisitPlacement,
    summary="Let later plans place a visit freely again",
    responses=MOVE,
)
def unpin(
    code: str, session: SessionDep, response: Response, if_match: conditional.IfMatch = None
) -> s.VisitPlacement:
    return _placed(session, moves.unpin(session, _visit(session, code, if_match)), response)


def _lock_read(session: Session, lock: RouteLock, technician: Technician) -> s.RouteLockRead:
    by = session.get(User, lock.locked_by) if lock.locked_by is not None else None
    return s.RouteLockRead(
        technician=technician.code,
        date=lock.day,
        locked_by=by.username if by else None,
        created_at=lock.created_at,
    )


@router.put(
    "/routes/{technician}/{day}/lock",
    dependencies=STAFF,
    response_model=s.RouteLockRead,
    summary="Lock a technician's route of a day against re-planning",
    responses={**NOT_FOUND, **INVALID},
)
def lock_route(
    technician: str, day: DayPath, session: SessionDep, user: Dispatcher
) -> s.RouteLockRead:
    """Later plans keep the route exactly as it is; locking a locked route changes nothing."""
    tech = inputs.by_code(session, Technician, "technician", technician)
    return _lock_read(
        session, moves.lock_route(session, tech, day, by=user.id, exist_ok=True), tech
    )


@router.delete(
    "/routes/{technician}/{day}/lock",
    dependencies=STAFF,
    status_code=204,
    summary="Unlock a technician's route of a day",
    responses={404: {"description": "No such technician, or the route is not locked"}, **INVALID},
)
def unlock_route(technician: str, day: DayPath, session: SessionDep) -> None:
    moves.unlock_route(session, inputs.by_code(session, Technician, "technician", technician), day)
