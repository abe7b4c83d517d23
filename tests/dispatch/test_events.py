"""Domain events: the outbox commits or rolls back with its change, fans out to matching
subscriptions once, and reaches a local receiver signed, retried with backoff, or failed."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from dispatch import db, events, webhooks
from dispatch.cli import app
from dispatch.models import (
    DeliveryStatus,
    EventTopic,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from schedules.errors import ConflictError, InvalidError, NotFoundError
from tests.conftest import new_database

runner = CliRunner()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests-only-0123456789"
LATE = {"visit": "V-00001", "minutes_late": 25}


# --- a local receiver -------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers ``status`` to the first ``fail_first`` of them, 200 after,
    or with ``hang`` set, answers nothing until the test ends."""

    url: str = ""
    fail_first: int = 0
    status: int = 500
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Received) -> int | None:
        with self.lock:
            self.requests.append(request)
            if self.hang:
                return None
            return self.status if len(self.requests) <= self.fail_first else 200


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = self.server.receiver.record(Received(self.path, self.headers, body))
        if code is None:
            self.server.receiver.released.wait(10)
            return
        answer = b"ok" if code < 300 else b"boom\n  try later"
        self.send_response(code)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- databases with committed data ------------------------------------------------------------


@pytest.fixture(scope="module")
def outbox_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of its own: delivery commits, so the rolled-back session won't do."""
    url, drop = new_database(backend, tmp_path_factory.mktemp(f"events-{backend}"))
    try:
        db.upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture
def outbox(outbox_url: str) -> Iterator[sa.Engine]:
    """An engine on the module's database, emptied of events and subscriptions afterwards."""
    engine = db.make_engine(outbox_url)
    try:
        yield engine
    finally:
        with db.transaction(engine) as session:
            for table in (WebhookDelivery, WebhookSubscription, OutboxEvent):
                session.execute(sa.delete(table))
        engine.dispose()


def committed_delivery(engine: sa.Engine, url: str, **subscription: object) -> WebhookDelivery:
    """One visit.late event fanned out at T0 to one subscription of ``url``."""
    with db.transaction(engine) as session:
        events.subscribe(session, url, **({"topics": [], "secret": SECRET} | subscription))
        events.emit(session, EventTopic.visit_late, "visit", 7, LATE, at=T0)
    with db.transaction(engine) as session:
        assert events.fan_out(session, T0) == 1
    return only_delivery(engine)


def only_delivery(engine: sa.Engine) -> WebhookDelivery:
    with db.transaction(engine) as session:
        return session.exec(select(WebhookDelivery)).one()


def count(engine: sa.Engine, table: type) -> int:
    with db.transaction(engine) as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --- subscriptions ----------------------------------------------------------------------------


def test_subscribe_keeps_known_topics_once_and_generates_a_strong_secret(
    session: Session,
) -> None:
    first = events.subscribe(session, "https://crm.example.com/hooks", ["visit.late"] * 2)
    second = events.subscribe(session, "http://10.0.0.5:8080/in", [])
    assert first.topics == ["visit.late"]
    assert second.topics == []
    assert len(first.secret) >= 43
    assert first.secret != second.secret
    ordered = events.subscribe(session, "https://a.example", ["plan.published", "visit.scheduled"])
    assert ordered.topics == ["visit.scheduled", "plan.published"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "https:///no-host",
        "example.com/hook",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "https://example.com/" + "x" * 500,
    ],
)
def test_subscribe_refuses_a_url_that_is_not_http_with_a_host(session: Session, url: str) -> None:
    with pytest.raises(InvalidError) as caught:
        events.subscribe(session, url, [])
    assert (caught.value.field, caught.value.value) == ("url", url)


def test_subscribe_refuses_an_unknown_topic_by_name(session: Session) -> None:
    with pytest.raises(InvalidError) as caught:
        events.subscribe(session, "https://example.com", ["visit.late", "visit.exploded"])
    assert (caught.value.field, caught.value.value) == ("topics", "visit.exploded")
    assert "visit.scheduled" in caught.value.message


def test_subscribe_refuses_a_short_secret_without_repeating_it(session: Session) -> None:
    with pytest.raises(InvalidError) as caught:
        events.subscribe(session, "https://example.com", [], "hunter2")
    assert caught.value.field == "secret"
    assert caught.value.value is None
    assert "hunter2" not in caught.value.message


def test_unsubscribe_deletes_the_subscription_and_its_deliveries(session: Session) -> None:
    subscription = events.subscribe(session, "https://example.com", [])
    events.emit(session, EventTopic.visit_late, "visit", 1, {}, at=T0)
    assert events.fan_out(session, T0) == 1
    events.unsubscribe(session, subscription.id)
    session.expunge_all()
    assert session.get(WebhookSubscription, subscription.id) is None
    assert session.exec(select(WebhookDelivery)).all() == []
    with pytest.raises(NotFoundError) as caught:
        events.unsubscribe(session, subscription.id)
    assert (caught.value.field, caught.value.value) == ("id", subscription.id)


# --- fan-out ----------------------------------------------------------------------------------


def test_fan_out_reaches_active_subscriptions_whose_topics_match_once(session: Session) -> None:
    everything = events.subscribe(session, "https://all.example", [])
    late_only = events.subscribe(session, "https://late.example", ["visit.late"])
    events.subscribe(session, "https://done.example", ["visit.completed"])
    paused = events.subscribe(session, "https://paused.example", [])
    paused.active = False
    late = events.emit(session, EventTopic.visit_late, "visit", 1, LATE, at=T0)
    scheduled = events.emit(session, EventTopic.visit_scheduled, "visit", 2, {}, at=T0)

    assert events.fan_out(session, T0) == 3
    assert events.fan_out(session, T0 + timedelta(minutes=1)) == 0

    rows = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))).all()
    assert [(d.event_id, d.subscription_id) for d in rows] == [
        (late.id, everything.id),
        (late.id, late_only.id),
        (scheduled.id, everything.id),
    ]
    assert {(d.status, d.attempts, d.next_attempt_at) for d in rows} == {
        (DeliveryStatus.pending, 0, T0)
    }
    assert late.fanned_out_at == scheduled.fanned_out_at == T0


def test_fan_out_takes_the_oldest_events_first_up_to_the_limit(session: Session) -> None:
    events.subscribe(session, "https://all.example", [])
    emitted = [events.emit(session, EventTopic.visit_late, "visit", n, {}) for n in range(3)]
    assert events.fan_out(session, T0, limit=2) == 2
    assert [e.fanned_out_at for e in emitted] == [T0, T0, None]
    assert events.fan_out(session, T0, limit=2) == 1


def test_an_event_without_subscribers_is_still_marked_fanned_out(session: Session) -> None:
    event = events.emit(session, EventTopic.plan_published, "plan", 3, {}, at=T0)
    assert events.fan_out(session, T0) == 0
    assert event.fanned_out_at == T0


def test_concurrent_fan_outs_create_each_delivery_once(outbox: sa.Engine, backend: str) -> None:
    with db.transaction(outbox) as session:
        events.subscribe(session, "https://all.example", [])
        for n in range(3):
            events.emit(session, EventTopic.visit_late, "visit", n, {}, at=T0)
    results: dict[str, int] = {}

    def fan_out_alone() -> None:
        with db.transaction(outbox) as other:
            results["second"] = events.fan_out(other, T0)

    second = threading.Thread(target=fan_out_alone)
    with db.transaction(outbox) as session:
        results["first"] = events.fan_out(session, T0)
        second.start()
        # PostgreSQL passes over the claimed rows at once; SQLite waits for the write lock.
        second.join(5 if backend == "postgresql" else 0.1)
        assert second.is_alive() == (backend == "sqlite")
    second.join(10)
    assert results == {"first": 3, "second": 0}
    assert count(outbox, WebhookDelivery) == 3


def test_a_rolled_back_event_leaves_no_row_and_nothing_is_delivered(
    outbox: sa.Engine, receiver: Receiver
) -> None:
    with db.transaction(outbox) as session:
        events.subscribe(session, receiver.url, [])

    def failing_change() -> None:
        with db.transaction(outbox) as session:
            events.emit(session, EventTopic.visit_completed, "visit", 9, {}, at=T0)
            session.flush()
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        failing_change()
    assert count(outbox, OutboxEvent) == 0
    report = webhooks.fan_out_and_deliver(outbox, now=T0)
    assert report == webhooks.DeliveryReport()
    assert receiver.requests == []


# --- delivery ---------------------------------------------------------------------------------


def test_a_delivery_is_signed_so_the_receiver_can_verify_it(
    outbox: sa.Engine, receiver: Receiver
) -> None:
    delivery = committed_delivery(outbox, receiver.url)
    report = webhooks.deliver_due(outbox, now=T0)
    assert report == webhooks.DeliveryReport(attempted=1, delivered=1)

    (request,) = receiver.requests
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Dispatch-Event"] == "visit.late"
    assert headers["X-Dispatch-Event-Id"] == str(delivery.event_id)
    assert headers["X-Dispatch-Delivery"] == str(delivery.id)
    assert headers["X-Dispatch-Attempt"] == "1"
    assert headers["X-Dispatch-Signature"].startswith(f"t={int(T0.timestamp())},v1=")
    assert json.loads(request.body) == {
        "id": delivery.event_id,
        "topic": "visit.late",
        "subject": "visit",
        "subject_id": 7,
        "occurred_at": "2026-11-27T09:00:00+00:00",
        "payload": LATE,
    }
    signature = headers["X-Dispatch-Signature"]
    assert webhooks.verify_signature(SECRET, signature, request.body, now=T0)
    assert webhooks.verify_signature(SECRET, signature, request.body.decode(), now=T0.timestamp())
    tampered = request.body.replace(b"25", b"26")
    assert not webhooks.verify_signature(SECRET, signature, tampered, now=T0)
    assert not webhooks.verify_signature("another-secret-0123456", signature, request.body, now=T0)
    replayed_later = T0 + timedelta(seconds=301)
    assert not webhooks.verify_signature(SECRET, signature, request.body, now=replayed_later)

    done = only_delivery(outbox)
    assert (done.status, done.attempts, done.delivered_at) == (DeliveryStatus.delivered, 1, T0)
    assert (done.last_status_code, done.last_error) == (200, None)
    assert webhooks.deliver_due(outbox, now=T0 + timedelta(hours=2)).attempted == 0


def test_a_refused_delivery_is_retried_after_the_backoff_and_then_delivered(
    outbox: sa.Engine, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    committed_delivery(outbox, receiver.url)
    assert webhooks.deliver_due(outbox, now=T0) == webhooks.DeliveryReport(attempted=1, retrying=1)
    waiting = only_delivery(outbox)
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.pending, 1)
    assert (waiting.last_status_code, waiting.last_error) == (500, "HTTP 500: boom try later")
    assert timedelta(seconds=10) <= waiting.next_attempt_at - T0 <= timedelta(seconds=11)
    assert webhooks.deliver_due(outbox, now=T0 + timedelta(seconds=9)).attempted == 0

    retried = webhooks.deliver_due(outbox, now=waiting.next_attempt_at)
    assert retried == webhooks.DeliveryReport(attempted=1, delivered=1)
    done = only_delivery(outbox)
    assert (done.status, done.attempts, done.last_error) == (DeliveryStatus.delivered, 2, None)
    assert [r.headers["X-Dispatch-Attempt"] for r in receiver.requests] == ["1", "2"]
    assert len({r.headers["X-Dispatch-Event-Id"] for r in receiver.requests}) == 1


def test_backoff_doubles_until_max_attempts_fail_and_replay_queues_it_again(
    outbox: sa.Engine, receiver: Receiver
) -> None:
    receiver.fail_first = webhooks.MAX_ATTEMPTS
    delivery = committed_delivery(outbox, receiver.url)
    now = T0
    for attempt in range(1, webhooks.MAX_ATTEMPTS):
        assert webhooks.deliver_due(outbox, now=now).retrying == 1
        waiting = only_delivery(outbox)
        assert waiting.attempts == attempt
        base = timedelta(seconds=10 * 2 ** (attempt - 1))
        assert base <= waiting.next_attempt_at - now <= base * 1.1
        now = waiting.next_attempt_at
    assert webhooks.deliver_due(outbox, now=now).failed == 1
    failed = only_delivery(outbox)
    assert (failed.status, failed.attempts) == (DeliveryStatus.failed, webhooks.MAX_ATTEMPTS)
    assert webhooks.deliver_due(outbox, now=now + timedelta(days=1)).attempted == 0

    later = now + timedelta(days=1)
    with db.transaction(outbox) as session:
        events.replay(session, delivery.id, now=later)
    queued = only_delivery(outbox)
    assert (queued.status, queued.attempts, queued.next_attempt_at) == (
        DeliveryStatus.pending,
        0,
        later,
    )
    assert webhooks.deliver_due(outbox, now=later).delivered == 1
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS + 1


def test_concurrent_workers_send_each_delivery_once(outbox: sa.Engine, receiver: Receiver) -> None:
    with db.transaction(outbox) as session:
        events.subscribe(session, receiver.url, [])
        for n in range(8):
            events.emit(session, EventTopic.visit_eta_changed, "visit", n, {}, at=T0)
    with db.transaction(outbox) as session:
        events.fan_out(session, T0)
    reports: list[webhooks.DeliveryReport] = []
    workers = [
        threading.Thread(target=lambda: reports.append(webhooks.deliver_due(outbox, now=T0)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert len(reports) == 2  # neither worker raised
    assert sum(r.delivered for r in reports) == 8
    sent = sorted(int(r.headers["X-Dispatch-Delivery"]) for r in receiver.requests)
    assert len(sent) == len(set(sent)) == 8


def test_a_timeout_counts_as_a_failed_attempt(outbox: sa.Engine, receiver: Receiver) -> None:
    receiver.hang = True
    committed_delivery(outbox, receiver.url)
    with httpx.Client(timeout=0.2) as client:
        report = webhooks.deliver_due(outbox, now=T0, client=client)
    assert report == webhooks.DeliveryReport(attempted=1, retrying=1)
    waiting = only_delivery(outbox)
    assert (waiting.attempts, waiting.last_status_code) == (1, None)
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("timeout (ReadTimeout)")


def test_a_refused_connection_counts_as_a_failed_attempt(outbox: sa.Engine) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    committed_delivery(outbox, f"http://127.0.0.1:{port}/hook")
    assert webhooks.deliver_due(outbox, now=T0).retrying == 1
    waiting = only_delivery(outbox)
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("ConnectError")


def test_deliveries_of_a_paused_subscription_wait(outbox: sa.Engine, receiver: Receiver) -> None:
    delivery = committed_delivery(outbox, receiver.url)
    with db.transaction(outbox) as session:
        session.get(WebhookSubscription, delivery.subscription_id).active = False
    assert webhooks.deliver_due(outbox, now=T0).attempted == 0
    assert receiver.requests == []


def test_replay_takes_only_failed_deliveries(session: Session) -> None:
    events.subscribe(session, "https://all.example", [])
    events.emit(session, EventTopic.visit_late, "visit", 1, {}, at=T0)
    events.fan_out(session, T0)
    delivery = session.exec(select(WebhookDelivery)).one()
    with pytest.raises(ConflictError) as caught:
        events.replay(session, delivery.id)
    assert (caught.value.field, caught.value.value) == ("status", "pending")
    with pytest.raises(NotFoundError):
        events.replay(session, delivery.id + 1000)


# --- backoff and signatures, without a database -----------------------------------------------


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_from_the_base_up_to_the_cap_plus_at_most_a_tenth() -> None:
    none, most = _Fixed(0.0), _Fixed(0.999999)
    assert [webhooks.backoff(n, rng=none).total_seconds() for n in (1, 2, 3, 9, 30)] == [
        10,
        20,
        40,
        2560,
        3600,
    ]
    assert webhooks.backoff(1, rng=most) < timedelta(seconds=11)
    assert webhooks.backoff(30, rng=most) < timedelta(seconds=3960)
    assert webhooks.backoff(1_000_000, rng=none) == timedelta(hours=1)
    custom = webhooks.backoff(3, base=timedelta(seconds=1), cap=timedelta(seconds=3), rng=none)
    assert custom == timedelta(seconds=3)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1=abc",
        "t=1795770000",
        "t=abc,v1=abc",
        "t=1795770000,t=1795770000,v1=abc",
        "garbage",
        "t=1795770000,v1=ÿ",
    ],
)
def test_a_malformed_signature_header_does_not_verify(header: str) -> None:
    assert not webhooks.verify_signature(SECRET, header, b"{}", now=1795770000)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = webhooks.signature_header(SECRET, b"{}", timestamp=1795770000)
    header = f"t=1795770000,v1={'0' * 64},{good.split(',')[1]},v2=future"
    assert webhooks.verify_signature(SECRET, header, b"{}", now=1795770000 - 299)


# --- the command line -------------------------------------------------------------------------


def _cli(url: str, *args: str) -> object:
    return runner.invoke(app, ["--database-url", url, "webhooks", *args])


def test_cli_adds_lists_delivers_and_removes_a_subscription(
    outbox: sa.Engine, outbox_url: str, receiver: Receiver
) -> None:
    added = _cli(outbox_url, "add", receiver.url, "--topic", "visit.late")
    assert added.exit_code == 0, added.output
    assert f"{receiver.url} (visit.late)" in added.output
    secret = added.stdout.strip().splitlines()[-1]
    with db.transaction(outbox) as session:
        (subscription,) = events.subscriptions(session)
        events.emit(session, EventTopic.visit_late, "visit", 7, LATE)
        events.emit(session, EventTopic.visit_completed, "visit", 7, {})
    assert subscription.secret == secret
    assert f"subscription {subscription.id}:" in added.output

    delivered = _cli(outbox_url, "deliver", "--once")
    assert delivered.exit_code == 0, delivered.output
    assert "1 new deliveries; 1 sent: 1 delivered, 0 to retry, 0 failed" in delivered.output
    (request,) = receiver.requests
    signature = request.headers["X-Dispatch-Signature"]
    assert webhooks.verify_signature(secret, signature, request.body, now=datetime.now(UTC))

    listed = _cli(outbox_url, "list")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"{subscription.id}  {receiver.url}  topics=visit.late  active  "
        "pending=0 delivered=1 failed=0"
    ]

    removed = _cli(outbox_url, "remove", str(subscription.id))
    assert removed.exit_code == 0, removed.output
    assert "no webhook subscriptions" in _cli(outbox_url, "list").output
    again = _cli(outbox_url, "remove", str(subscription.id))
    assert again.exit_code == 2
    assert f"ID {subscription.id} is not a webhook subscription" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "ftp://example.com"], "URL 'ftp://example.com' is not an http or https URL"),
        (
            ["add", "https://example.com", "--topic", "visit.lost"],
            "--topic 'visit.lost' is not one of visit.scheduled",
        ),
        (["add", "https://example.com", "--secret", "short"], "--secret must be 16 to 128"),
        (["deliver", "--once", "--interval", "5"], "--interval 5 cannot be used with --once"),
        (["replay", "424242"], "DELIVERY_ID 424242: webhook delivery 424242 does not exist"),
    ],
)
def test_cli_names_the_argument_at_fault(
    outbox: sa.Engine, outbox_url: str, args: list[str], message: str
) -> None:
    result = _cli(outbox_url, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert count(outbox, WebhookSubscription) == 0


def test_cli_replay_queues_a_failed_delivery(outbox: sa.Engine, outbox_url: str) -> None:
    delivery = committed_delivery(outbox, "https://example.com/hook")
    with db.transaction(outbox) as session:
        session.get(WebhookDelivery, delivery.id).status = DeliveryStatus.failed
    result = _cli(outbox_url, "replay", str(delivery.id))
    assert result.exit_code == 0, result.output
    assert only_delivery(outbox).status is DeliveryStatus.pending


def test_cli_deliver_with_an_interval_runs_rounds_until_interrupted(
    outbox: sa.Engine, outbox_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction(outbox) as session:
        events.subscribe(session, receiver.url, [])
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            with db.transaction(outbox) as session:
                events.emit(session, EventTopic.plan_published, "plan", 1, {})
            return
        raise KeyboardInterrupt

    monkeypatch.setattr("dispatch.cli.time.sleep", nap)
    result = _cli(outbox_url, "deliver", "--interval", "2.5")
    assert result.exit_code == 0, result.output
    assert naps == [2.5, 2.5]
    assert len(receiver.requests) == 1
    assert result.output.count("new deliveries") == 1  # the idle round says nothing
    assert result.output.rstrip().endswith("stopped")
