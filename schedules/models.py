"""Tables schedules owns: contracts, region business hours and holidays, technicians' calendars."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, enum_type, in_range, optimistic_lock, utcnow

MINUTES_PER_DAY = 24 * 60


class ContractKind(StrEnum):
    time_and_materials = "time_and_materials"
    managed = "managed"
    prepaid_hours = "prepaid_hours"


class Tier(StrEnum):
    """Commercial tier; platinum outranks gold outranks silver outranks bronze."""

    platinum = "platinum"
    gold = "gold"
    silver = "silver"
    bronze = "bronze"


class Coverage(StrEnum):
    """Hours in which the SLA clock runs."""

    always = "24x7"
    business_hours = "business_hours"


class QuotaPeriod(StrEnum):
    week = "week"
    month = "month"


class OveragePolicy(StrEnum):
    block = "block"
    bill_as_tm = "bill_as_tm"


class EntryKind(StrEnum):
    """What a quota ledger entry records."""

    # A published plan's visit (reversed when the plan is replaced or the visit is done).
    planned = "planned"
    # Time a technician reported on a visit (work, and travel where the contract counts it).
    actual = "actual"
    # First-line time spent resolving a request remotely.
    remote = "remote"


class ExceptionKind(StrEnum):
    vacation = "vacation"
    sickness = "sickness"
    training = "training"
    extra_shift = "extra_shift"
    other = "other"


class Contract(SQLModel, table=True):
    """What a customer bought: how visits are paid for, prioritised and budgeted."""

    __tablename__ = "contract"
    __table_args__ = (
        sa.UniqueConstraint("id", "customer_id"),
        check("valid_to IS NULL OR valid_to >= valid_from", "valid_period"),
        check("sla_response_hours IS NULL OR sla_response_hours > 0", "sla_positive"),
        check("hourly_rate_cents >= 0", "rate_not_negative"),
        check("monthly_fee_cents IS NULL OR monthly_fee_cents >= 0", "fee_not_negative"),
        check(
            "(quota_period IS NULL AND quota_hours IS NULL AND quota_onsite_days IS NULL) OR "
            "(quota_period IS NOT NULL AND quota_hours IS NOT NULL "
            "AND quota_onsite_days IS NOT NULL)",
            "quota_complete",
        ),
        check("quota_hours IS NULL OR quota_hours >= 0", "quota_hours_not_negative"),
        check("quota_onsite_days IS NULL OR quota_onsite_days >= 0", "quota_days_not_negative"),
        check("prepaid_hours IS NULL OR prepaid_hours > 0", "prepaid_positive"),
        check(
            "kind <> 'managed' OR (quota_period IS NOT NULL AND sla_response_hours IS NOT NULL)",
            "managed_has_quota_and_sla",
        ),
        check("kind <> 'prepaid_hours' OR prepaid_hours IS NOT NULL", "prepaid_has_block"),
        check(
            "kind <> 'time_and_materials' OR (quota_period IS NULL AND prepaid_hours IS NULL "
            "AND hourly_rate_cents > 0)",
            "tm_is_billed_by_rate",
        ),
        check("overage_policy <> 'bill_as_tm' OR hourly_rate_cents > 0", "overage_needs_rate"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="RESTRICT", index=True)
    name: str = Field(max_length=200)
    kind: ContractKind = Field(sa_type=enum_type(ContractKind, "kind"))
    tier: Tier = Field(sa_type=enum_type(Tier, "tier"))
    sla_response_hours: int | None = None
    coverage: Coverage = Field(
        default=Coverage.business_hours, sa_type=enum_type(Coverage, "coverage")
    )
    quota_period: QuotaPeriod | None = Field(
        default=None, sa_type=enum_type(QuotaPeriod, "quota_period")
    )
    quota_hours: int | None = None
    quota_onsite_days: int | None = None
    overage_policy: OveragePolicy = Field(
        default=OveragePolicy.block, sa_type=enum_type(OveragePolicy, "overage_policy")
    )
    hourly_rate_cents: int = 0
    monthly_fee_cents: int | None = None
    prepaid_hours: int | None = None
    currency: str = Field(default="RUB", min_length=3, max_length=3)
    # Whether travel time is billed (T&M) or drawn from the quota (managed, prepaid).
    include_travel: bool = False
    # Whether first-line remote resolution time is drawn from the quota.
    include_remote: bool = False
    valid_from: date
    valid_to: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class WeeklyHours(SQLModel):
    """Opening hours on one weekday (0 = Monday), in minutes of local time (1440 = midnight)."""

    weekday: int = Field(primary_key=True)
    opens_minute: int
    closes_minute: int


def weekly_hours_checks() -> tuple[sa.CheckConstraint, ...]:
    """The constraints of a WeeklyHours table (fresh objects: constraints belong to one table)."""
    return (
        in_range("weekday", 0, 6),
        in_range("opens_minute", 0, MINUTES_PER_DAY - 1),
        check(f"closes_minute > opens_minute AND closes_minute <= {MINUTES_PER_DAY}", "order"),
    )


class BusinessHours(WeeklyHours, table=True):
    """A region's business hours on one weekday: when business-hours SLA clocks run."""

    __tablename__ = "business_hours"
    __table_args__ = weekly_hours_checks()

    region_id: int = Field(foreign_key="region.id", ondelete="CASCADE", primary_key=True)


class Holiday(SQLModel, table=True):
    """A non-working day in a region: business hours and regular shifts do not apply."""

    __tablename__ = "holiday"

    region_id: int = Field(foreign_key="region.id", ondelete="CASCADE", primary_key=True)
    day: date = Field(primary_key=True)
    name: str = Field(max_length=100)


class WorkPattern(SQLModel, table=True):
    """A technician's regular shift on one weekday, in minutes of the region's local time.

    ``ends_minute`` past 1440 is a shift that ends after midnight. The break is a span of
    ``break_minutes`` to be placed anywhere between ``break_earliest`` and ``break_latest``.
    """

    __tablename__ = "work_pattern"
    __table_args__ = (
        in_range("weekday", 0, 6),
        in_range("starts_minute", 0, MINUTES_PER_DAY - 1),
        check(
            f"ends_minute > starts_minute AND ends_minute <= starts_minute + {MINUTES_PER_DAY}",
            "shift_order",
        ),
        in_range("break_minutes", 0, 240),
        check(
            "(break_minutes = 0 AND break_earliest IS NULL AND break_latest IS NULL) OR "
            "(break_minutes > 0 AND break_earliest IS NOT NULL AND break_latest IS NOT NULL "
            "AND break_earliest >= starts_minute "
            "AND break_latest <= ends_minute "
            "AND break_latest - break_earliest >= break_minutes)",
            "break_fits",
        ),
    )

    technician_id: int = Field(foreign_key="technician.id", ondelete="CASCADE", primary_key=True)
    weekday: int = Field(primary_key=True)
    starts_minute: int
    ends_minute: int
    break_minutes: int = 0
    break_earliest: int | None = None
    break_latest: int | None = None


class CalendarException(SQLModel, table=True):
    """A departure from a technician's pattern: time off (vacation, ...) or an extra shift."""

    __tablename__ = "calendar_exception"
    __table_args__ = (check("ends_at > starts_at", "order"),)

    id: int | None = Field(default=None, primary_key=True)
    technician_id: int = Field(foreign_key="technician.id", ondelete="CASCADE", index=True)
    kind: ExceptionKind = Field(sa_type=enum_type(ExceptionKind, "kind"))
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)


class QuotaEntry(SQLModel, table=True):
    """One line of a contract's append-only quota ledger: minutes drawn (or, negative, given
    back) at an instant. Corrections are new lines, never updates, so every status can be
    traced to the events behind it. ``onsite_day`` is the local day of on-site work the line
    stands for (None for travel and remote time), from which on-site days are counted."""

    __tablename__ = "quota_entry"
    __table_args__ = (
        sa.Index("ix_quota_entry_contract_occurred", "contract_id", "occurred_at"),
        check("kind <> 'planned' OR visit_id IS NOT NULL", "planned_has_visit"),
        check("kind <> 'remote' OR request_id IS NOT NULL", "remote_has_request"),
        check("kind <> 'remote' OR onsite_day IS NULL", "remote_is_not_onsite"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", ondelete="RESTRICT")
    kind: EntryKind = Field(sa_type=enum_type(EntryKind, "kind"))
    minutes: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    onsite_day: date | None = None
    visit_id: int | None = Field(
        default=None, foreign_key="visit.id", ondelete="RESTRICT", index=True
    )
    request_id: int | None = Field(
        default=None, foreign_key="service_request.id", ondelete="RESTRICT"
    )
    plan_id: int | None = Field(default=None, foreign_key="plan.id", ondelete="RESTRICT")
    time_entry_id: int | None = Field(
        default=None, foreign_key="time_entry.id", ondelete="RESTRICT"
    )
    # Why the entry exists, for people reading the ledger ("plan 12 published", ...).
    note: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
