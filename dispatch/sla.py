"""SLA clocks of service requests: deadlines from the contract and the region's business
hours, and the requests at risk or breached at a given moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dispatch.models import (
    BusinessHours,
    Contract,
    Holiday,
    Region,
    ServiceRequest,
    Site,
    Triage,
    Visit,
)
from schedules.sla import AT_RISK_WITHIN, BusinessWeek, response_deadline, sla_state


def business_week(session: Session, region: Region) -> BusinessWeek:
    """The region's business hours and holidays as the SLA clock reads them."""
    hours = {
        row.weekday: (row.opens_minute, row.closes_minute)
        for row in session.exec(select(BusinessHours).where(BusinessHours.region_id == region.id))
    }
    holidays = frozenset(session.exec(select(Holiday.day).where(Holiday.region_id == region.id)))
    return BusinessWeek(region.timezone, hours, holidays)


def deadline(
    session: Session,
    contract: Contract,
    region_id: int,
    registered_at: datetime,
    weeks: dict[int, BusinessWeek] | None = None,
) -> datetime | None:
    """When a request registered at ``registered_at`` for a site in the region is due under
    the contract (None: no SLA). ``weeks`` caches business weeks by region id across many
    requests."""
    if contract.sla_response_hours is None:
        return None
    weeks = {} if weeks is None else weeks
    if region_id not in weeks:
        weeks[region_id] = business_week(session, session.get_one(Region, region_id))
    return response_deadline(
        registered_at, contract.sla_response_hours, contract.coverage.value, weeks[region_id]
    )


def request_deadline(session: Session, request: ServiceRequest) -> datetime | None:
    contract = session.get_one(Contract, request.contract_id)
    site = session.get_one(Site, request.site_id)
    return deadline(session, contract, site.region_id, request.registered_at)


@dataclass(frozen=True, slots=True)
class SlaItem:
    request_code: str
    contract_code: str
    due_at: datetime
    state: str
    # Minutes until due (negative: overdue) for open requests; lateness for breached ones.
    slack_minutes: int
    started_at: datetime | None


def started_at(session: Session, request: ServiceRequest) -> datetime | None:
    """When the response began: the first on-site arrival, or the remote resolution."""
    first = session.exec(
        select(sa.func.min(Visit.actual_start)).where(Visit.request_id == request.id)
    ).one()
    candidates = [t for t in (first, request.resolved_at) if t is not None]
    if not candidates:
        return None
    return min(candidates)


def board(
    session: Session,
    now: datetime,
    *,
    region: Region | None = None,
    at_risk_within: timedelta = AT_RISK_WITHIN,
) -> dict[str, list[SlaItem]]:
    """Requests whose SLA is ``at_risk`` (due within ``at_risk_within`` and not started) or
    ``breached`` (started late, or overdue and not started), most urgent first."""
    query = (
        select(ServiceRequest, Contract.code)
        .join(Contract, Contract.id == ServiceRequest.contract_id)
        .where(ServiceRequest.sla_due_at.is_not(None))  # type: ignore[union-attr]
        .where(ServiceRequest.triage != Triage.cancelled)
        .where(ServiceRequest.sla_due_at <= now + at_risk_within)  # type: ignore[operator]
    )
    if region is not None:
        query = query.join(Site, Site.id == ServiceRequest.site_id).where(
            Site.region_id == region.id
        )
    found: dict[str, list[SlaItem]] = {"at_risk": [], "breached": []}
    for request, contract_code in session.exec(query):
        start = started_at(session, request)
        state = sla_state(request.sla_due_at, now, start, at_risk_within)
        if state not in found:
            continue
        due = request.sla_due_at
        assert due is not None
        reference = start if start is not None else now
        found[state].append(
            SlaItem(
                request.code,
                contract_code,
                due,
                state,
                int((due - reference).total_seconds() // 60),
                start,
            )
        )
    for items in found.values():
        items.sort(key=lambda item: (item.slack_minutes, item.request_code))
    return found
