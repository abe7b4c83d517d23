"""Domain events: the outbox written in the caller's transaction, webhook subscriptions, and the
fan-out of each event into one delivery per matching subscription."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from dispatch.models import (
    DeliveryStatus,
    EventTopic,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from schedules.db import utcnow
from schedules.errors import ConflictError, InvalidError, NotFoundError

MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 128  # the column's width
MAX_URL_LENGTH = 500


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


def subscribe(
    session: Session, url: str, topics: Iterable[str] = (), secret: str | None = None
) -> WebhookSubscription:
    """Subscribe ``url`` to ``topics`` (EventTopic values; none means every topic).

    Without ``secret`` a random one is generated; it is readable on the returned row, and the
    caller must hand it to the receiver, which needs it to check signatures."""
    url = _checked_url(url)
    wanted = _checked_topics(topics)
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH or secret != secret.strip():
        # The value stays out of the error: errors end up in logs and HTTP responses.
        raise InvalidError(
            f"secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters without "
            "surrounding spaces",
            field="secret",
        )
    subscription = WebhookSubscription.model_validate(
        {"url": url, "topics": wanted, "secret": secret, "active": True}
    )
    session.add(subscription)
    session.flush()
    return subscription


def _checked_url(url: str) -> str:
    def refuse(why: str) -> InvalidError:
        return InvalidError(f"url {url!r} {why}", field="url", value=url)

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise refuse("contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        raise refuse(f"is malformed ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse("is not an http or https URL")
    if not parts.hostname:
        raise refuse("has no host")
    return url


def _checked_topics(topics: Iterable[str]) -> list[str]:
    known = [t.value for t in EventTopic]
    # A lone string would otherwise be read as a list of one-letter topics.
    given = [topics] if isinstance(topics, str) else list(topics)
    for topic in given:
        if topic not in known:
            raise InvalidError(
                f"topic {topic!r} is not one of {', '.join(known)}", field="topics", value=topic
            )
    # Stored in the enum's order without repeats, so equal subscriptions look equal.
    return [t for t in known if t in given]


def unsubscribe(session: Session, subscription_id: int) -> None:
    """Delete a subscription; its deliveries, sent or not, go with it."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFoundError(
            f"webhook subscription {subscription_id} does not exist",
            field="id",
            value=subscription_id,
        )
    session.delete(subscription)
    session.flush()


def subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    return list(session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.id))))


def delivery_counts(session: Session) -> dict[int, dict[DeliveryStatus, int]]:
    """Deliveries per subscription and status (subscriptions without any are left out)."""
    rows = session.exec(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, sa.func.count()).group_by(
            col(WebhookDelivery.subscription_id), col(WebhookDelivery.status)
        )
    )
    counts: dict[int, dict[DeliveryStatus, int]] = {}
    for subscription_id, status, count in rows:
        counts.setdefault(subscription_id, {})[DeliveryStatus(status)] = count
    return counts


def fan_out(session: Session, now: datetime, *, limit: int | None = None) -> int:
    """Create a pending delivery, due at ``now``, of every event not yet fanned out (oldest
    first, at most ``limit``) to every active subscription whose topics match; mark the events
    fanned out. Returns the number of deliveries created.

    Events are claimed by one UPDATE before anything is read, so concurrent callers never claim
    the same event: PostgreSQL skips the rows another transaction has claimed, and on SQLite
    the UPDATE takes the database's write lock first, so the second caller waits and then finds
    nothing left. Subscriptions created later do not receive earlier events."""
    # A materialised CTE locks once; as an IN subquery PostgreSQL may run it again for every
    # row it checks, each run skipping the rows just claimed and so claiming past the limit.
    unclaimed = (
        select(OutboxEvent.id)
        .where(col(OutboxEvent.fanned_out_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("unclaimed")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claimed = session.execute(
        sa.update(OutboxEvent)
        .where(
            col(OutboxEvent.id).in_(sa.select(unclaimed.c.id)),
            col(OutboxEvent.fanned_out_at).is_(None),
        )
        .values(fanned_out_at=now)
        .returning(col(OutboxEvent.id), col(OutboxEvent.topic))
        .execution_options(synchronize_session=False),
    ).all()
    if not claimed:
        return 0
    _forget_claimed(session, {event_id for event_id, _ in claimed}, now)
    active = list(
        session.exec(
            select(WebhookSubscription)
            .where(col(WebhookSubscription.active))
            .order_by(col(WebhookSubscription.id))
        )
    )
    rows = [
        {
            "event_id": event_id,
            "subscription_id": subscription.id,
            "status": DeliveryStatus.pending,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for event_id, topic in sorted(claimed)
        for subscription in active
        if not subscription.topics or topic in subscription.topics
    ]
    if rows:
        session.execute(sa.insert(WebhookDelivery), rows)
    return len(rows)


def _forget_claimed(session: Session, event_ids: set[int], now: datetime) -> None:
    # The UPDATE bypassed the identity map; keep loaded events truthful for the caller.
    for event in session.identity_map.values():
        if isinstance(event, OutboxEvent) and event.id in event_ids:
            set_committed_value(event, "fanned_out_at", now)


def replay(session: Session, delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery:
    """Put a failed delivery back to pending, due at ``now``, with a fresh set of attempts."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFoundError(
            f"webhook delivery {delivery_id} does not exist", field="id", value=delivery_id
        )
    if delivery.status is not DeliveryStatus.failed:
        raise ConflictError(
            f"webhook delivery {delivery_id} is {delivery.status.value}; only failed deliveries "
            "are replayed",
            field="status",
            value=delivery.status.value,
        )
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now or utcnow()
    session.flush()
    return delivery
