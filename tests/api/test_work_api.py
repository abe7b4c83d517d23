"""Requests and visits over HTTP: intake from registration to a visit, lists a dispatcher
filters, amendments guarded by the visit's revision."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import FRIDAY, PROBLEM, World

Headers = Callable[[str], dict[str, str]]


def register(client: TestClient, headers: Headers, world: World, **overrides: object) -> dict:
    body = {
        "customer": world.customers[0],
        "contract": world.contracts[0],
        "site": world.sites[0],
        "channel": "phone",
        "urgency": "high",
        "contact_name": "Anna Smirnova",
        "description": "The core switch reboots every hour",
        "registered_at": "2026-11-26T10:00:00+03:00",
    } | overrides
    answer = client.post("/api/v1/requests", json=body, headers=headers("dora"))
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_request_from_registration_to_a_visit(
    client: TestClient, headers: Headers, world: World
) -> None:
    request = register(client, headers, world)
    assert request["triage"] == "pending"
    assert request["sla_due_at"] is not None
    assert request["region"] == world.region
    escalated = client.post(
        f"/api/v1/requests/{request['code']}/escalate",
        json={"duration_minutes": 90, "earliest_date": "2026-11-27", "notes": "bring a spare"},
        headers=headers("dora"),
    )
    assert escalated.status_code == 201, escalated.text
    visit = escalated.json()
    assert visit["status"] == "unscheduled"
    assert visit["request"] == request["code"]
    assert escalated.headers["Location"] == f"/api/v1/visits/{visit['code']}"
    again = client.get(f"/api/v1/requests/{request['code']}", headers=headers("dora")).json()
    assert again["triage"] == "escalated"
    assert again["visits"] == [visit["code"]]
    waiting = client.get(
        "/api/v1/visits",
        params={"status": "unscheduled", "request": request["code"]},
        headers=headers("dora"),
    ).json()
    assert [v["code"] for v in waiting["items"]] == [visit["code"]]


def test_a_registration_retried_with_its_key_registers_once(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = {
        "customer": world.customers[0],
        "contract": world.contracts[0],
        "site": world.sites[0],
        "channel": "email",
        "contact_name": "Boris",
        "description": "No network on floor 3",
    }
    key = headers("dora") | {"Idempotency-Key": "call-4711"}
    first = client.post("/api/v1/requests", json=body, headers=key)
    second = client.post("/api/v1/requests", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["code"] == second.json()["code"]
    listed = client.get(
        "/api/v1/requests", params={"triage": "pending", "limit": 500}, headers=headers("dora")
    ).json()
    assert sum(r["description"] == body["description"] for r in listed["items"]) == 1


def test_intake_refusals_name_the_field(client: TestClient, headers: Headers, world: World) -> None:
    wrong_contract = client.post(
        "/api/v1/requests",
        json={
            "customer": world.customers[0],
            "contract": world.contracts[1],
            "site": world.sites[0],
            "channel": "phone",
            "contact_name": "Anna",
            "description": "x",
        },
        headers=headers("dora"),
    )
    assert wrong_contract.status_code == 422
    assert wrong_contract.headers["content-type"] == PROBLEM
    assert wrong_contract.json()["errors"][0] == {
        "field": "contract_code",
        "value": world.contracts[1],
        "message": wrong_contract.json()["detail"],
    }
    request = register(client, headers, world)
    resolved = client.post(
        f"/api/v1/requests/{request['code']}/resolve",
        json={"minutes": 20},
        headers=headers("dora"),
    )
    assert resolved.status_code == 200
    assert resolved.json()["triage"] == "resolved_remotely"
    twice = client.post(
        f"/api/v1/requests/{request['code']}/resolve",
        json={"minutes": 20},
        headers=headers("dora"),
    )
    assert twice.status_code == 409
    assert twice.json()["errors"][0]["field"] == "triage"
    unknown_skill = client.post(
        f"/api/v1/requests/{register(client, headers, world)['code']}/escalate",
        json={"duration_minutes": 30, "skills": {"juggling": 2}},
        headers=headers("dora"),
    )
    assert unknown_skill.status_code == 422
    assert unknown_skill.json()["errors"][0] == {
        "field": "skills",
        "value": "juggling",
        "message": "skill 'juggling' does not exist",
    }


def test_cancelling_a_request_cancels_its_waiting_visit(
    client: TestClient, headers: Headers, world: World
) -> None:
    request = register(client, headers, world)
    visit = client.post(
        f"/api/v1/requests/{request['code']}/escalate",
        json={"duration_minutes": 45},
        headers=headers("dora"),
    ).json()
    cancelled = client.post(
        f"/api/v1/requests/{request['code']}/cancel",
        json={"reason": "fixed by the customer"},
        headers=headers("dora"),
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["triage"] == "cancelled"
    after = client.get(f"/api/v1/visits/{visit['code']}", headers=headers("dora")).json()
    assert after["status"] == "cancelled"


def test_visits_of_a_technicians_day(client: TestClient, headers: Headers, world: World) -> None:
    tom = world.technicians["tom"]
    found = client.get(
        "/api/v1/visits",
        params={"technician": tom, "date": FRIDAY.isoformat(), "sort": "planned_start"},
        headers=headers("dora"),
    ).json()
    assert [v["code"] for v in found["items"]] == world.routes[tom]
    assert all(v["arrival_window"] for v in found["items"])
    other_day = client.get(
        "/api/v1/visits",
        params={"technician": tom, "date": "2026-11-28"},
        headers=headers("dora"),
    ).json()
    assert other_day["total"] == 0


def test_amending_a_visit_needs_its_current_revision(
    client: TestClient, headers: Headers, world: World
) -> None:
    request = register(client, headers, world)
    made = client.post(
        f"/api/v1/requests/{request['code']}/escalate",
        json={"duration_minutes": 60, "earliest_date": "2026-11-27"},
        headers=headers("dora"),
    )
    url, etag = made.headers["Location"], made.headers["ETag"]
    longer = client.patch(
        url, json={"duration_minutes": 120}, headers=headers("dora") | {"If-Match": etag}
    )
    assert longer.status_code == 200, longer.text
    assert longer.json()["duration_minutes"] == 120
    stale = client.patch(
        url, json={"duration_minutes": 30}, headers=headers("dora") | {"If-Match": etag}
    )
    assert stale.status_code == 412
    backwards = client.patch(url, json={"due_date": "2026-11-20"}, headers=headers("dora"))
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "due_date"
    forbidden = client.patch(
        url, json={"technician_id": 1, "status": "completed"}, headers=headers("dora")
    )
    assert forbidden.status_code == 422
    assert {e["field"] for e in forbidden.json()["errors"]} == {
        "body.technician_id",
        "body.status",
    }
    assert client.get(url, headers=headers("dora")).json()["duration_minutes"] == 120
