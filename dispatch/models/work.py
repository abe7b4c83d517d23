"""Tables for the work itself: service requests, visits with their skills and windows, time and
materials reported from the field."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, enum_type, in_range, optimistic_lock, utcnow


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    portal = "portal"
    monitoring = "monitoring"


class Urgency(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    emergency = "emergency"


class Triage(StrEnum):
    """What first line did with a request."""

    pending = "pending"
    resolved_remotely = "resolved_remotely"
    escalated = "escalated"
    cancelled = "cancelled"


class VisitStatus(StrEnum):
    unscheduled = "unscheduled"
    scheduled = "scheduled"
    dispatched = "dispatched"
    en_route = "en_route"
    on_site = "on_site"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class TimeEntryKind(StrEnum):
    travel = "travel"
    work = "work"


class ServiceRequest(SQLModel, table=True):
    """What a customer asked for, as the call centre registered it."""

    __tablename__ = "service_request"
    __table_args__ = (
        # The site and the contract must belong to the request's customer.
        sa.ForeignKeyConstraint(
            ["site_id", "customer_id"], ["site.id", "site.customer_id"], ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["contract_id", "customer_id"],
            ["contract.id", "contract.customer_id"],
            ondelete="RESTRICT",
        ),
        check("remote_minutes >= 0", "remote_minutes_not_negative"),
        check("triage <> 'resolved_remotely' OR resolved_at IS NOT NULL", "resolution_has_time"),
        check("resolved_at IS NULL OR resolved_at >= registered_at", "resolved_after_registered"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    customer_id: int = Field(index=True)
    site_id: int = Field(index=True)
    contract_id: int = Field(index=True)
    channel: Channel = Field(sa_type=enum_type(Channel, "channel"))
    urgency: Urgency = Field(default=Urgency.normal, sa_type=enum_type(Urgency, "urgency"))
    contact_name: str = Field(max_length=100)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_email: str | None = Field(default=None, max_length=254)
    description: str = Field(sa_type=sa.Text)
    registered_at: datetime = Field(sa_type=UTCDateTime, index=True)
    triage: Triage = Field(default=Triage.pending, sa_type=enum_type(Triage, "triage"))
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # First-line time spent on the request, remote resolution included.
    remote_minutes: int = 0
    # Response deadline from the contract's SLA clock; empty where the contract has no SLA.
    sla_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class Visit(SQLModel, table=True):
    """One on-site appointment for an escalated request, at the request's site."""

    __tablename__ = "visit"
    __table_args__ = (
        check("duration_minutes > 0 AND duration_minutes <= 1440", "duration_range"),
        in_range("priority", 1, 100),
        check("due_date >= earliest_date", "due_after_earliest"),
        check(
            "pinned_date IS NULL OR (pinned_date >= earliest_date AND pinned_date <= due_date)",
            "pinned_date_in_range",
        ),
        check("planned_end IS NULL OR planned_end > planned_start", "planned_order"),
        check("actual_end IS NULL OR actual_end >= actual_start", "actual_order"),
        check(
            "status IN ('unscheduled', 'cancelled') OR technician_id IS NOT NULL",
            "scheduled_has_technician",
        ),
        check("status <> 'unscheduled' OR technician_id IS NULL", "unscheduled_has_none"),
        check("revision >= 1", "revision_positive"),
        check("eta_latest IS NULL OR eta_latest >= eta_earliest", "eta_order"),
        check(
            "pinned_position IS NULL OR (pinned_position >= 0 AND pinned_technician_id IS NOT NULL "
            "AND pinned_date IS NOT NULL)",
            "pinned_position_needs_day",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    request_id: int = Field(foreign_key="service_request.id", ondelete="RESTRICT", index=True)
    duration_minutes: int
    priority: int = 50
    earliest_date: date
    due_date: date
    status: VisitStatus = Field(
        default=VisitStatus.unscheduled, sa_type=enum_type(VisitStatus, "status"), index=True
    )
    technician_id: int | None = Field(
        default=None, foreign_key="technician.id", ondelete="RESTRICT", index=True
    )
    pinned_technician_id: int | None = Field(
        default=None, foreign_key="technician.id", ondelete="RESTRICT"
    )
    pinned_date: date | None = None
    planned_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    planned_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actual_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actual_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The arrival window the customer was given (P10..P90 of the expected arrival).
    eta_earliest: datetime | None = Field(default=None, sa_type=UTCDateTime)
    eta_latest: datetime | None = Field(default=None, sa_type=UTCDateTime)
    eta_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Position in the technician's route of its day when pinned there (0 = first).
    pinned_position: int | None = None
    notes: str | None = Field(default=None, sa_type=sa.Text)
    # Bumped once per logical change by the code that makes it; every UPDATE checks it
    # (optimistic locking), and the API's ETag reads it.
    revision: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"onupdate": utcnow}
    )

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls, manual=True)


class VisitSkill(SQLModel, table=True):
    """A skill a visit needs, at a minimum level."""

    __tablename__ = "visit_skill"
    __table_args__ = (in_range("min_level", 1, 5),)

    visit_id: int = Field(foreign_key="visit.id", ondelete="CASCADE", primary_key=True)
    skill_id: int = Field(foreign_key="skill.id", ondelete="RESTRICT", primary_key=True)
    min_level: int = 1


class VisitTimeWindow(SQLModel, table=True):
    """One interval in which the technician may arrive; a visit has one or more."""

    __tablename__ = "visit_time_window"
    __table_args__ = (
        sa.UniqueConstraint("visit_id", "starts_at"),
        check("ends_at > starts_at", "order"),
    )

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", ondelete="CASCADE", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)


class TimeEntry(SQLModel, table=True):
    """Time a technician reports: travel (to a visit or back) or work on a visit."""

    __tablename__ = "time_entry"
    __table_args__ = (
        check("ended_at > started_at", "order"),
        check("kind <> 'work' OR visit_id IS NOT NULL", "work_is_on_a_visit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    technician_id: int = Field(foreign_key="technician.id", ondelete="RESTRICT", index=True)
    visit_id: int | None = Field(
        default=None, foreign_key="visit.id", ondelete="RESTRICT", index=True
    )
    kind: TimeEntryKind = Field(sa_type=enum_type(TimeEntryKind, "kind"))
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime = Field(sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MaterialUsage(SQLModel, table=True):
    """Parts used on a visit; billable ones appear on T&M invoices."""

    __tablename__ = "material_usage"
    __table_args__ = (
        check("quantity > 0", "quantity_positive"),
        check("unit_price_cents >= 0", "price_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", ondelete="RESTRICT", index=True)
    sku: str = Field(max_length=64)
    description: str = Field(max_length=200)
    quantity: int
    unit: str = Field(default="pcs", max_length=16)
    unit_price_cents: int = 0
    billable: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
