"""Account reports per contract and period: quota used, planned and left, overage, and how the
SLAs of the period's requests stand."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dispatch.billing import DEFAULT_TIMEZONE
from dispatch.ledger import contract_timezone
from dispatch.models import Contract, QuotaEntry, Region, ServiceRequest, Site, Triage, Visit
from schedules import service
from schedules.billing import hours, money, parse_period_label
from schedules.periods import Period, period_of_day
from schedules.quotas import draws_across_periods, status
from schedules.sla import sla_state

CSV_HEADER = (
    "contract_code",
    "contract_name",
    "kind",
    "period",
    "quota_hours",
    "carried_hours",
    "actual_hours",
    "remote_hours",
    "planned_hours",
    "remaining_hours",
    "overage_hours",
    "forecast_overage_hours",
    "quota_days",
    "days_used",
    "days_planned",
    "days_remaining",
    "overage_policy",
    "overage_amount",
    "overage_cents",
    "currency",
    "sla_met",
    "sla_breached",
    "sla_at_risk",
    "sla_open",
)


@dataclass(frozen=True, slots=True)
class ContractReport:
    """One contract in one period. Minutes and days as in ``schedules.quotas.QuotaStatus``
    (``quota`` and ``remaining`` None without a quota); SLA counts are of the requests
    registered in the period that have a deadline, as they stand at the report's ``now``."""

    contract_code: str
    contract_name: str
    kind: str
    period: str
    currency: str
    quota: int | None
    carried: int
    actual: int
    remote: int
    planned: int
    remaining: int | None
    overage: int
    forecast_overage: int
    quota_days: int | None
    days_used: int
    days_planned: int
    days_remaining: int | None
    overage_policy: str
    overage_cents: int
    sla_met: int
    sla_breached: int
    sla_at_risk: int
    sla_open: int


def contract_report(
    session: Session, contract: Contract, period: Period, *, now: datetime
) -> ContractReport:
    since = None if draws_across_periods(contract) else period.starts_at
    quota = status(contract, period, service.entries(session, contract, period.ends_at, since))
    sla = sla_counts(session, contract, period, now=now)
    return ContractReport(
        contract_code=contract.code,
        contract_name=contract.name,
        kind=contract.kind.value,
        period=period.label,
        currency=contract.currency,
        quota=quota.quota,
        carried=quota.carried,
        actual=quota.actual,
        remote=quota.remote,
        planned=quota.planned,
        remaining=quota.remaining,
        overage=quota.overage,
        forecast_overage=quota.forecast_overage,
        quota_days=quota.quota_days,
        days_used=quota.days_used,
        days_planned=quota.days_planned,
        days_remaining=quota.days_remaining,
        overage_policy=quota.overage_policy.value,
        overage_cents=quota.overage_cents,
        sla_met=sla["met"],
        sla_breached=sla["breached"],
        sla_at_risk=sla["at_risk"],
        sla_open=sla["open"],
    )


def sla_counts(
    session: Session, contract: Contract, period: Period, *, now: datetime
) -> Counter[str]:
    """SLA states at ``now`` of the contract's requests registered in ``period`` with a
    deadline. A response starts at the first on-site arrival or the remote resolution,
    as on the SLA board (``dispatch.sla.started_at``)."""
    rows = session.exec(
        select(
            ServiceRequest.sla_due_at,
            ServiceRequest.resolved_at,
            sa.func.min(Visit.actual_start),
        )
        .outerjoin(Visit, Visit.request_id == ServiceRequest.id)
        .where(
            ServiceRequest.contract_id == contract.id,
            ServiceRequest.registered_at >= period.starts_at,
            ServiceRequest.registered_at < period.ends_at,
            ServiceRequest.sla_due_at.is_not(None),  # type: ignore[union-attr]
            # A cancelled request owes no response.
            ServiceRequest.triage != Triage.cancelled,
        )
        .group_by(ServiceRequest.id, ServiceRequest.sla_due_at, ServiceRequest.resolved_at)
    )
    counts: Counter[str] = Counter()
    for due_at, resolved_at, first_arrival in rows:
        starts = [t for t in (first_arrival, resolved_at) if t is not None]
        counts[sla_state(due_at, now, min(starts) if starts else None)] += 1
    return counts


def report(
    session: Session,
    period_label: str,
    *,
    now: datetime,
    region: Region | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> list[ContractReport]:
    """Every contract with activity in the period (ledger entries or registered requests),
    by code; with ``region``, only contracts of customers with a site there. The label is
    read in each contract's local time; contracts whose quota runs by another kind of
    period (a weekly quota in a monthly report) are left out, their numbers would not add up."""
    kind, first = parse_period_label(period_label)
    reports = []
    for contract in _candidates(session, period_of_day(first, kind, "UTC"), region):
        if contract.quota_period not in (None, kind):
            continue
        timezone = contract_timezone(session, contract, default_timezone)
        period = period_of_day(first, kind, timezone)
        if _active(session, contract, period):
            reports.append(contract_report(session, contract, period, now=now))
    return reports


def _candidates(session: Session, utc_period: Period, region: Region | None) -> list[Contract]:
    """Contracts with activity near the period in UTC: a day either side holds every
    timezone's version of it, so that the exact test per contract can be cheap."""
    since = utc_period.starts_at - timedelta(days=1)
    until = utc_period.ends_at + timedelta(days=1)
    entries = select(QuotaEntry.contract_id).where(
        QuotaEntry.occurred_at >= since, QuotaEntry.occurred_at < until
    )
    requests = select(ServiceRequest.contract_id).where(
        ServiceRequest.registered_at >= since, ServiceRequest.registered_at < until
    )
    query = (
        select(Contract)
        .where(sa.or_(Contract.id.in_(entries), Contract.id.in_(requests)))  # type: ignore[union-attr]
        .order_by(Contract.code)
    )
    if region is not None:
        query = query.where(
            sa.exists().where(Site.customer_id == Contract.customer_id, Site.region_id == region.id)
        )
    return list(session.exec(query))


def _active(session: Session, contract: Contract, period: Period) -> bool:
    entry = session.exec(
        select(QuotaEntry.id)
        .where(
            QuotaEntry.contract_id == contract.id,
            QuotaEntry.occurred_at >= period.starts_at,
            QuotaEntry.occurred_at < period.ends_at,
        )
        .limit(1)
    ).first()
    if entry is not None:
        return True
    request = session.exec(
        select(ServiceRequest.id)
        .where(
            ServiceRequest.contract_id == contract.id,
            ServiceRequest.registered_at >= period.starts_at,
            ServiceRequest.registered_at < period.ends_at,
        )
        .limit(1)
    ).first()
    return request is not None


def to_csv(reports: list[ContractReport]) -> str:
    """The reports as RFC 4180 CSV under :data:`CSV_HEADER`; hours with two decimals. Quota
    columns are empty for contracts without a quota: their time is on the bill instead."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in reports:
        drawn = (r.carried, r.actual, r.remote, r.planned, r.remaining, r.overage)
        shown = [_hours(m) if r.quota is not None else "" for m in (r.quota, *drawn)]
        writer.writerow(
            (
                r.contract_code,
                r.contract_name,
                r.kind,
                r.period,
                *shown,
                _hours(r.forecast_overage) if r.quota is not None else "",
                _blank(r.quota_days),
                r.days_used,
                r.days_planned,
                _blank(r.days_remaining),
                r.overage_policy,
                money(r.overage_cents),
                r.overage_cents,
                r.currency,
                r.sla_met,
                r.sla_breached,
                r.sla_at_risk,
                r.sla_open,
            )
        )
    return out.getvalue()


def _hours(minutes: int | None) -> str:
    return "" if minutes is None else hours(minutes)


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)
