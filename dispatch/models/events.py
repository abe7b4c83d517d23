"""Tables for domain events: the outbox written with each change, webhook subscriptions and
their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, enum_type, utcnow


class EventTopic(StrEnum):
    visit_scheduled = "visit.scheduled"
    visit_eta_changed = "visit.eta_changed"
    visit_late = "visit.late"
    visit_completed = "visit.completed"
    plan_published = "plan.published"
    # Changes a day's plan may have to answer: the re-plan watcher listens for them.
    visit_escalated = "visit.escalated"
    visit_cancelled = "visit.cancelled"
    technician_unavailable = "technician.unavailable"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    # Retries exhausted; kept for inspection and manual replay.
    failed = "failed"


class OutboxEvent(SQLModel, table=True):
    """A domain event, written in the same transaction as the change it reports, so that an
    event exists if and only if its change was committed."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    topic: EventTopic = Field(sa_type=enum_type(EventTopic, "topic"), index=True)
    # What the event is about: "visit", "plan", with its id.
    subject: str = Field(max_length=32)
    subject_id: int
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Set once a delivery row exists for every matching subscription.
    fanned_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class WebhookSubscription(SQLModel, table=True):
    """A URL that receives events of the listed topics, signed with its secret."""

    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=128)
    # Topics as a list of EventTopic values; empty means every topic.
    topics: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event to one subscription: attempts, backoff and outcome."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "subscription_id"),
        check("attempts >= 0", "attempts_not_negative"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outbox_event.id", ondelete="CASCADE")
    subscription_id: int = Field(foreign_key="webhook_subscription.id", ondelete="CASCADE")
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=enum_type(DeliveryStatus, "status")
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
