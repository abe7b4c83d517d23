"""Customers' tracking links: unguessable, showing one visit's progress and nothing else,
and gone once the visit is long over; issued again to dispatchers on request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from dispatch import accounts, db, tracking
from dispatch.models import EventTopic, OutboxEvent, Role, Urgency, Visit, VisitStatus
from dispatch.planning import plan_region, publish
from dispatch.settings import Settings
from routing import SolveParams
from schedules.errors import ConflictError, NotFoundError
from tests.conftest import new_database
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_user, make_working_technician

FRIDAY = date(2026, 11, 27)
PASSWORD = "a long enough test password"
PROBLEM = "application/problem+json"
# Who may ask for a link, and who not (the technician of the route included).
USERS = {"dora": Role.dispatcher, "ada": Role.admin, "ivan": Role.technician}


@pytest.fixture(scope="module")
def published(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A published route of three visits; the tracking token of each, from the events."""
    url, drop = new_database(backend, tmp_path_factory.mktemp("track"))
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        region = make_region(session)
        ivan = make_working_technician(session, region=region, name="Ivan Petrov")
        digest = accounts.hash_password(PASSWORD)
        for username, role in USERS.items():
            make_user(
                session,
                username=username,
                role=role,
                password_hash=digest,
                technician_id=ivan.id if role is Role.technician else None,
            )
        site, contract = customer_with_contract(session, region, quota_hours=100)
        visits_for(session, site, contract, FRIDAY, [Urgency.normal] * 3)
        publish(session, plan_region(session, region, FRIDAY, params=SolveParams.for_tests()).plan)
        tokens = {
            e.payload["visit"]: e.payload["tracking_token"]
            for e in session.exec(
                select(OutboxEvent).where(OutboxEvent.topic == EventTopic.visit_scheduled)
            )
        }
    engine.dispose()
    yield url, tokens
    drop()


@pytest.fixture
def client(published) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(
        create_app(Settings(database_url=published[0])), raise_server_exceptions=False
    ) as client:
        yield client


def ordered(url: str) -> list[str]:
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        codes = [v.code for v in session.exec(select(Visit).order_by(Visit.planned_start))]
    engine.dispose()
    return codes


def test_a_link_shows_its_visit_and_nothing_else(client: TestClient, published) -> None:  # type: ignore[no-untyped-def]
    url, tokens = published
    assert len(tokens) == 3
    assert all(len(t) >= 43 for t in tokens.values())  # 256 random bits, urlsafe base64
    second = ordered(url)[1]
    body = client.get(f"/api/v1/track/{tokens[second]}").json()
    assert set(body) == {
        "visit",
        "status",
        "arrival_from",
        "arrival_to",
        "technician_first_name",
        "stops_before",
        "timezone",
    }
    assert (
        body["visit"],
        body["status"],
        body["technician_first_name"],
        body["stops_before"],
        body["timezone"],
    ) == (second, "scheduled", "Ivan", 1, "Europe/Moscow")
    assert body["arrival_from"] < body["arrival_to"]


def test_the_page_for_people(client: TestClient, published) -> None:  # type: ignore[no-untyped-def]
    url, tokens = published
    first = ordered(url)[0]
    page = client.get(f"/track/{tokens[first]}")
    assert page.status_code == 200
    assert "Scheduled" in page.text
    assert "Ivan" in page.text
    assert "Petrov" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in page.text


def test_the_page_shows_the_window_in_the_regions_time(
    client: TestClient,
    published,  # type: ignore[no-untyped-def]
) -> None:
    """Server-rendered (readable before any script runs), arrival window in the region's
    timezone and saying which, under the pages' Content-Security-Policy: no inline script or
    style."""
    _, tokens = published
    token = next(iter(tokens.values()))
    view = client.get(f"/api/v1/track/{token}").json()
    page = client.get(f"/track/{token}")
    start = datetime.fromisoformat(view["arrival_from"]).astimezone(ZoneInfo("Europe/Moscow"))
    end = datetime.fromisoformat(view["arrival_to"]).astimezone(ZoneInfo("Europe/Moscow"))
    assert f"{start:%H:%M}\u2013{end:%H:%M}" in page.text
    assert "Europe/Moscow time (UTC+03:00)" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert '<script type="module" src="/static/track.js"></script>' in page.text
    assert "$" not in page.text  # every placeholder of the template filled


@pytest.mark.parametrize("token", ["nope", "x" * 43])
def test_an_unknown_link_gets_a_page_for_people(client: TestClient, token: str) -> None:
    page = client.get(f"/track/{token}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "This link does not work any more" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("token", ["nope", "x" * 43, "A" * 200])
def test_unknown_links_are_not_found(client: TestClient, token: str) -> None:
    response = client.get(f"/api/v1/track/{token}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_link_expires_after_the_visit(published) -> None:  # type: ignore[no-untyped-def]
    url, tokens = published
    code = ordered(url)[0]
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        visit = session.exec(select(Visit).where(Visit.code == code)).one()
        visit.status = VisitStatus.completed
        visit.actual_start = datetime(2026, 11, 27, 6, tzinfo=UTC)
        visit.actual_end = datetime(2026, 11, 27, 7, tzinfo=UTC)
        session.flush()
        shown = tracking.lookup(session, tokens[code], visit.actual_end + timedelta(hours=1))
        assert (shown.status, shown.arrival_from, shown.technician_first_name) == (
            VisitStatus.completed,
            None,
            None,
        )
        with pytest.raises(NotFoundError):
            tracking.lookup(session, tokens[code], visit.actual_end + timedelta(hours=13))
        session.rollback()
    engine.dispose()


# A dispatcher's link -----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: dict


def _ask_link(client: TestClient, code: str, username: str | None) -> Answer:
    headers = {}
    if username is not None:
        signed = client.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    answer = client.post(f"/api/v1/visits/{code}/tracking-link", headers=headers)
    return Answer(answer.status_code, answer.json())


@pytest.mark.parametrize("username", ["dora", "ada"])
def test_office_staff_get_a_working_link(
    client: TestClient,
    published,  # type: ignore[no-untyped-def]
    username: str,
) -> None:
    url, tokens = published
    code = ordered(url)[2]
    answer = _ask_link(client, code, username)
    assert answer.status == 201, answer.body
    assert set(answer.body) == {"visit", "token", "url", "expires"}
    token = answer.body["token"]
    assert answer.body["visit"] == code
    assert answer.body["url"] == f"/track/{token}"
    assert len(token) >= 43
    assert token != tokens[code]  # a new link; the one sent on publishing keeps working
    shown = client.get(f"/api/v1/track/{token}").json()
    assert (shown["visit"], shown["status"]) == (code, "scheduled")
    assert client.get(f"/api/v1/track/{tokens[code]}").status_code == 200
    assert client.get(answer.body["url"]).status_code == 200


@pytest.mark.parametrize(("username", "status"), [("ivan", 403), (None, 401)])
def test_nobody_else_gets_a_link(
    client: TestClient,
    published,  # type: ignore[no-untyped-def]
    username: str | None,
    status: int,
) -> None:
    """Not even the technician of the visit: a link is the customer's, passed on by the
    office."""
    url, _ = published
    answer = _ask_link(client, ordered(url)[0], username)
    assert answer.status == status
    assert "token" not in answer.body


def test_an_unknown_visit_gets_no_link(client: TestClient) -> None:
    answer = _ask_link(client, "V-999999", "dora")
    assert answer.status == 404
    assert answer.body["errors"][0]["value"] == "V-999999"


def test_a_visit_long_over_gets_no_link(published) -> None:  # type: ignore[no-untyped-def]
    """Its link would only ever answer 404."""
    url, _ = published
    code = ordered(url)[0]
    engine = db.make_engine(url)
    with db.transaction(engine) as session:
        visit = session.exec(select(Visit).where(Visit.code == code)).one()
        visit.status = VisitStatus.cancelled
        session.flush()
        now = visit.updated_at
        assert tracking.issue_for(session, visit_code=code, now=now).visit == code
        with pytest.raises(ConflictError):
            tracking.issue_for(session, visit_code=code, now=now + timedelta(hours=13))
        session.rollback()
    engine.dispose()
