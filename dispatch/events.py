"""Domain events: written to the outbox in the caller's transaction, so an event exists if
and only if the change it reports was committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from dispatch.models import EventTopic, OutboxEvent
from schedules.db import utcnow


def emit(
    session: Session,
    topic: EventTopic,
    subject: str,
    subject_id: int,
    payload: dict[str, Any],
    *,
    at: datetime | None = None,
) -> OutboxEvent:
    """Record an event with the change being made (the caller owns the transaction)."""
    event = OutboxEvent(
        topic=topic,
        subject=subject,
        subject_id=subject_id,
        payload=payload,
        occurred_at=at or utcnow(),
    )
    session.add(event)
    return event
