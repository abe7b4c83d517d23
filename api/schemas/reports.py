"""HTTP schemas of the dispatchers' reports: quotas and SLAs per contract, the SLA board of
requests at risk, and a contract's T&M billing."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dispatch.models import Urgency, VisitStatus
from schedules.models import ContractKind, OveragePolicy, Tier

MINUTES = "Minutes; null where the contract has no quota (time and materials)."


class QuotaMinutesRead(BaseModel):
    """A quota in minutes: remaining = quota - carried - actual - planned."""

    quota: int | None = Field(description=MINUTES, examples=[2400])
    carried: int = Field(description="Drawn from a prepaid block in earlier periods.", examples=[0])
    actual: int = Field(description="Worked on site, from time entries.", examples=[930])
    remote: int = Field(description="First-line time the contract counts.", examples=[45])
    planned: int = Field(description="Planned and not yet done.", examples=[240])
    remaining: int | None = Field(description=MINUTES + " Negative: overdrawn.", examples=[1185])
    overage: int = Field(description="Actual minutes beyond the quota.", examples=[0])
    forecast_overage: int = Field(
        description="Minutes beyond the quota once the plan is done.", examples=[0]
    )


class OnsiteDaysRead(BaseModel):
    quota: int | None = Field(description="On-site days allowed; null: no limit.", examples=[10])
    used: int = Field(examples=[4])
    planned: int = Field(examples=[2])
    remaining: int | None = Field(examples=[4])


class SlaCountsRead(BaseModel):
    """Requests registered in the period with a response deadline, by how their SLA stands
    at the report's time (cancelled requests left out)."""

    met: int = Field(examples=[12])
    breached: int = Field(examples=[1])
    at_risk: int = Field(examples=[2])
    open: int = Field(examples=[3])


class ContractQuotaRead(BaseModel):
    contract: str = Field(examples=["CT-0007"])
    name: str = Field(examples=["Managed IT services"])
    kind: ContractKind
    period: str = Field(examples=["2026-11"])
    currency: str = Field(examples=["RUB"])
    minutes: QuotaMinutesRead
    onsite_days: OnsiteDaysRead
    overage_policy: OveragePolicy
    overage_cents: int = Field(
        description="Overage priced at the T&M rate (bill_as_tm contracts only).", examples=[0]
    )
    sla: SlaCountsRead


class QuotaReportRead(BaseModel):
    period: str = Field(description="Month or ISO week, in each contract's local time.")
    region: str | None = Field(examples=["MSK-C"])
    generated_at: datetime = Field(description="The instant SLA states are counted at.")
    contracts: list[ContractQuotaRead] = Field(
        description="Every contract with ledger entries or requests in the period, by code."
    )


class VisitBriefRead(BaseModel):
    code: str = Field(examples=["V-000123"])
    status: VisitStatus
    technician: str | None = Field(examples=["T-017"])
    planned_start: datetime | None


class SlaItemRead(BaseModel):
    request: str = Field(examples=["SR-000042"])
    customer: str = Field(examples=["C-003"])
    contract: str = Field(examples=["CT-0007"])
    tier: Tier
    urgency: Urgency
    site: str = Field(examples=["S-0012"])
    site_name: str = Field(examples=["Head office"])
    state: str = Field(description="`at_risk` or `breached`.", examples=["at_risk"])
    due_at: datetime
    slack_minutes: int = Field(
        description="Minutes until the deadline (negative: overdue); for a response that "
        "started late, how late it started (negative).",
        examples=[35],
    )
    started_at: datetime | None = Field(
        description="First on-site arrival or remote resolution; null: not started."
    )
    visits: list[VisitBriefRead] = Field(description="The request's visits, oldest first.")


class SlaBoardRead(BaseModel):
    region: str = Field(examples=["MSK-C"])
    at: datetime = Field(description="The instant the states are computed at.")
    within_minutes: int = Field(description="How close to its deadline a request is at risk.")
    breached: list[SlaItemRead] = Field(description="Most overdue first.")
    at_risk: list[SlaItemRead] = Field(description="Least slack first.")


class BillingLineRead(BaseModel):
    visit: str = Field(examples=["V-000123"])
    request: str = Field(examples=["SR-000042"])
    completed_at: datetime
    kind: str = Field(
        description="`labour`, `travel`, `material` or `covered` (time within the quota).",
        examples=["labour"],
    )
    description: str = Field(examples=["Work on site beyond the quota, at the T&M rate"])
    quantity: str = Field(description="As on the invoice: hours or pieces.", examples=["1.50"])
    minutes: int = Field(description="Time the line stands for (0 for materials).")
    unit_price_cents: int = Field(examples=[300000])
    amount_cents: int = Field(examples=[450000])


class BillingTotalsRead(BaseModel):
    labour_cents: int = Field(examples=[450000])
    travel_cents: int = Field(examples=[0])
    materials_cents: int = Field(examples=[850000])
    total_cents: int = Field(examples=[1300000])
    minutes_billed: int = Field(examples=[90])
    minutes_covered: int = Field(examples=[120])
    minutes_unbilled: int = Field(
        description="Overage a block policy leaves off the bill.", examples=[0]
    )


class BillingRead(BaseModel):
    contract: str = Field(examples=["CT-0007"])
    period: str = Field(examples=["2026-11"])
    currency: str = Field(examples=["RUB"])
    starts_at: datetime = Field(description="The period's first instant, in the contract's time.")
    ends_at: datetime = Field(description="The instant after the period.")
    lines: list[BillingLineRead] = Field(description="By completion time, visit by visit.")
    totals: BillingTotalsRead
