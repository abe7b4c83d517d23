"""Intake, the call centre's first line: registering service requests, resolving them remotely,
escalating them to on-site visits and cancelling them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from dispatch import catalogue, events, geocoding, inputs, ledger, sla
from dispatch.geocoding import Geocoder
from dispatch.models import (
    Channel,
    Contract,
    Customer,
    EventTopic,
    Holiday,
    Region,
    ServiceRequest,
    Site,
    Triage,
    Urgency,
    Visit,
    VisitSkill,
    VisitStatus,
    VisitTimeWindow,
)
from schedules.calendars import local_to_utc, working_days
from schedules.db import utcnow
from schedules.errors import ConflictError, InvalidError
from schedules.periods import local_day
from schedules.priority import priority_weight
from schedules.sla import slack_minutes

Row = TypeVar("Row", bound=SQLModel)
Enum = TypeVar("Enum", bound=StrEnum)

# Prefixes and widths of the seed's codes (SR-000001, S-0001, V-000001), continued here.
REQUEST_CODE = ("SR-", 6)
SITE_CODE = ("S-", 4)
VISIT_CODE = ("V-", 6)
# Where a contract has no SLA clock, a visit is due this many working days after its earliest.
DUE_WORKING_DAYS_WITHOUT_SLA = 5
MAX_VISIT_MINUTES = 24 * 60
# First-line time beyond a day is a typing error, and it would be drawn from the quota.
MAX_REMOTE_MINUTES = 24 * 60
ESCALATABLE = (Triage.pending, Triage.escalated)
CANCELLABLE_REQUESTS = (Triage.pending, Triage.escalated)
# Visits not yet under way; a technician on the road or on site must report the outcome.
CANCELLABLE_VISITS = (VisitStatus.unscheduled, VisitStatus.scheduled, VisitStatus.dispatched)
STARTED_VISITS = (VisitStatus.en_route, VisitStatus.on_site)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSite:
    """A site registered with its first request; without ``lat`` and ``lon`` it is geocoded."""

    name: str
    address: str
    lat: float | None = None
    lon: float | None = None
    region_code: str


def register_request(
    session: Session,
    *,
    customer_code: str,
    contract_code: str,
    site_code: str | None = None,
    new_site: NewSite | None = None,
    channel: Channel | str,
    urgency: Urgency | str = Urgency.normal,
    contact_name: str,
    contact_phone: str | None = None,
    contact_email: str | None = None,
    description: str,
    registered_at: datetime | None = None,
    geocoder: Geocoder | None = None,
) -> ServiceRequest:
    """A new pending request at an existing site (``site_code``) or at a site registered with
    it (``new_site``), under a contract of the customer valid on the registration day, with
    its SLA deadline. Everything is checked, and a new site geocoded, before anything is
    written."""
    at = utcnow() if registered_at is None else inputs.aware("registered_at", registered_at)
    channel = inputs.member(Channel, "channel", channel)
    urgency = inputs.member(Urgency, "urgency", urgency)
    contact_name = inputs.text("contact_name", contact_name)
    description = inputs.text("description", description)
    customer = inputs.reference(session, Customer, "customer_code", customer_code)
    contract = inputs.reference(session, Contract, "contract_code", contract_code)
    if contract.customer_id != customer.id:
        raise InvalidError(
            f"contract {contract_code!r} is not a contract of customer {customer_code!r}",
            field="contract_code",
            value=contract_code,
        )
    if (site_code is None) == (new_site is None):
        raise InvalidError(
            "give either site_code (an existing site) or new_site", field="site_code", value=None
        )
    site: Site | None = None
    if site_code is not None:
        site = inputs.reference(session, Site, "site_code", site_code)
        if site.customer_id != customer.id:
            raise InvalidError(
                f"site {site_code!r} is not a site of customer {customer_code!r}",
                field="site_code",
                value=site_code,
            )
        region = session.get_one(Region, site.region_id)
    else:
        assert new_site is not None
        region = inputs.reference(session, Region, "region_code", new_site.region_code)
    _check_valid_on(contract, local_day(at, region.timezone))
    due = _deadline(session, contract, region, at)
    values: dict[str, Any] = {
        "customer_id": customer.id,
        "contract_id": contract.id,
        "channel": channel,
        "urgency": urgency,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
        "description": description,
        "registered_at": at,
        "triage": Triage.pending,
        "sla_due_at": due,
    }
    inputs.validated(ServiceRequest, values | {"code": "SR-0", "site_id": 0})
    if site is None:
        assert new_site is not None
        # The geocoder is asked last: it is the slowest check and the only one outside.
        site_values = _new_site_values(new_site, customer, region, geocoder)
        site = inputs.insert_numbered(session, Site, SITE_CODE, site_values)
    return inputs.insert_numbered(
        session, ServiceRequest, REQUEST_CODE, values | {"site_id": site.id}
    )


def resolve_remotely(
    session: Session, request: ServiceRequest, *, minutes: int, at: datetime | None = None
) -> ServiceRequest:
    """Close a pending request as resolved by first line at ``at`` (now by default) after
    ``minutes`` of first-line time in all, which the contract's quota is charged where the
    contract counts remote time. The request is re-read and locked first."""
    inputs.whole("minutes", minutes, 1, MAX_REMOTE_MINUTES)
    resolved_at = utcnow() if at is None else inputs.aware("at", at)
    _lock(session, request)
    if request.triage is not Triage.pending:
        raise ConflictError(
            f"request {request.code} is {request.triage.value}; only a pending request can be "
            f"resolved remotely",
            field="triage",
            value=request.triage.value,
        )
    if resolved_at < request.registered_at:
        raise InvalidError(
            f"at {resolved_at.isoformat()} is before the request was registered "
            f"({request.registered_at.isoformat()})",
            field="at",
            value=resolved_at.isoformat(),
        )
    request.triage = Triage.resolved_remotely
    request.resolved_at = resolved_at
    request.remote_minutes = minutes
    session.add(request)
    session.flush()
    ledger.record_remote_resolution(session, request)
    return request


def escalate(
    session: Session,
    request: ServiceRequest,
    *,
    duration_minutes: int,
    skills: Mapping[str, int],
    windows: Sequence[tuple[datetime, datetime]] | None = None,
    earliest_date: date | None = None,
    due_date: date | None = None,
    notes: str | None = None,
) -> Visit:
    """A new unscheduled visit for a pending or already escalated request (a request may need
    several), needing ``skills`` (skill code to minimum level), arriving within ``windows``
    (any time if none).

    ``earliest_date`` defaults to the region-local day of registration; ``due_date`` to the
    local day of the SLA deadline (never before ``earliest_date``: a late visit is still
    planned), or without an SLA to the fifth working day after ``earliest_date``. Priority
    comes from the contract's tier, the urgency and the slack the SLA gave at registration.
    """
    inputs.whole("duration_minutes", duration_minutes, 1, MAX_VISIT_MINUTES)
    if notes is not None:
        notes = inputs.text("notes", notes)
    _lock(session, request)
    if request.triage not in ESCALATABLE:
        raise ConflictError(
            f"request {request.code} is {request.triage.value}; only a pending or escalated "
            f"request gets visits",
            field="triage",
            value=request.triage.value,
        )
    needs = catalogue.skill_levels(session, skills)
    contract = session.get_one(Contract, request.contract_id)
    region = session.get_one(Region, session.get_one(Site, request.site_id).region_id)
    registered_on = local_day(request.registered_at, region.timezone)
    earliest = (
        registered_on if earliest_date is None else inputs.day("earliest_date", earliest_date)
    )
    if earliest < registered_on:
        raise InvalidError(
            f"earliest_date {earliest.isoformat()} is before the request was registered "
            f"({registered_on.isoformat()})",
            field="earliest_date",
            value=earliest.isoformat(),
        )
    if due_date is None:
        due = _default_due(session, request, region, earliest)
    else:
        due = inputs.day("due_date", due_date)
        if due < earliest:
            raise InvalidError(
                f"due_date {due.isoformat()} is before earliest_date {earliest.isoformat()}",
                field="due_date",
                value=due.isoformat(),
            )
    spans = _windows(windows, earliest, due, region.timezone)
    priority = priority_weight(
        contract.tier.value,
        request.urgency.value,
        slack_minutes(request.sla_due_at, request.registered_at),
    )
    values: dict[str, Any] = {
        "request_id": request.id,
        "duration_minutes": duration_minutes,
        "priority": priority,
        "earliest_date": earliest,
        "due_date": due,
        "status": VisitStatus.unscheduled,
        "notes": notes,
    }
    visit = inputs.insert_numbered(session, Visit, VISIT_CODE, values)
    for skill_id, level in needs:
        session.add(
            inputs.validated(
                VisitSkill, {"visit_id": visit.id, "skill_id": skill_id, "min_level": level}
            )
        )
    for starts_at, ends_at in spans:
        session.add(
            inputs.validated(
                VisitTimeWindow,
                {"visit_id": visit.id, "starts_at": starts_at, "ends_at": ends_at},
            )
        )
    request.triage = Triage.escalated
    session.add(request)
    session.flush()
    events.emit(
        session,
        EventTopic.visit_escalated,
        "visit",
        visit.id,  # type: ignore[arg-type]
        {
            "visit": visit.code,
            "request": request.code,
            "urgency": request.urgency.value,
            "earliest_date": visit.earliest_date.isoformat(),
            "due_date": visit.due_date.isoformat(),
        },
    )
    return visit


def cancel_request(session: Session, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Cancel a pending or escalated request and its visits not yet under way, giving back
    the quota their plans hold; refused while a technician is on the way or on site. The
    reason goes into the cancelled visits' notes (requests have no column for it)."""
    reason = inputs.text("reason", reason, limit=500)
    _lock(session, request)
    if request.triage not in CANCELLABLE_REQUESTS:
        raise ConflictError(
            f"request {request.code} is {request.triage.value}; only a pending or escalated "
            f"request can be cancelled",
            field="triage",
            value=request.triage.value,
        )
    visits = list(
        session.exec(
            select(Visit)
            .where(Visit.request_id == request.id)
            .order_by(col(Visit.id))
            # Planning must not schedule a visit this transaction is cancelling.
            .with_for_update()
        )
    )
    for visit in visits:
        if visit.status in STARTED_VISITS:
            raise ConflictError(
                f"visit {visit.code} of request {request.code} is already {visit.status.value} "
                f"and cannot be cancelled",
                field="visit",
                value=visit.code,
            )
    cancelled = [visit for visit in visits if visit.status in CANCELLABLE_VISITS]
    for visit in cancelled:
        visit.status = VisitStatus.cancelled
        visit.revision += 1
        visit.notes = f"{visit.notes}\n" if visit.notes else ""
        visit.notes += f"Cancelled: {reason}"
        session.add(visit)
    request.triage = Triage.cancelled
    session.add(request)
    session.flush()
    for visit in cancelled:
        ledger.record_visit_closed(session, visit)
        events.emit(
            session,
            EventTopic.visit_cancelled,
            "visit",
            visit.id,  # type: ignore[arg-type]
            {"visit": visit.code, "request": request.code, "reason": reason},
        )
    session.flush()
    return request


def _new_site_values(
    new_site: NewSite, customer: Customer, region: Region, geocoder: Geocoder | None
) -> dict[str, Any]:
    name = inputs.text("name", new_site.name)
    address = inputs.text("address", new_site.address)
    if (new_site.lat is None) != (new_site.lon is None):
        missing = "lat" if new_site.lat is None else "lon"
        raise InvalidError(
            "give both lat and lon, or neither to geocode the address", field=missing, value=None
        )
    values: dict[str, Any] = {
        "customer_id": customer.id,
        "region_id": region.id,
        "name": name,
        "address": address,
    }
    # Checked before the geocoder is asked, so a bad name costs no round trip.
    inputs.validated(Site, values | {"code": "S-0", "lat": 1.0, "lon": 1.0})
    if new_site.lat is not None and new_site.lon is not None:
        lat, lon = (
            inputs.coordinate("lat", new_site.lat, 90),
            inputs.coordinate("lon", new_site.lon, 180),
        )
        if (lat, lon) == (0.0, 0.0):
            raise InvalidError(
                "coordinates (0, 0) are a missing location, not a site", field="lat", value=lat
            )
    else:
        # Regions carry no country, so the search is not narrowed to one.
        lat, lon, _ = geocoding.locate(geocoder, address)
    return values | {"lat": lat, "lon": lon}


def _check_valid_on(contract: Contract, day: date) -> None:
    if day < contract.valid_from or (contract.valid_to is not None and day > contract.valid_to):
        until = contract.valid_to.isoformat() if contract.valid_to else "open-ended"
        raise InvalidError(
            f"contract {contract.code!r} is not valid on {day.isoformat()} (valid from "
            f"{contract.valid_from.isoformat()}, until {until})",
            field="contract_code",
            value=contract.code,
        )


def _deadline(
    session: Session, contract: Contract, region: Region, at: datetime
) -> datetime | None:
    try:
        return sla.deadline(session, contract, region.id, at)  # type: ignore[arg-type]
    except ValueError as exc:
        # A business-hours clock in a region whose business hours were never entered.
        raise InvalidError(
            f"the SLA clock of contract {contract.code!r} cannot run in region "
            f"{region.code!r}: {exc}",
            field="region",
            value=region.code,
        ) from exc


def _default_due(session: Session, request: ServiceRequest, region: Region, earliest: date) -> date:
    if request.sla_due_at is not None:
        return max(local_day(request.sla_due_at, region.timezone), earliest)
    holidays = set(session.exec(select(Holiday.day).where(Holiday.region_id == region.id)))
    return working_days(earliest + timedelta(days=1), DUE_WORKING_DAYS_WITHOUT_SLA, holidays)[-1]


def _windows(
    windows: Sequence[tuple[datetime, datetime]] | None, earliest: date, due: date, timezone: str
) -> list[tuple[datetime, datetime]]:
    """The windows in UTC and in order, each aware, non-empty, apart from the others and
    within the local days ``earliest`` .. ``due``."""
    spans = []
    for window in windows or ():
        if not (isinstance(window, Sequence) and len(window) == 2):
            raise InvalidError(
                "a window is a (starts_at, ends_at) pair", field="windows", value=repr(window)
            )
        starts_at, ends_at = (inputs.aware("windows", instant) for instant in window)
        if ends_at <= starts_at:
            raise InvalidError(
                "a window must end after it starts", field="windows", value=_span(window)
            )
        spans.append((starts_at.astimezone(UTC), ends_at.astimezone(UTC)))
    spans.sort()
    for first, second in pairwise(spans):
        if second[0] < first[1]:
            raise InvalidError(
                f"windows {_span(first)} and {_span(second)} overlap",
                field="windows",
                value=_span(second),
            )
    opens = local_to_utc(earliest, 0, timezone)
    closes = local_to_utc(due + timedelta(days=1), 0, timezone)
    for span in spans:
        if span[0] < opens or span[1] > closes:
            raise InvalidError(
                f"window {_span(span)} is outside the visit's days {earliest.isoformat()} .. "
                f"{due.isoformat()} ({timezone})",
                field="windows",
                value=_span(span),
            )
    return spans


def _lock(session: Session, request: ServiceRequest) -> None:
    """Re-read the request under a row lock, so that two agents acting on it at once do not
    both see it pending (SQLite, which locks the whole database on write, ignores the lock)."""
    session.refresh(request, with_for_update=True)


def _span(window: Sequence[datetime]) -> str:
    return f"{window[0].isoformat()}/{window[1].isoformat()}"
