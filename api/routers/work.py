"""Dispatchers' API: the work — service requests through intake (register, resolve remotely,
escalate to a visit, cancel) and visits (list, read, amend)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session, col, select

from api import conditional, idempotency
from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.listing import Page, PagingDep, page
from api.routers.catalogue import CREATED, READ, REFUSED, WRITE
from api.schemas import work as s
from dispatch import catalogue, geocoding, intake, moves
from dispatch.adapter import visit_skills
from dispatch.horizon import Horizon
from dispatch.models import (
    Contract,
    Customer,
    Region,
    Role,
    ServiceRequest,
    Site,
    Technician,
    Triage,
    Urgency,
    User,
    Visit,
    VisitStatus,
    VisitTimeWindow,
)

Office = Annotated[User, Depends(require(Role.dispatcher, Role.admin))]
router = APIRouter(prefix="/api/v1")


def _codes(session: Session, model: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        row_id: code
        for row_id, code in session.exec(select(model.id, model.code).where(col(model.id).in_(ids)))
    }


# Requests -----------------------------------------------------------------------------------


def _requests(session: Session, rows: Sequence[ServiceRequest]) -> list[s.RequestRead]:
    """Read models of ``rows``, with every code they refer to looked up in one query per table."""
    customers = _codes(session, Customer, {r.customer_id for r in rows})
    contracts = _codes(session, Contract, {r.contract_id for r in rows})
    sites = {
        site.id: site
        for site in session.exec(select(Site).where(col(Site.id).in_({r.site_id for r in rows})))
    }
    regions = _codes(session, Region, {site.region_id for site in sites.values()})
    visits: dict[int, list[str]] = defaultdict(list)
    for request_id, code in session.exec(
        select(Visit.request_id, Visit.code)
        .where(col(Visit.request_id).in_([r.id for r in rows]))
        .order_by(Visit.id)  # type: ignore[arg-type]
    ):
        visits[request_id].append(code)
    return [
        s.RequestRead.model_validate(
            r.model_dump()
            | {
                "customer": customers[r.customer_id],
                "contract": contracts[r.contract_id],
                "site": sites[r.site_id].code,
                "region": regions[sites[r.site_id].region_id],
                "visits": visits[r.id],  # type: ignore[index]
            }
        )
        for r in rows
    ]


@router.get("/requests", response_model=Page[s.RequestRead], tags=["requests"], responses=REFUSED)
def list_requests(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    triage: Triage | None = None,
    urgency: Urgency | None = None,
    customer: Annotated[str | None, Query(max_length=32)] = None,
    contract: Annotated[str | None, Query(max_length=32)] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=16)] = None,
    registered_from: Annotated[datetime | None, Query(description="Inclusive, UTC.")] = None,
    registered_to: Annotated[datetime | None, Query(description="Exclusive, UTC.")] = None,
) -> Any:
    """Service requests, newest first unless sorted otherwise."""
    statement = select(ServiceRequest)
    if triage is not None:
        statement = statement.where(ServiceRequest.triage == triage)
    if urgency is not None:
        statement = statement.where(ServiceRequest.urgency == urgency)
    if customer is not None:
        statement = statement.join(Customer, Customer.id == ServiceRequest.customer_id).where(
            Customer.code == customer
        )
    if contract is not None:
        statement = statement.join(Contract, Contract.id == ServiceRequest.contract_id).where(
            Contract.code == contract
        )
    if site is not None or region is not None:
        statement = statement.join(Site, Site.id == ServiceRequest.site_id)
        if site is not None:
            statement = statement.where(Site.code == site)
        if region is not None:
            statement = statement.join(Region, Region.id == Site.region_id).where(
                Region.code == region
            )
    if registered_from is not None:
        statement = statement.where(ServiceRequest.registered_at >= _utc(registered_from))  # type: ignore[operator]
    if registered_to is not None:
        statement = statement.where(ServiceRequest.registered_at < _utc(registered_to))  # type: ignore[operator]
    return page(
        session,
        statement,
        paging,
        sortable={
            "code": ServiceRequest.code,
            "registered_at": ServiceRequest.registered_at,
            "sla_due_at": ServiceRequest.sla_due_at,
        },
        default="-registered_at",
        tiebreak=ServiceRequest.id,
        read_all=lambda rows: _requests(session, rows),
    )


@router.post(
    "/requests",
    status_code=201,
    response_model=s.RequestRead,
    tags=["requests"],
    responses={**CREATED, 503: {"description": "The geocoder is down (new site by address)"}},
)
def register_request(
    body: s.RequestCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: Office,
    response: Response,
    idempotency_key: idempotency.KeyHeader = None,
) -> Any:
    """Register a request at a site (or a new one, geocoded when given by address); its SLA
    deadline is computed at once."""
    print_ = idempotency.fingerprint("POST", "/requests", body)
    replay = idempotency.begin(session, user, idempotency_key, print_)
    if replay is not None:
        return replay
    new_site = None
    if body.new_site is not None:
        new_site = intake.NewSite(
            name=body.new_site.name,
            address=body.new_site.address,
            lat=body.new_site.lat,
            lon=body.new_site.lon,
            region_code=body.new_site.region,
        )
    row = intake.register_request(
        session,
        customer_code=body.customer,
        contract_code=body.contract,
        site_code=body.site,
        new_site=new_site,
        channel=body.channel,
        urgency=body.urgency,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        contact_email=body.contact_email,
        description=body.description,
        registered_at=body.registered_at,
        geocoder=geocoding.from_settings(settings),
    )
    read = _requests(session, [row])[0]
    location = f"/api/v1/requests/{row.code}"
    response.headers["Location"] = location
    idempotency.finish(
        session, user, idempotency_key, 201, {"Location": location}, read.model_dump_json()
    )
    return read


@router.get("/requests/{code}", response_model=s.RequestRead, tags=["requests"], responses=READ)
def get_request(code: str, session: SessionDep, _: Office, response: Response) -> s.RequestRead:
    row = catalogue.get(session, ServiceRequest, code)
    conditional.tag(response, row.revision)
    return _requests(session, [row])[0]


@router.post(
    "/requests/{code}/resolve", response_model=s.RequestRead, tags=["requests"], responses=WRITE
)
def resolve_request(code: str, body: s.Resolution, session: SessionDep, _: Office) -> s.RequestRead:
    """Close a pending request as resolved by first line; where the contract counts remote
    time, the quota is charged."""
    row = catalogue.get(session, ServiceRequest, code)
    intake.resolve_remotely(session, row, minutes=body.minutes, at=body.at)
    return _requests(session, [row])[0]


@router.post(
    "/requests/{code}/escalate",
    status_code=201,
    response_model=s.VisitRead,
    tags=["requests"],
    responses=WRITE,
)
def escalate_request(
    code: str, body: s.Escalation, session: SessionDep, _: Office, response: Response
) -> s.VisitRead:
    """A new on-site visit for the request, waiting for the next plan."""
    row = catalogue.get(session, ServiceRequest, code)
    visit = intake.escalate(
        session,
        row,
        duration_minutes=body.duration_minutes,
        skills=body.skills,
        windows=[(w.starts_at, w.ends_at) for w in body.windows],
        earliest_date=body.earliest_date,
        due_date=body.due_date,
        notes=body.notes,
    )
    response.headers["Location"] = f"/api/v1/visits/{visit.code}"
    conditional.tag(response, visit.revision)
    return _visits(session, [visit])[0]


@router.post(
    "/requests/{code}/cancel", response_model=s.RequestRead, tags=["requests"], responses=WRITE
)
def cancel_request(
    code: str, body: s.Cancellation, session: SessionDep, _: Office
) -> s.RequestRead:
    """Cancel a request and its visits not yet under way (their planned quota is given back)."""
    row = catalogue.get(session, ServiceRequest, code)
    intake.cancel_request(session, row, body.reason)
    return _requests(session, [row])[0]


# Visits -------------------------------------------------------------------------------------


def _visits(session: Session, rows: Sequence[Visit]) -> list[s.VisitRead]:
    """Read models of ``rows``, each table they refer to read once."""
    ids = [v.id for v in rows]
    requests = {
        r.id: r
        for r in session.exec(
            select(ServiceRequest).where(col(ServiceRequest.id).in_({v.request_id for v in rows}))
        )
    }
    contracts = {
        c.id: c
        for c in session.exec(
            select(Contract).where(col(Contract.id).in_({r.contract_id for r in requests.values()}))
        )
    }
    sites = {
        site.id: site
        for site in session.exec(
            select(Site).where(col(Site.id).in_({r.site_id for r in requests.values()}))
        )
    }
    customers = _codes(session, Customer, {r.customer_id for r in requests.values()})
    regions = _codes(session, Region, {site.region_id for site in sites.values()})
    technicians = _codes(
        session,
        Technician,
        {t for v in rows for t in (v.technician_id, v.pinned_technician_id) if t is not None},
    )
    skills = visit_skills(session, ids)  # type: ignore[arg-type]
    windows: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for w in session.exec(
        select(VisitTimeWindow)
        .where(col(VisitTimeWindow.visit_id).in_(ids))
        .order_by(VisitTimeWindow.starts_at)  # type: ignore[arg-type]
    ):
        windows[w.visit_id].append((w.starts_at, w.ends_at))
    found = []
    for v in rows:
        request = requests[v.request_id]
        contract, site = contracts[request.contract_id], sites[request.site_id]
        found.append(
            s.VisitRead.model_validate(
                v.model_dump()
                | {
                    "request": request.code,
                    "customer": customers[request.customer_id],
                    "contract": contract.code,
                    "tier": contract.tier,
                    "site": site.code,
                    "region": regions[site.region_id],
                    "technician": technicians.get(v.technician_id),  # type: ignore[arg-type]
                    "pinned_technician": technicians.get(v.pinned_technician_id),  # type: ignore[arg-type]
                    "arrival_window": (v.eta_earliest, v.eta_latest)
                    if v.eta_earliest and v.eta_latest
                    else None,
                    "skills": skills.get(v.id, {}),  # type: ignore[arg-type]
                    "windows": windows[v.id],  # type: ignore[index]
                }
            )
        )
    return found


@router.get("/visits", response_model=Page[s.VisitRead], tags=["visits"], responses=REFUSED)
def list_visits(
    session: SessionDep,
    _: Office,
    paging: PagingDep,
    status: Annotated[list[VisitStatus] | None, Query(description="Any of these.")] = None,
    technician: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[str | None, Query(max_length=16)] = None,
    request: Annotated[str | None, Query(max_length=32)] = None,
    day: Annotated[
        date | None,
        Query(alias="date", description="Planned to start on this local day of its region."),
    ] = None,
    open_on: Annotated[
        date | None, Query(description="May be done on this day (earliest..due).")
    ] = None,
) -> Any:
    """Visits, earliest due first unless sorted otherwise."""
    statement = select(Visit)
    if status:
        statement = statement.where(col(Visit.status).in_(status))
    if technician is not None:
        statement = statement.join(Technician, Technician.id == Visit.technician_id).where(
            Technician.code == technician
        )
    if request is not None or region is not None or day is not None:
        statement = statement.join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        if request is not None:
            statement = statement.where(ServiceRequest.code == request)
    if region is not None or day is not None:
        statement = statement.join(Site, Site.id == ServiceRequest.site_id).join(
            Region, Region.id == Site.region_id
        )
        if region is not None:
            statement = statement.where(Region.code == region)
    if day is not None:
        # A day is local to its region: each region's day is its own span of UTC.
        statement = statement.where(
            sa.or_(
                *(
                    (Region.id == r.id) & _on_day(Visit.planned_start, day, r.timezone)
                    for r in session.exec(select(Region))
                )
            )
        )
    if open_on is not None:
        statement = statement.where(Visit.earliest_date <= open_on, Visit.due_date >= open_on)  # type: ignore[operator]
    return page(
        session,
        statement,
        paging,
        sortable={
            "code": Visit.code,
            "due_date": Visit.due_date,
            "priority": Visit.priority,
            "planned_start": Visit.planned_start,
            "updated_at": Visit.updated_at,
        },
        default="due_date,-priority",
        tiebreak=Visit.id,
        read_all=lambda rows: _visits(session, rows),
    )


@router.get("/visits/{code}", response_model=s.VisitRead, tags=["visits"], responses=READ)
def get_visit(code: str, session: SessionDep, _: Office, response: Response) -> s.VisitRead:
    row = catalogue.get(session, Visit, code)
    conditional.tag(response, row.revision)
    return _visits(session, [row])[0]


@router.patch("/visits/{code}", response_model=s.VisitRead, tags=["visits"], responses=WRITE)
def amend_visit(
    code: str,
    body: s.VisitUpdate,
    session: SessionDep,
    _: Office,
    response: Response,
    if_match: conditional.IfMatch = None,
) -> s.VisitRead:
    """Change a visit's duration, days or notes before it is under way; to move it between
    technicians use assign / unassign / pin."""
    row = catalogue.get(session, Visit, code)
    conditional.check(if_match, row.revision, f"visit {code}")
    moves.amend(session, row, body.model_dump(exclude_unset=True))
    conditional.tag(response, row.revision)
    return _visits(session, [row])[0]


def _on_day(column: Any, day: date, timezone: str) -> Any:
    horizon = Horizon.of(day, 1, timezone)
    return (col(column) >= horizon.origin) & (col(column) < horizon.end())


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
