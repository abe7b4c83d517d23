"""Customers' tracking links: unguessable, showing one visit's progress and nothing else,
and gone once the visit is long over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from dispatch import db, tracking
from dispatch.models import EventTopic, OutboxEvent, Urgency, Visit, VisitStatus
from dispatch.planning import plan_region, publish
from dispatch.settings import Settings
from routing import SolveParams
from schedules.errors import NotFoundError
from tests.conftest import new_database
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_working_technician

FRIDAY = date(2026, 11, 27)


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
        make_working_technician(session, region=region, name="Ivan Petrov")
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
    }
    assert (body["visit"], body["status"], body["technician_first_name"], body["stops_before"]) == (
        second,
        "scheduled",
        "Ivan",
        1,
    )
    assert body["arrival_from"] < body["arrival_to"]


def test_the_page_for_people(client: TestClient, published) -> None:  # type: ignore[no-untyped-def]
    _, tokens = published
    page = client.get(f"/track/{next(iter(tokens.values()))}")
    assert page.status_code == 200
    assert "Scheduled" in page.text
    assert "Ivan" in page.text
    assert "Petrov" not in page.text
    assert page.headers["cache-control"] == "no-store"


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
