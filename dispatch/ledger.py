"""Feeds the quota ledger from what happens in dispatch: published plans (planned time),
time reported from the field (actual time), closed visits and remote resolutions."""

from __future__ import annotations

import math
from datetime import datetime

from sqlmodel import Session, select

from dispatch.models import (
    Contract,
    Plan,
    PlanStop,
    Region,
    ServiceRequest,
    Site,
    TimeEntry,
    TimeEntryKind,
    Visit,
)
from schedules import service
from schedules.models import EntryKind, QuotaEntry
from schedules.periods import local_day
from schedules.quotas import quota_minutes


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes, rounded up: a started minute counts, as on a timesheet."""
    return math.ceil((end - start).total_seconds() / 60)


def visit_context(session: Session, visit: Visit) -> tuple[ServiceRequest, Contract, str]:
    """The visit's request, contract and the timezone of its site's region."""
    request = session.get_one(ServiceRequest, visit.request_id)
    contract = session.get_one(Contract, request.contract_id)
    site = session.get_one(Site, request.site_id)
    region = session.get_one(Region, site.region_id)
    return request, contract, region.timezone


def contract_timezone(session: Session, contract: Contract, default: str) -> str:
    """Where the contract's periods turn over: the region of the customer's first site."""
    timezone = session.exec(
        select(Region.timezone)
        .join(Site, Site.region_id == Region.id)
        .where(Site.customer_id == contract.customer_id)
        .order_by(Site.id)
        .limit(1)
    ).first()
    return timezone or default


def release_planned(session: Session, visit_ids: list[int], note: str) -> int:
    """Give back the planned time of these visits (replanned, done, cancelled)."""
    reversals = service.outstanding_planned(session, visit_ids)
    for entry in reversals:
        entry.note = note
    service.append_all(session, reversals)
    return len(reversals)


def record_placed(session: Session, visit: Visit, note: str) -> int:
    """A visit placed by hand: what earlier plans drew for it is given back and its time on
    site at its new place is drawn (the leg to it is not known outside a plan, so a contract
    counting travel is charged it when the time is logged). Returns entries written."""
    written = release_planned(session, [visit.id], note)  # type: ignore[list-item]
    _, contract, timezone = visit_context(session, visit)
    if quota_minutes(contract) is None or visit.planned_start is None or not visit.planned_end:
        return written
    service.append(
        session,
        QuotaEntry(
            contract_id=contract.id,  # type: ignore[arg-type]
            kind=EntryKind.planned,
            minutes=minutes_between(visit.planned_start, visit.planned_end),
            occurred_at=visit.planned_start,
            onsite_day=local_day(visit.planned_start, timezone),
            visit_id=visit.id,
            note=note,
        ),
    )
    return written + 1


def record_plan(session: Session, plan: Plan, replaced: Plan | None = None) -> int:
    """Planned entries for a plan being published: the visits of the plan it replaces and
    of this one give back what earlier plans drew, then each stop draws its time on site
    (plus the leg to it where the contract counts travel). Returns entries written."""
    rows = list(
        session.exec(
            select(PlanStop, Contract, Region.timezone)
            .join(Visit, Visit.id == PlanStop.visit_id)
            .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
            .join(Contract, Contract.id == ServiceRequest.contract_id)
            .join(Site, Site.id == ServiceRequest.site_id)
            .join(Region, Region.id == Site.region_id)
            .where(PlanStop.plan_id == plan.id)
        )
    )
    visit_ids = {stop.visit_id for stop, _, _ in rows}
    if replaced is not None:
        visit_ids |= set(
            session.exec(select(PlanStop.visit_id).where(PlanStop.plan_id == replaced.id))
        )
    written = release_planned(session, sorted(visit_ids), f"plan {plan.id} replaces earlier plans")
    lines = []
    for stop, contract, timezone in rows:
        if quota_minutes(contract) is None:
            continue
        minutes = minutes_between(stop.start_at, stop.end_at)
        if contract.include_travel:
            minutes += math.ceil(stop.travel_seconds / 60)
        lines.append(
            QuotaEntry(
                contract_id=contract.id,  # type: ignore[arg-type]
                kind=EntryKind.planned,
                minutes=minutes,
                occurred_at=stop.start_at,
                onsite_day=local_day(stop.start_at, timezone),
                visit_id=stop.visit_id,
                plan_id=plan.id,
                note=f"plan {plan.id} published",
            )
        )
    service.append_all(session, lines)
    return written + len(lines)


def record_time_entry(session: Session, entry: TimeEntry) -> QuotaEntry | None:
    """Actual time on a visit drawn from its contract's quota: work always, travel where the
    contract counts it. Returns the ledger line, or None if nothing is drawn."""
    if entry.visit_id is None:
        return None
    visit = session.get_one(Visit, entry.visit_id)
    _, contract, timezone = visit_context(session, visit)
    if quota_minutes(contract) is None:
        return None
    work = entry.kind is TimeEntryKind.work
    if not work and not contract.include_travel:
        return None
    return service.append(
        session,
        QuotaEntry(
            contract_id=contract.id,  # type: ignore[arg-type]
            kind=EntryKind.actual,
            minutes=minutes_between(entry.started_at, entry.ended_at),
            occurred_at=entry.started_at,
            onsite_day=local_day(entry.started_at, timezone) if work else None,
            visit_id=visit.id,
            time_entry_id=entry.id,
            note=f"{entry.kind.value} reported",
        ),
    )


def record_visit_closed(session: Session, visit: Visit) -> int:
    """A completed, failed or cancelled visit no longer holds planned time."""
    return release_planned(session, [visit.id], f"visit {visit.code} {visit.status.value}")  # type: ignore[list-item]


def record_remote_resolution(session: Session, request: ServiceRequest) -> QuotaEntry | None:
    """First-line time on a request resolved remotely, where the contract counts it."""
    contract = session.get_one(Contract, request.contract_id)
    if (
        not contract.include_remote
        or quota_minutes(contract) is None
        or request.remote_minutes <= 0
        or request.resolved_at is None
    ):
        return None
    return service.append(
        session,
        QuotaEntry(
            contract_id=contract.id,  # type: ignore[arg-type]
            kind=EntryKind.remote,
            minutes=request.remote_minutes,
            occurred_at=request.resolved_at,
            request_id=request.id,
            note=f"request {request.code} resolved remotely",
        ),
    )
