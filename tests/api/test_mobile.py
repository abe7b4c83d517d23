"""The technicians' mobile API: my day in order, reports on my own visits only, lifecycle
rules as 409 with the allowed statuses, stale revisions as 412."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import FRIDAY

Headers = Callable[[str], dict[str, str]]


def day_of(client: TestClient, headers: Headers, username: str) -> list[dict]:
    response = client.get(
        "/api/v1/me/day", params={"date": FRIDAY.isoformat()}, headers=headers(username)
    )
    assert response.status_code == 200, response.text
    return response.json()["stops"]


def test_my_day_is_mine_and_in_order(client: TestClient, headers: Headers) -> None:
    tom, tim = day_of(client, headers, "tom"), day_of(client, headers, "tim")
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


def test_only_technicians_have_a_day(client: TestClient, headers: Headers) -> None:
    assert client.get("/api/v1/me/day").status_code == 401
    refused = client.get("/api/v1/me/day", headers=headers("dora"))
    assert refused.status_code == 403


def test_another_technicians_visit_is_not_found(client: TestClient, headers: Headers) -> None:
    theirs = day_of(client, headers, "tim")[0]["visit"]
    response = client.post(
        f"/api/v1/me/visits/{theirs}/status",
        json={"status": "en_route"},
        headers=headers("tom"),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_status_reports_follow_the_lifecycle(client: TestClient, headers: Headers) -> None:
    auth = headers("tom")
    stop = day_of(client, headers, "tom")[-1]
    url = f"/api/v1/me/visits/{stop['visit']}/status"
    jump = client.post(url, json={"status": "completed"}, headers=auth)
    assert jump.status_code == 409
    assert "en_route" in jump.json()["detail"]
    stale = client.post(url, json={"status": "en_route"}, headers=auth | {"If-Match": '"999"'})
    assert stale.status_code == 412
    going = client.post(
        url, json={"status": "en_route", "lat": 55.74, "lon": 37.60},
        headers=auth | {"If-Match": f'"{stop["revision"]}"'},
    )  # fmt: skip
    assert going.status_code == 204, going.text
    assert int(going.headers["etag"].strip('"')) > stop["revision"]
    assert client.post(url, json={"status": "on_site"}, headers=auth).status_code == 204
    done = client.post(
        url, json={"status": "completed", "summary": "Replaced the PSU"}, headers=auth
    )
    assert done.status_code == 204
    after = next(s for s in day_of(client, headers, "tom") if s["visit"] == stop["visit"])
    assert after["status"] == "completed"
    assert "Replaced the PSU" in after["notes"]


def test_position_pings_are_checked(client: TestClient, headers: Headers) -> None:
    auth = headers("tim")
    assert (
        client.post(
            "/api/v1/me/position", json={"lat": 55.7, "lon": 37.6}, headers=auth
        ).status_code
        == 204
    )
    bad = client.post("/api/v1/me/position", json={"lat": 95, "lon": 37.6}, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.lat"


def test_a_retried_report_applies_once(client: TestClient, headers: Headers) -> None:
    auth = headers("tim")
    stop = day_of(client, headers, "tim")[0]
    url = f"/api/v1/me/visits/{stop['visit']}/status"
    keyed = auth | {"Idempotency-Key": f"tim-{stop['visit']}-en-route"}
    first = client.post(url, json={"status": "en_route"}, headers=keyed)
    assert first.status_code == 204
    # The phone lost the answer and sends it again: same answer, applied once.
    again = client.post(url, json={"status": "en_route"}, headers=keyed)
    assert again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    after = next(s for s in day_of(client, headers, "tim") if s["visit"] == stop["visit"])
    assert after["revision"] == int(first.headers["etag"].strip('"'))
    # Without the key the same report is a lifecycle error: it was applied already.
    assert client.post(url, json={"status": "en_route"}, headers=auth).status_code == 409
    # The same key with another request is refused.
    other = client.post(url, json={"status": "on_site"}, headers=keyed)
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]


def test_idempotency_keys_are_per_user(client: TestClient, headers: Headers) -> None:
    key = {"Idempotency-Key": "shared-key"}
    ping = {"lat": 55.7, "lon": 37.6}
    assert (
        client.post("/api/v1/me/position", json=ping, headers=headers("tom") | key).status_code
        == 204
    )
    theirs = client.post("/api/v1/me/position", json=ping, headers=headers("tim") | key)
    assert theirs.status_code == 204
    assert "idempotent-replayed" not in theirs.headers


def test_time_and_parts_on_my_visit(client: TestClient, headers: Headers) -> None:
    auth = headers("tom")
    stop = day_of(client, headers, "tom")[0]
    url = f"/api/v1/me/visits/{stop['visit']}"
    entry = {
        "kind": "work",
        "started_at": "2026-11-20T07:00:00Z",
        "ended_at": "2026-11-20T08:29:30Z",
    }
    logged = client.post(
        f"{url}/time-entries", json=entry, headers=auth | {"Idempotency-Key": "t1"}
    )
    assert logged.status_code == 201, logged.text
    assert logged.json()["minutes"] == 90  # a started minute counts
    replayed = client.post(
        f"{url}/time-entries", json=entry, headers=auth | {"Idempotency-Key": "t1"}
    )
    assert replayed.json() == logged.json()
    assert len(client.get(f"{url}/time-entries", headers=auth).json()) == 1
    backwards = entry | {"ended_at": "2026-11-20T06:00:00Z"}
    refused = client.post(f"{url}/time-entries", json=backwards, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "ended_at"
    part = {"sku": "PSU-450", "description": "Power supply 450 W", "quantity": 1}
    assert client.post(f"{url}/materials", json=part, headers=auth).status_code == 204


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("time-entries", {"kind": "work", "started_at": "2026-11-20T07:00:00Z",
                          "ended_at": "2026-11-27T08:00:00Z", "technician_id": 1}),
        ("materials", {"sku": "X", "description": "Y", "quantity": 1, "unit_price_cents": 0}),
    ],
)  # fmt: skip
def test_a_phone_cannot_set_what_is_not_its_to_set(
    client: TestClient, headers: Headers, path: str, body: dict
) -> None:
    auth = headers("tom")
    stop = day_of(client, headers, "tom")[0]
    response = client.post(f"/api/v1/me/visits/{stop['visit']}/{path}", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "Extra inputs are not permitted"


def test_no_logging_on_anothers_visit(client: TestClient, headers: Headers) -> None:
    theirs = day_of(client, headers, "tim")[0]["visit"]
    part = {"sku": "X", "description": "Y", "quantity": 1}
    response = client.post(
        f"/api/v1/me/visits/{theirs}/materials", json=part, headers=headers("tom")
    )
    assert response.status_code == 404


def test_my_week_as_a_calendar_feed(client: TestClient, headers: Headers) -> None:
    auth = headers("tim")
    feed = client.get("/api/v1/me/calendar.ics", params={"start": FRIDAY.isoformat()}, headers=auth)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    text = feed.text
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    codes = {s["visit"] for s in day_of(client, headers, "tim")}
    assert text.count("BEGIN:VEVENT") == len(codes)
    assert all(f"UID:{code}@field-dispatch" in text for code in codes)
    mine = {s["visit"] for s in day_of(client, headers, "tom")}
    assert not any(code in text for code in mine)
