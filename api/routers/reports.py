"""Dispatchers' reports over HTTP: quotas and SLAs per contract, the SLA board of requests at
risk or breached, and a contract's T&M billing, as JSON or as the CLI's CSV."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlmodel import Session, col, select

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.schemas.reports import (
    BillingLineRead,
    BillingRead,
    BillingTotalsRead,
    ContractQuotaRead,
    OnsiteDaysRead,
    QuotaMinutesRead,
    QuotaReportRead,
    SlaBoardRead,
    SlaCountsRead,
    SlaItemRead,
    VisitBriefRead,
)
from dispatch import billing, reports, sla
from dispatch.models import (
    Contract,
    Customer,
    Region,
    Role,
    ServiceRequest,
    Site,
    Technician,
    User,
    Visit,
)
from schedules import billing as bills
from schedules.errors import InvalidError

router = APIRouter(prefix="/api/v1", tags=["reports"])
Dispatcher = Annotated[User, Depends(require(Role.dispatcher, Role.admin))]
CSV = "text/csv"
# The day after any period must still be a date, and its local midnight an instant.
YEARS = range(1900, 9999)
MAX_WITHIN_MINUTES = 7 * 24 * 60


SIGNED_IN = {
    401: {"description": "No valid bearer token"},
    403: {"description": "Signed in, but neither dispatcher nor admin"},
}

Period = Annotated[
    str,
    Query(
        description="A month (2026-11) or an ISO week (2026-W48), in each contract's local time.",
        examples=["2026-11"],
    ),
]
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(
        alias="format",
        description="`csv` for a CSV file; default: JSON, or CSV when Accept prefers text/csv.",
    ),
]
Accept = Annotated[str | None, Header(include_in_schema=False)]


def _csv_doc(example: str) -> dict[str, Any]:
    return {
        "description": "JSON, or CSV (`?format=csv` or `Accept: text/csv`) as an attachment",
        "content": {CSV: {"schema": {"type": "string"}, "example": example}},
    }


def _period(label: str) -> str:
    """``label`` once it names a period the calendar can hold; 422 naming ``period`` if not."""
    _, first = bills.parse_period_label(label)
    if first.year not in YEARS:
        raise InvalidError(
            f"period {label!r} is outside the years {YEARS.start}..{YEARS.stop - 1}",
            field="period",
            value=label,
        )
    return label


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type`` when it names it explicitly, else 0."""
    best = 0.0
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        if name.lower() != media_type:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def _wants_csv(format: str | None, accept: str | None) -> bool:
    if format is not None:
        return format == "csv"
    # Only an explicit text/csv that JSON does not outrank: a browser's */* still gets JSON.
    csv_q = _quality(accept or "", CSV)
    return csv_q > 0 and csv_q >= _quality(accept or "", "application/json")


def _attachment(text: str, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return Response(
        content=text,
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Vary": "Accept"},
    )


def _region(session: Session, code: str) -> Region:
    # A filter naming a region that does not exist is bad input, as in the catalogue.
    found = session.exec(select(Region).where(Region.code == code)).first()
    if found is None:
        raise InvalidError(f"region {code!r} does not exist", field="region", value=code)
    return found


def _quota_read(r: reports.ContractReport) -> ContractQuotaRead:
    return ContractQuotaRead(
        contract=r.contract_code,
        name=r.contract_name,
        kind=r.kind,  # type: ignore[arg-type]
        period=r.period,
        currency=r.currency,
        minutes=QuotaMinutesRead(
            quota=r.quota,
            carried=r.carried,
            actual=r.actual,
            remote=r.remote,
            planned=r.planned,
            remaining=r.remaining,
            overage=r.overage,
            forecast_overage=r.forecast_overage,
        ),
        onsite_days=OnsiteDaysRead(
            quota=r.quota_days,
            used=r.days_used,
            planned=r.days_planned,
            remaining=r.days_remaining,
        ),
        overage_policy=r.overage_policy,  # type: ignore[arg-type]
        overage_cents=r.overage_cents,
        sla=SlaCountsRead(
            met=r.sla_met, breached=r.sla_breached, at_risk=r.sla_at_risk, open=r.sla_open
        ),
    )


@router.get(
    "/reports/quotas",
    response_model=QuotaReportRead,
    summary="Quota use and SLAs per contract in a period",
    responses={
        200: _csv_doc(",".join(reports.CSV_HEADER) + "\r\n"),
        **SIGNED_IN,
        422: {"description": "Bad period, unknown region or bad format"},
    },
)
def quota_report(
    session: SessionDep,
    settings: SettingsDep,
    _: Dispatcher,
    response: Response,
    period: Period,
    region: Annotated[
        str | None,
        Query(max_length=16, description="Only contracts of customers with a site there."),
    ] = None,
    format: Format = None,
    accept: Accept = None,
) -> QuotaReportRead | Response:
    """Every contract with ledger entries or registered requests in the period: quota minutes
    (carried, actual, remote, planned, remaining, overage now and once the plan is done),
    on-site days and how the SLAs of the period's requests stand now. Contracts whose quota
    runs by another kind of period are left out. The CSV is `dispatch report quotas --csv`:
    hours with two decimals."""
    response.headers["Vary"] = "Accept"
    label = _period(period)
    where = None if region is None else _region(session, region)
    now = datetime.now(UTC)
    rows = reports.report(
        session, label, now=now, region=where, default_timezone=settings.default_timezone
    )
    if _wants_csv(format, accept):
        suffix = f"-{region}" if region else ""
        return _attachment(reports.to_csv(rows), f"quotas-{label}{suffix}.csv")
    return QuotaReportRead(
        period=label, region=region, generated_at=now, contracts=[_quota_read(r) for r in rows]
    )


@router.get(
    "/sla/at-risk",
    response_model=SlaBoardRead,
    summary="Requests whose SLA is at risk or breached",
    responses={**SIGNED_IN, 422: {"description": "Unknown region or bad within_minutes"}},
)
def sla_at_risk(
    session: SessionDep,
    _: Dispatcher,
    region: Annotated[str, Query(max_length=16, description="Region code.")],
    within_minutes: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_WITHIN_MINUTES,
            description="A request not started within this many minutes of its deadline is "
            "at risk.",
        ),
    ] = int(sla.AT_RISK_WITHIN.total_seconds() // 60),
) -> SlaBoardRead:
    """Requests of the region's sites that are not cancelled, with a response deadline, and
    either not started within `within_minutes` of it (at risk) or started late or overdue
    (breached); most urgent first, with their contract, tier, site and visits."""
    where = _region(session, region)
    now = datetime.now(UTC)
    found = sla.board(session, now, region=where, at_risk_within=timedelta(minutes=within_minutes))
    codes = [item.request_code for items in found.values() for item in items]
    details = _request_details(session, codes)
    visits = _visits_of(session, codes)

    def read(item: sla.SlaItem) -> SlaItemRead:
        return SlaItemRead(
            **details[item.request_code],
            request=item.request_code,
            contract=item.contract_code,
            state=item.state,
            due_at=item.due_at,
            slack_minutes=item.slack_minutes,
            started_at=item.started_at,
            visits=visits[item.request_code],
        )

    return SlaBoardRead(
        region=where.code,
        at=now,
        within_minutes=within_minutes,
        breached=[read(item) for item in found["breached"]],
        at_risk=[read(item) for item in found["at_risk"]],
    )


def _request_details(session: Session, codes: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.exec(
        select(
            ServiceRequest.code,
            Customer.code,
            Contract.tier,
            ServiceRequest.urgency,
            Site.code,
            Site.name,
        )
        .join(Customer, Customer.id == ServiceRequest.customer_id)
        .join(Contract, Contract.id == ServiceRequest.contract_id)
        .join(Site, Site.id == ServiceRequest.site_id)
        .where(col(ServiceRequest.code).in_(codes))
    )
    return {
        code: {
            "customer": customer,
            "tier": tier,
            "urgency": urgency,
            "site": site,
            "site_name": name,
        }
        for code, customer, tier, urgency, site, name in rows
    }


def _visits_of(session: Session, codes: list[str]) -> dict[str, list[VisitBriefRead]]:
    found: dict[str, list[VisitBriefRead]] = defaultdict(list)
    rows = session.exec(
        select(ServiceRequest.code, Visit.code, Visit.status, Technician.code, Visit.planned_start)
        .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
        .outerjoin(Technician, Technician.id == Visit.technician_id)
        .where(col(ServiceRequest.code).in_(codes))
        .order_by(col(Visit.id))
    )
    for request, code, status, technician, planned_start in rows:
        found[request].append(
            VisitBriefRead(
                code=code, status=status, technician=technician, planned_start=planned_start
            )
        )
    return found


@router.get(
    "/contracts/{code}/billing",
    response_model=BillingRead,
    summary="A contract's T&M billing lines and totals for a period",
    responses={
        200: _csv_doc(",".join(bills.CSV_HEADER) + "\r\n"),
        **SIGNED_IN,
        404: {"description": "No contract has this code"},
        422: {"description": "Bad period or bad format"},
    },
)
def contract_billing(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    _: Dispatcher,
    response: Response,
    period: Period,
    format: Format = None,
    accept: Accept = None,
) -> BillingRead | Response:
    """Invoice lines of the contract's visits completed in the period (work, travel where the
    contract counts it, billable parts; time within the quota as `covered` lines at no
    charge), and their totals. The CSV is exactly `dispatch billing export`."""
    response.headers["Vary"] = "Accept"
    label = _period(period)
    contract = billing.contract_by_code(session, code)
    timezone = settings.default_timezone
    span = billing.contract_period(session, contract, label, default_timezone=timezone)
    lines = billing.billing_lines(session, contract, span, default_timezone=timezone)
    if _wants_csv(format, accept):
        return _attachment(bills.to_csv(lines), f"billing-{contract.code}-{label}.csv")
    summed = bills.totals(lines)
    totals = (
        BillingTotalsRead.model_validate(summed[0], from_attributes=True)
        if summed
        else BillingTotalsRead.model_validate(dict.fromkeys(BillingTotalsRead.model_fields, 0))
    )
    return BillingRead(
        contract=contract.code,
        period=label,
        currency=contract.currency,
        starts_at=span.starts_at,
        ends_at=span.ends_at,
        lines=[
            BillingLineRead(
                visit=line.visit_code,
                request=line.request_code,
                completed_at=line.completed_at,
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                minutes=line.minutes,
                unit_price_cents=line.unit_price_cents,
                amount_cents=line.amount_cents,
            )
            for line in lines
        ],
        totals=totals,
    )
