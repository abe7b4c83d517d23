"""Who may do what: every operation of the API against every role, and technicians against
another technician's objects. The table below is the documentation, and the test fails when
an operation is added without a line in it.

Semantics: no or a bad token -> 401 (with ``WWW-Authenticate: Bearer``); signed in with a role
the operation is not for -> 403; a technician naming another technician's visit -> 404, the
same answer as for a visit that does not exist, so codes cannot be probed. Dispatchers and
admins see every region (there is no ownership among office staff).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dispatch.settings import Settings
from tests.api.conftest import FRIDAY, PROBLEM, World

# Time can only be logged in the past.
NOW = datetime.now(UTC)
Audience = Literal["public", "signed_in", "technician", "office", "admin"]
Role = Literal["anonymous", "technician", "dispatcher", "admin"]
USERNAME: dict[Role, str | None] = {
    "anonymous": None,
    "technician": "tom",
    "dispatcher": "dora",
    "admin": "ada",
}
ADMITTED: dict[Audience, set[Role]] = {
    "public": {"anonymous", "technician", "dispatcher", "admin"},
    "signed_in": {"technician", "dispatcher", "admin"},
    "technician": {"technician"},
    "office": {"dispatcher", "admin"},
    "admin": {"admin"},
}

# Every operation and who it is for.
ACCESS: dict[tuple[str, str], Audience] = {
    ("GET", "/healthz"): "public",
    ("POST", "/api/v1/auth/token"): "public",
    ("POST", "/api/v1/auth/refresh"): "public",
    ("POST", "/api/v1/auth/logout"): "public",
    ("GET", "/api/v1/track/{token}"): "public",
    ("GET", "/api/v1/me"): "signed_in",
    ("GET", "/api/v1/me/day"): "technician",
    ("POST", "/api/v1/me/visits/{code}/status"): "technician",
    ("POST", "/api/v1/me/position"): "technician",
    ("POST", "/api/v1/me/visits/{code}/time-entries"): "technician",
    ("GET", "/api/v1/me/visits/{code}/time-entries"): "technician",
    ("POST", "/api/v1/me/visits/{code}/materials"): "technician",
    ("GET", "/api/v1/me/calendar.ics"): "technician",
    ("GET", "/api/v1/regions"): "office",
    ("POST", "/api/v1/regions"): "admin",
    ("GET", "/api/v1/regions/{code}"): "office",
    ("PATCH", "/api/v1/regions/{code}"): "admin",
    ("GET", "/api/v1/regions/{code}/holidays"): "office",
    ("PUT", "/api/v1/regions/{code}/holidays/{day}"): "office",
    ("DELETE", "/api/v1/regions/{code}/holidays/{day}"): "office",
    ("GET", "/api/v1/regions/{code}/business-hours"): "office",
    ("PUT", "/api/v1/regions/{code}/business-hours"): "admin",
    ("GET", "/api/v1/skills"): "office",
    ("POST", "/api/v1/skills"): "admin",
    ("GET", "/api/v1/skills/{code}"): "office",
    ("PATCH", "/api/v1/skills/{code}"): "admin",
    ("GET", "/api/v1/technicians"): "office",
    ("POST", "/api/v1/technicians"): "office",
    ("GET", "/api/v1/technicians/{code}"): "office",
    ("PATCH", "/api/v1/technicians/{code}"): "office",
    ("GET", "/api/v1/technicians/{code}/pattern"): "office",
    ("PUT", "/api/v1/technicians/{code}/pattern"): "office",
    ("GET", "/api/v1/technicians/{code}/exceptions"): "office",
    ("POST", "/api/v1/technicians/{code}/exceptions"): "office",
    ("DELETE", "/api/v1/technicians/{code}/exceptions/{exception_id}"): "office",
    ("GET", "/api/v1/customers"): "office",
    ("POST", "/api/v1/customers"): "office",
    ("GET", "/api/v1/customers/{code}"): "office",
    ("PATCH", "/api/v1/customers/{code}"): "office",
    ("GET", "/api/v1/sites"): "office",
    ("POST", "/api/v1/sites"): "office",
    ("GET", "/api/v1/sites/{code}"): "office",
    ("PATCH", "/api/v1/sites/{code}"): "office",
    ("GET", "/api/v1/contracts"): "office",
    ("POST", "/api/v1/contracts"): "office",
    ("GET", "/api/v1/contracts/{code}"): "office",
    ("PATCH", "/api/v1/contracts/{code}"): "office",
    ("GET", "/api/v1/contracts/{code}/billing"): "office",
    ("GET", "/api/v1/requests"): "office",
    ("POST", "/api/v1/requests"): "office",
    ("GET", "/api/v1/requests/{code}"): "office",
    ("POST", "/api/v1/requests/{code}/resolve"): "office",
    ("POST", "/api/v1/requests/{code}/escalate"): "office",
    ("POST", "/api/v1/requests/{code}/cancel"): "office",
    ("GET", "/api/v1/visits"): "office",
    ("GET", "/api/v1/visits/{code}"): "office",
    ("PATCH", "/api/v1/visits/{code}"): "office",
    ("POST", "/api/v1/visits/{code}/assign"): "office",
    ("POST", "/api/v1/visits/{code}/unassign"): "office",
    ("POST", "/api/v1/visits/{code}/pin"): "office",
    ("POST", "/api/v1/visits/{code}/unpin"): "office",
    ("POST", "/api/v1/visits/{code}/tracking-link"): "office",
    ("PUT", "/api/v1/routes/{technician}/{day}/lock"): "office",
    ("DELETE", "/api/v1/routes/{technician}/{day}/lock"): "office",
    ("POST", "/api/v1/plans"): "office",
    ("GET", "/api/v1/plans"): "office",
    ("GET", "/api/v1/plans/{plan_id}"): "office",
    ("POST", "/api/v1/plans/{plan_id}/publish"): "office",
    ("GET", "/api/v1/jobs/{job_id}"): "office",
    ("POST", "/api/v1/regions/{code}/replan"): "office",
    ("GET", "/api/v1/regions/{code}/board"): "office",
    ("GET", "/api/v1/regions/{code}/unassigned"): "office",
    ("GET", "/api/v1/regions/{code}/routes.geojson"): "office",
    ("GET", "/api/v1/reports/quotas"): "office",
    ("GET", "/api/v1/sla/at-risk"): "office",
    ("POST", "/api/v1/imports/{kind}"): "office",
}
# Operations on one of the signed-in technician's own visits.
OWN_VISIT_OPERATIONS = [
    ("POST", "/api/v1/me/visits/{code}/status", {"status": "en_route"}),
    (
        "POST",
        "/api/v1/me/visits/{code}/time-entries",
        {
            "kind": "work",
            "started_at": (NOW - timedelta(hours=2)).isoformat(),
            "ended_at": (NOW - timedelta(hours=1)).isoformat(),
        },
    ),
    ("GET", "/api/v1/me/visits/{code}/time-entries", None),
    (
        "POST",
        "/api/v1/me/visits/{code}/materials",
        {"sku": "CAB-5", "description": "Patch cable", "quantity": 2},
    ),
]


def _operations(client: TestClient) -> set[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


def _url(path: str, world: World) -> str:
    """``path`` with its parameters filled in with objects of the world; codes name the other
    technician's objects (tim's), so ownership is tested too."""
    tim = world.technicians["tim"]
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment == "{code}":
            owner = segments[i - 1]
            segments[i] = {
                "regions": world.region,
                "skills": "no-such-skill",
                "technicians": tim,
                "customers": world.customers[1],
                "sites": world.sites[1],
                "contracts": world.contracts[1],
                "requests": "SR-999999",
                "visits": world.routes[tim][0],
            }[owner]
    filled = "/".join(segments)
    return (
        filled.replace("{day}", FRIDAY.isoformat())
        .replace("{technician}", tim)
        .replace("{token}", "t" * 43)
        .replace("{exception_id}", "999999")
        .replace("{plan_id}", "999999")
        .replace("{job_id}", "999999")
        .replace("{kind}", "technicians")
    )


@pytest.fixture(scope="module")
def app_client(world: World):  # type: ignore[no-untyped-def]
    with TestClient(
        create_app(Settings(database_url=world.url)), raise_server_exceptions=False
    ) as client:
        yield client


def test_every_operation_has_a_line_in_the_table(app_client: TestClient) -> None:
    assert _operations(app_client) == set(ACCESS)


ROLES: list[Role] = ["anonymous", "technician", "dispatcher", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_operations(
    app_client: TestClient, headers: Callable[[str], dict[str, str]], world: World, role: Role
) -> None:
    username = USERNAME[role]
    auth = headers(username) if username else {}
    wrong: list[str] = []
    for (method, path), audience in sorted(ACCESS.items()):
        body = None if method in ("GET", "DELETE") else {}
        answer = app_client.request(method, _url(path, world), headers=auth, json=body)
        admitted = role in ADMITTED[audience]
        if answer.status_code >= 500:
            wrong.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        elif admitted and answer.status_code in (401, 403):
            wrong.append(f"{method} {path}: {role} refused with {answer.status_code}")
        elif not admitted:
            expected = 401 if role == "anonymous" else 403
            if answer.status_code != expected:
                wrong.append(f"{method} {path}: {role} got {answer.status_code}, not {expected}")
            elif answer.headers["content-type"] != PROBLEM:
                wrong.append(f"{method} {path}: refusal is not problem+json")
            elif expected == 401 and answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{method} {path}: 401 without WWW-Authenticate: Bearer")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("method", "path", "body"), OWN_VISIT_OPERATIONS)
def test_another_technicians_visit_is_as_absent_as_a_missing_one(
    app_client: TestClient,
    headers: Callable[[str], dict[str, str]],
    world: World,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    tims_visit = world.routes[world.technicians["tim"]][0]
    others = app_client.request(
        method, path.replace("{code}", tims_visit), headers=headers("tom"), json=body
    )
    missing = app_client.request(
        method, path.replace("{code}", "V-999999"), headers=headers("tom"), json=body
    )
    assert others.status_code == missing.status_code == 404
    assert others.headers["content-type"] == PROBLEM
    # Nothing in the answer tells a foreign visit from a missing one but the code itself.
    assert others.json()["title"] == missing.json()["title"]
    own = app_client.request(
        method,
        path.replace("{code}", world.routes[world.technicians["tom"]][0]),
        headers=headers("tom"),
        json=body,
    )
    assert own.status_code < 400, own.text


def test_a_technician_cannot_set_what_is_not_theirs_to_set(
    app_client: TestClient, headers: Callable[[str], dict[str, str]], world: World
) -> None:
    """Mass assignment: fields a technician may not set are refused, not ignored."""
    visit = world.routes[world.technicians["tom"]][-1]
    attempts = [
        (f"/api/v1/me/visits/{visit}/status", {"status": "completed", "technician_id": 2}),
        (f"/api/v1/me/visits/{visit}/status", {"status": "cancelled"}),
        (
            f"/api/v1/me/visits/{visit}/materials",
            {"sku": "X", "description": "Gold", "quantity": 1, "unit_price_cents": 1},
        ),
        (
            f"/api/v1/me/visits/{visit}/time-entries",
            {
                "kind": "work",
                "started_at": "2026-11-27T11:00:00+03:00",
                "ended_at": "2026-11-27T12:00:00+03:00",
                "technician_id": 2,
            },
        ),
    ]
    for url, body in attempts:
        answer = app_client.post(url, headers=headers("tom"), json=body)
        assert answer.status_code == 422, (url, body, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"], answer.text
