"""Webhook delivery: signed POSTs of due deliveries with retries and exponential backoff, and the
signature check that receivers run."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import col, select

from dispatch import db, events
from dispatch.models import (
    DeliveryStatus,
    EventTopic,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from schedules.db import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
# Spreads the retries of many deliveries that failed together (a receiver that was down).
BACKOFF_JITTER = 0.1
REQUEST_TIMEOUT_SECONDS = 10.0
# A claimed delivery is hidden from other workers this long; it must outlast one request.
CLAIM_LEASE = timedelta(minutes=5)
SIGNATURE_TOLERANCE_SECONDS = 300
USER_AGENT = "field-dispatch-webhooks/1"
# Enough of a refusal to see why; the column holds 500 characters.
RESPONSE_SNIPPET_BYTES = 200
MAX_ERROR_LENGTH = 500

SIGNATURE_HEADER = "X-Dispatch-Signature"


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: deliveries created, requests sent, and how each ended."""

    # Deliveries the run's fan-out created (always 0 from deliver_due alone).
    fanned_out: int = 0
    attempted: int = 0
    delivered: int = 0
    # Failed this time, scheduled again after a backoff.
    retrying: int = 0
    # Failed for the last allowed time.
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.fanned_out + other.fanned_out,
            self.attempted + other.attempted,
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
        )


def backoff(
    attempts: int,
    *,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
    jitter: float = BACKOFF_JITTER,
    rng: random.Random | None = None,
) -> timedelta:
    """The wait after ``attempts`` failed attempts: ``base`` doubled for each earlier failure,
    at most ``cap``, plus a random extra of up to ``jitter`` times that."""
    # The exponent is bounded so that a corrupt attempt count cannot overflow timedelta.
    delay = min(base * 2 ** min(max(attempts - 1, 0), 40), cap)
    return delay + delay * (jitter * (rng or random).random())


def event_body(event: OutboxEvent) -> bytes:
    """The JSON document POSTed for ``event``: the exact bytes that are signed."""
    document = {
        "id": event.id,
        "topic": EventTopic(event.topic).value,
        "subject": event.subject,
        "subject_id": event.subject_id,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signature_header(secret: str, body: bytes, *, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with secret>``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    header: str,
    body: bytes | str,
    *,
    now: datetime | float,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """For receivers: is ``header`` (the ``X-Dispatch-Signature`` value) a signature of the raw
    request ``body`` with ``secret``, made within ``tolerance`` seconds of ``now`` (a datetime
    or unix seconds)?

    Pass the body exactly as received, before any JSON parsing. The time check refuses a
    captured request replayed later; de-duplicate on ``X-Dispatch-Event-Id`` as well, since a
    delivery may arrive more than once. Several ``v1`` entries are accepted, any one matching;
    unknown entries are ignored. Malformed headers give False, never an exception."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.encode())
    if timestamp is None or not candidates:
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, raw).encode()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    event_id: int
    topic: str
    attempt: int
    # The delivery's next_attempt_at while claimed: the outcome is written only if unchanged.
    lease_until: datetime
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None


def deliver_due(
    engine: sa.Engine,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """POST pending deliveries due at ``now`` (default: the clock), oldest first, at most
    ``limit``, to active subscriptions; a 2xx answer delivers, anything else is retried after
    :func:`backoff` until ``MAX_ATTEMPTS`` attempts have failed.

    Each delivery is claimed in one short transaction (hidden from other workers for
    ``CLAIM_LEASE``) and its outcome written in another, so no transaction is open during a
    request; a worker that dies mid-request leaves the delivery to be retried after the lease.
    ``client`` sets timeouts and transport; without one, a client with a
    ``REQUEST_TIMEOUT_SECONDS`` timeout is used and closed."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    http = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
    report = DeliveryReport()
    try:
        for _ in range(limit):
            claimed = _claim(engine, clock())
            if claimed is None:
                break
            outcome = _post(http, claimed, clock())
            report += _record(engine, claimed, outcome, clock())
    finally:
        if client is None:
            http.close()
    return report


def fan_out_and_deliver(
    engine: sa.Engine,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    batch: int = 100,
) -> DeliveryReport:
    """One worker round: fan new events out in one transaction, then deliver what is due in
    batches of ``batch`` until nothing due is left."""
    with db.transaction(engine) as session:
        report = DeliveryReport(fanned_out=events.fan_out(session, now or utcnow()))
    while True:
        sent = deliver_due(engine, now=now, client=client, limit=batch)
        report += sent
        # Failures are retried in the future, never in the same round, so this loop ends.
        if sent.attempted < batch:
            return report


def _claim(engine: sa.Engine, now: datetime) -> _Claimed | None:
    due = (
        select(WebhookDelivery.id)
        .join(
            WebhookSubscription,
            col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
        )
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.pending,
            col(WebhookDelivery.next_attempt_at) <= now,
            col(WebhookSubscription.active),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(1)
        # PostgreSQL: concurrent workers pass over each other's rows instead of queueing.
        .with_for_update(skip_locked=True, of=WebhookDelivery)
        # Materialised so that it locks once (see events.fan_out).
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    lease_until = now + CLAIM_LEASE
    # The UPDATE comes first so that SQLite takes its write lock before reading anything.
    with db.transaction(engine) as session:
        row = session.execute(
            sa.update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(sa.select(due.c.id)),
                col(WebhookDelivery.status) == DeliveryStatus.pending,
            )
            .values(next_attempt_at=lease_until)
            .returning(
                col(WebhookDelivery.id),
                col(WebhookDelivery.event_id),
                col(WebhookDelivery.subscription_id),
                col(WebhookDelivery.attempts),
            )
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        delivery_id, event_id, subscription_id, attempts = row
        event = session.get(OutboxEvent, event_id)
        subscription = session.get(WebhookSubscription, subscription_id)
        # Foreign keys keep both while the delivery exists.
        assert event is not None
        assert subscription is not None
        return _Claimed(
            delivery_id=delivery_id,
            event_id=event_id,
            topic=EventTopic(event.topic).value,
            attempt=attempts + 1,
            lease_until=lease_until,
            url=subscription.url,
            secret=subscription.secret,
            body=event_body(event),
        )


def _post(http: httpx.Client, claimed: _Claimed, now: datetime) -> _Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Dispatch-Event": claimed.topic,
        "X-Dispatch-Event-Id": str(claimed.event_id),
        "X-Dispatch-Delivery": str(claimed.delivery_id),
        "X-Dispatch-Attempt": str(claimed.attempt),
        SIGNATURE_HEADER: signature_header(
            claimed.secret, claimed.body, timestamp=int(now.timestamp())
        ),
    }
    try:
        # Streamed, so that a receiver's long refusal is not read beyond the snippet kept.
        with http.stream("POST", claimed.url, content=claimed.body, headers=headers) as response:
            if response.is_success:
                return _Outcome(response.status_code, None)
            snippet = _snippet(response)
            error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
            return _Outcome(response.status_code, error[:MAX_ERROR_LENGTH])
    except httpx.TimeoutException as exc:
        error = f"timeout ({type(exc).__name__}) waiting for {claimed.url}"
        return _Outcome(None, error[:MAX_ERROR_LENGTH])
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH])


def _snippet(response: httpx.Response) -> str:
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= RESPONSE_SNIPPET_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status code alone says it failed
    text = data[:RESPONSE_SNIPPET_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())


def _record(
    engine: sa.Engine, claimed: _Claimed, outcome: _Outcome, now: datetime
) -> DeliveryReport:
    values: dict[str, object] = {
        "attempts": claimed.attempt,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.error is None:
        values |= {"status": DeliveryStatus.delivered, "delivered_at": now}
        report = DeliveryReport(attempted=1, delivered=1)
    elif claimed.attempt >= MAX_ATTEMPTS:
        values |= {"status": DeliveryStatus.failed}
        report = DeliveryReport(attempted=1, failed=1)
    else:
        values |= {"next_attempt_at": now + backoff(claimed.attempt)}
        report = DeliveryReport(attempted=1, retrying=1)
    with db.transaction(engine) as session:
        updated = session.execute(
            sa.update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == claimed.delivery_id,
                col(WebhookDelivery.status) == DeliveryStatus.pending,
                col(WebhookDelivery.attempts) == claimed.attempt - 1,
                col(WebhookDelivery.next_attempt_at) == claimed.lease_until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not updated:
        # Deleted with its subscription, replayed, or claimed again after the lease ran out.
        log.warning("delivery %s changed during its request; outcome dropped", claimed.delivery_id)
    elif outcome.error is not None:
        log.log(
            logging.WARNING if report.failed else logging.INFO,
            "delivery %s (event %s) attempt %s to %s failed: %s",
            claimed.delivery_id,
            claimed.event_id,
            claimed.attempt,
            claimed.url,
            outcome.error,
        )
    return report
