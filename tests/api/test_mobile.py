"""The technicians' mobile API: my day in order, reports on my own visits only, lifecycle
rules as 409 with the allowed statuses, stale revisions as 412."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dispatch import accounts, db
from dispatch.models import Role, Urgency
from dispatch.planning import plan_region, publish
from dispatch.settings import Settings
from routing import SolveParams
from tests.conftest import new_database
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_user, make_working_technician

FRIDAY = date(2026, 11, 27)
PASSWORD = "a long enough test password"


@pytest.fixture(scope="module")
def app_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two technicians with published routes on Friday, and a dispatcher."""
    url, drop = new_database(backend, tmp_path_factory.mktemp("mobile"))
    db.upgrade(url)
    engine = db.make_engine(url)
    digest = accounts.hash_password(PASSWORD)
    with db.transaction(engine) as session:
        region = make_region(session)
        tom = make_working_technician(session, region=region, code="T-TOM")
        tim = make_working_technician(session, region=region, code="T-TIM", home_lat=55.9)
        make_user(
            session,
            username="tom",
            role=Role.technician,
            technician_id=tom.id,
            password_hash=digest,
        )
        make_user(
            session,
            username="tim",
            role=Role.technician,
            technician_id=tim.id,
            password_hash=digest,
        )
        make_user(session, username="dora", role=Role.dispatcher, password_hash=digest)
        near, contract = customer_with_contract(session, region, quota_hours=100)
        far, other = customer_with_contract(session, region, quota_hours=100)
        far.lat = 55.9
        visits_for(session, near, contract, FRIDAY, [Urgency.normal] * 3)
        visits_for(session, far, other, FRIDAY, [Urgency.normal] * 3)
        publish(session, plan_region(session, region, FRIDAY, params=SolveParams.for_tests()).plan)
    engine.dispose()
    yield url
    drop()


@pytest.fixture
def client(app_url: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(database_url=app_url)), raise_server_exceptions=False
    ) as client:
        yield client


def as_user(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def day_of(client: TestClient, username: str) -> list[dict]:
    response = client.get(
        "/api/v1/me/day", params={"date": FRIDAY.isoformat()}, headers=as_user(client, username)
    )
    assert response.status_code == 200, response.text
    return response.json()["stops"]


def test_my_day_is_mine_and_in_order(client: TestClient) -> None:
    tom, tim = day_of(client, "tom"), day_of(client, "tim")
    assert tom
    assert tim
    assert not {s["visit"] for s in tom} & {s["visit"] for s in tim}
    starts = [s["planned_start"] for s in tom]
    assert starts == sorted(starts)
    first = tom[0]
    assert (
        first["arrival_window"]["starts_at"]
        <= first["planned_start"]
        <= first["arrival_window"]["ends_at"]
    )
    assert first["contact_name"]
    assert first["address"]
    assert first["revision"] >= 1


def test_only_technicians_have_a_day(client: TestClient) -> None:
    assert client.get("/api/v1/me/day").status_code == 401
    refused = client.get("/api/v1/me/day", headers=as_user(client, "dora"))
    assert refused.status_code == 403


def test_another_technicians_visit_is_not_found(client: TestClient) -> None:
    theirs = day_of(client, "tim")[0]["visit"]
    response = client.post(
        f"/api/v1/me/visits/{theirs}/status",
        json={"status": "en_route"},
        headers=as_user(client, "tom"),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_status_reports_follow_the_lifecycle(client: TestClient) -> None:
    headers = as_user(client, "tom")
    stop = day_of(client, "tom")[-1]
    url = f"/api/v1/me/visits/{stop['visit']}/status"
    jump = client.post(url, json={"status": "completed"}, headers=headers)
    assert jump.status_code == 409
    assert "en_route" in jump.json()["detail"]
    stale = client.post(url, json={"status": "en_route"}, headers=headers | {"If-Match": '"999"'})
    assert stale.status_code == 412
    going = client.post(
        url, json={"status": "en_route", "lat": 55.74, "lon": 37.60},
        headers=headers | {"If-Match": f'"{stop["revision"]}"'},
    )  # fmt: skip
    assert going.status_code == 204, going.text
    assert int(going.headers["etag"].strip('"')) > stop["revision"]
    assert client.post(url, json={"status": "on_site"}, headers=headers).status_code == 204
    done = client.post(
        url, json={"status": "completed", "summary": "Replaced the PSU"}, headers=headers
    )
    assert done.status_code == 204
    after = next(s for s in day_of(client, "tom") if s["visit"] == stop["visit"])
    assert after["status"] == "completed"
    assert "Replaced the PSU" in after["notes"]


def test_position_pings_are_checked(client: TestClient) -> None:
    headers = as_user(client, "tim")
    assert (
        client.post(
            "/api/v1/me/position", json={"lat": 55.7, "lon": 37.6}, headers=headers
        ).status_code
        == 204
    )
    bad = client.post("/api/v1/me/position", json={"lat": 95, "lon": 37.6}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.lat"


def test_a_retried_report_applies_once(client: TestClient) -> None:
    headers = as_user(client, "tim")
    stop = day_of(client, "tim")[0]
    url = f"/api/v1/me/visits/{stop['visit']}/status"
    keyed = headers | {"Idempotency-Key": f"tim-{stop['visit']}-en-route"}
    first = client.post(url, json={"status": "en_route"}, headers=keyed)
    assert first.status_code == 204
    # The phone lost the answer and sends it again: same answer, applied once.
    again = client.post(url, json={"status": "en_route"}, headers=keyed)
    assert again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    after = next(s for s in day_of(client, "tim") if s["visit"] == stop["visit"])
    assert after["revision"] == int(first.headers["etag"].strip('"'))
    # Without the key the same report is a lifecycle error: it was applied already.
    assert client.post(url, json={"status": "en_route"}, headers=headers).status_code == 409
    # The same key with another request is refused.
    other = client.post(url, json={"status": "on_site"}, headers=keyed)
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]


def test_idempotency_keys_are_per_user(client: TestClient) -> None:
    key = {"Idempotency-Key": "shared-key"}
    ping = {"lat": 55.7, "lon": 37.6}
    assert (
        client.post(
            "/api/v1/me/position", json=ping, headers=as_user(client, "tom") | key
        ).status_code
        == 204
    )
    theirs = client.post("/api/v1/me/position", json=ping, headers=as_user(client, "tim") | key)
    assert theirs.status_code == 204
    assert "idempotent-replayed" not in theirs.headers


def test_time_and_parts_on_my_visit(client: TestClient) -> None:
    headers = as_user(client, "tom")
    stop = day_of(client, "tom")[0]
    url = f"/api/v1/me/visits/{stop['visit']}"
    entry = {
        "kind": "work",
        "started_at": "2026-11-20T07:00:00Z",
        "ended_at": "2026-11-20T08:29:30Z",
    }
    logged = client.post(
        f"{url}/time-entries", json=entry, headers=headers | {"Idempotency-Key": "t1"}
    )
    assert logged.status_code == 201, logged.text
    assert logged.json()["minutes"] == 90  # a started minute counts
    replayed = client.post(
        f"{url}/time-entries", json=entry, headers=headers | {"Idempotency-Key": "t1"}
    )
    assert replayed.json() == logged.json()
    assert len(client.get(f"{url}/time-entries", headers=headers).json()) == 1
    backwards = entry | {"ended_at": "2026-11-20T06:00:00Z"}
    refused = client.post(f"{url}/time-entries", json=backwards, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "ended_at"
    part = {"sku": "PSU-450", "description": "Power supply 450 W", "quantity": 1}
    assert client.post(f"{url}/materials", json=part, headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("time-entries", {"kind": "work", "started_at": "2026-11-20T07:00:00Z",
                          "ended_at": "2026-11-27T08:00:00Z", "technician_id": 1}),
        ("materials", {"sku": "X", "description": "Y", "quantity": 1, "unit_price_cents": 0}),
    ],
)  # fmt: skip
def test_a_phone_cannot_set_what_is_not_its_to_set(
    client: TestClient, path: str, body: dict
) -> None:
    headers = as_user(client, "tom")
    stop = day_of(client, "tom")[0]
    response = client.post(f"/api/v1/me/visits/{stop['visit']}/{path}", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "Extra inputs are not permitted"


def test_no_logging_on_anothers_visit(client: TestClient) -> None:
    theirs = day_of(client, "tim")[0]["visit"]
    part = {"sku": "X", "description": "Y", "quantity": 1}
    response = client.post(
        f"/api/v1/me/visits/{theirs}/materials", json=part, headers=as_user(client, "tom")
    )
    assert response.status_code == 404


def test_my_week_as_a_calendar_feed(client: TestClient) -> None:
    headers = as_user(client, "tim")
    feed = client.get(
        "/api/v1/me/calendar.ics", params={"start": FRIDAY.isoformat()}, headers=headers
    )
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    text = feed.text
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    codes = {s["visit"] for s in day_of(client, "tim")}
    assert text.count("BEGIN:VEVENT") == len(codes)
    assert all(f"UID:{code}@field-dispatch" in text for code in codes)
    mine = {s["visit"] for s in day_of(client, "tom")}
    assert not any(code in text for code in mine)
