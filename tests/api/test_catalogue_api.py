"""The catalogue over HTTP: create, read, change and list regions, skills, technicians with their
calendars, customers, sites and contracts; refusals name the field; stale writes lose."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from dispatch.models import Technician
from tests.api.conftest import PROBLEM, World

Headers = Callable[[str], dict[str, str]]
SQLITE_BUSY_SNAPSHOT = 517
_numbers = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(_numbers):04d}"


def make_skill(client: TestClient, headers: Headers, code: str | None = None) -> str:
    code = code or fresh("sk")
    answer = client.post(
        "/api/v1/skills", json={"code": code, "name": code.title()}, headers=headers("ada")
    )
    assert answer.status_code == 201, answer.text
    return code


def technician_body(world: World, **overrides: object) -> dict:
    return {
        "code": fresh("TX"),
        "name": "Olga Ivanova",
        "region": world.region,
        "home_lat": 55.7,
        "home_lon": 37.6,
    } | overrides


def test_a_technician_is_created_read_back_and_listed(
    client: TestClient, headers: Headers, world: World
) -> None:
    skill = make_skill(client, headers)
    body = technician_body(world, skills={skill: 4})
    created = client.post("/api/v1/technicians", json=body, headers=headers("dora"))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/api/v1/technicians/{body['code']}"
    assert created.headers["ETag"] == '"1"'
    read = client.get(created.headers["Location"], headers=headers("dora")).json()
    assert read["skills"] == {skill: 4}
    assert read["region"] == world.region
    listed = client.get(
        "/api/v1/technicians",
        params={"skill": skill, "min_level": 4},
        headers=headers("dora"),
    ).json()
    assert [t["code"] for t in listed["items"]] == [body["code"]]
    too_high = client.get(
        "/api/v1/technicians", params={"skill": skill, "min_level": 5}, headers=headers("dora")
    ).json()
    assert too_high["total"] == 0


def test_a_taken_code_is_a_conflict(client: TestClient, headers: Headers, world: World) -> None:
    body = technician_body(world)
    assert client.post("/api/v1/technicians", json=body, headers=headers("dora")).status_code == 201
    again = client.post("/api/v1/technicians", json=body, headers=headers("dora"))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["errors"][0] == {
        "field": "code",
        "value": body["code"],
        "message": f"code {body['code']!r} is taken",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region": "NOWHERE"}, "region"),
        ({"skills": {"no-such-skill": 2}}, "skills"),
        ({"max_work_minutes": 0}, "body.max_work_minutes"),
        ({"name": None}, "name"),
        ({"id": 1}, "body.id"),
        ({"revision": 9}, "body.revision"),
        ({"code": "T-NEW"}, "body.code"),
    ],
)
def test_a_bad_change_names_the_field_and_changes_nothing(
    client: TestClient, headers: Headers, world: World, change: dict, field: str
) -> None:
    body = technician_body(world)
    client.post("/api/v1/technicians", json=body, headers=headers("dora"))
    refused = client.patch(
        f"/api/v1/technicians/{body['code']}", json=change, headers=headers("dora")
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["errors"][0]["field"] == field
    after = client.get(f"/api/v1/technicians/{body['code']}", headers=headers("dora")).json()
    assert after["revision"] == 1
    assert after["name"] == body["name"]


def test_a_change_based_on_an_old_revision_is_refused(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = technician_body(world)
    client.post("/api/v1/technicians", json=body, headers=headers("dora"))
    url = f"/api/v1/technicians/{body['code']}"
    etag = client.get(url, headers=headers("dora")).headers["ETag"]
    first = client.patch(
        url, json={"phone": "+7 900 000 00 01"}, headers=headers("dora") | {"If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'
    second = client.patch(
        url, json={"phone": "+7 900 000 00 02"}, headers=headers("ada") | {"If-Match": etag}
    )
    assert second.status_code == 412
    assert client.get(url, headers=headers("dora")).json()["phone"] == "+7 900 000 00 01"


def test_two_writers_of_one_row_cannot_both_win(engine_of_world: sa.Engine, world: World) -> None:
    """Both read revision 1; the second to write finds the row changed and fails instead of
    overwriting the first change (the API answers that with 409)."""
    code = world.technicians["tom"]
    with Session(engine_of_world) as one, Session(engine_of_world) as two:
        first = one.exec(select(Technician).where(Technician.code == code)).one()
        second = two.exec(select(Technician).where(Technician.code == code)).one()
        first.phone, second.phone = "+7 1", "+7 2"
        one.commit()
        with pytest.raises((StaleDataError, sa.exc.OperationalError)) as lost:
            two.commit()
        if isinstance(lost.value, sa.exc.OperationalError):
            # SQLite refuses the write of a transaction that read before another's commit.
            assert lost.value.orig.sqlite_errorcode == SQLITE_BUSY_SNAPSHOT  # type: ignore[union-attr]
    with Session(engine_of_world) as check:
        kept = check.exec(select(Technician).where(Technician.code == code)).one()
        assert kept.phone == "+7 1"


@pytest.fixture
def engine_of_world(world: World):  # type: ignore[no-untyped-def]
    from dispatch import db

    engine = db.make_engine(world.url)
    yield engine
    engine.dispose()


def test_lists_page_and_sort(client: TestClient, headers: Headers) -> None:
    codes = [make_skill(client, headers, fresh("page")) for _ in range(5)]
    first = client.get(
        "/api/v1/skills",
        params={"q": "page-", "limit": 2, "sort": "-code"},
        headers=headers("dora"),
    ).json()
    assert first["total"] >= 5
    assert first["next_offset"] == 2
    shown = [s["code"] for s in first["items"]]
    assert shown == sorted(shown, reverse=True)
    assert len(shown) == 2
    seen = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(
            "/api/v1/skills",
            params={"q": "page-", "limit": 2, "offset": offset, "sort": "code"},
            headers=headers("dora"),
        ).json()
        seen += [s["code"] for s in page["items"]]
        offset = page["next_offset"]
    assert seen == sorted(seen)
    assert set(codes) <= set(seen)
    assert len(seen) == len(set(seen))


def test_an_unknown_sort_field_is_named(client: TestClient, headers: Headers) -> None:
    refused = client.get("/api/v1/skills", params={"sort": "secret"}, headers=headers("dora"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "field": "sort",
        "value": "secret",
        "message": "cannot sort by 'secret'; sortable fields: code, name",
    }


def test_regions_and_skills_are_kept_by_admins(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = {"code": fresh("R"), "name": "North", "timezone": "Asia/Yekaterinburg"}
    assert client.post("/api/v1/regions", json=body, headers=headers("dora")).status_code == 403
    assert client.post("/api/v1/regions", json=body, headers=headers("ada")).status_code == 201
    bad = client.post(
        "/api/v1/regions",
        json=body | {"code": fresh("R"), "timezone": "Mars/Olympus"},
        headers=headers("ada"),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "timezone"
    listed = client.get("/api/v1/regions", headers=headers("dora")).json()
    assert {world.region, body["code"]} <= {r["code"] for r in listed["items"]}


def test_a_technicians_week_and_time_off(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = technician_body(world)
    client.post("/api/v1/technicians", json=body, headers=headers("dora"))
    url = f"/api/v1/technicians/{body['code']}"
    week = {
        "days": [
            {
                "weekday": d,
                "starts_minute": 480,
                "ends_minute": 1020,
                "break_minutes": 45,
                "break_earliest": 720,
                "break_latest": 840,
            }
            for d in range(5)
        ]
    }
    assert client.put(f"{url}/pattern", json=week, headers=headers("dora")).status_code == 200
    assert client.get(f"{url}/pattern", headers=headers("dora")).json() == week
    # A break that cannot fit in its window breaks a rule of the pattern table.
    squeezed = {"days": [week["days"][0] | {"break_earliest": 800, "break_latest": 810}]}
    refused = client.put(f"{url}/pattern", json=squeezed, headers=headers("dora"))
    assert refused.status_code == 422
    assert "break_fits" in refused.json()["detail"]
    assert client.get(f"{url}/pattern", headers=headers("dora")).json() == week
    twice = {"days": [week["days"][0], week["days"][0]]}
    assert (
        client.put(f"{url}/pattern", json=twice, headers=headers("dora")).json()["errors"][0][
            "field"
        ]
        == "days.1.weekday"
    )

    off = {
        "kind": "vacation",
        "starts_at": "2026-12-01T00:00:00+03:00",
        "ends_at": "2026-12-08T00:00:00+03:00",
    }
    created = client.post(f"{url}/exceptions", json=off, headers=headers("dora"))
    assert created.status_code == 201, created.text
    listed = client.get(f"{url}/exceptions", headers=headers("dora")).json()
    assert [e["id"] for e in listed] == [created.json()["id"]]
    backwards = off | {"ends_at": "2026-11-30T00:00:00+03:00"}
    assert (
        client.post(f"{url}/exceptions", json=backwards, headers=headers("dora")).status_code == 422
    )
    naive = off | {"starts_at": "2026-12-01T00:00:00"}
    assert client.post(f"{url}/exceptions", json=naive, headers=headers("dora")).status_code == 422
    gone = client.delete(created.headers["Location"], headers=headers("dora"))
    assert gone.status_code == 204
    assert client.delete(created.headers["Location"], headers=headers("dora")).status_code == 404


def test_holidays_and_business_hours_of_a_region(
    client: TestClient, headers: Headers, world: World
) -> None:
    url = f"/api/v1/regions/{world.region}"
    put = client.put(
        f"{url}/holidays/2027-01-01", json={"name": "New Year"}, headers=headers("dora")
    )
    assert put.status_code == 200
    listed = client.get(f"{url}/holidays", params={"year": 2027}, headers=headers("dora"))
    assert listed.json() == [{"day": "2027-01-01", "name": "New Year"}]
    hours = {"days": [{"weekday": d, "opens_minute": 540, "closes_minute": 1080} for d in range(5)]}
    assert (
        client.put(f"{url}/business-hours", json=hours, headers=headers("dora")).status_code == 403
    )
    assert (
        client.put(f"{url}/business-hours", json=hours, headers=headers("ada")).status_code == 200
    )
    assert client.get(f"{url}/business-hours", headers=headers("dora")).json() == hours


def test_customers_sites_and_contracts(client: TestClient, headers: Headers, world: World) -> None:
    customer = {"code": fresh("C"), "name": "Borealis JSC"}
    assert (
        client.post("/api/v1/customers", json=customer, headers=headers("dora")).status_code == 201
    )
    site = {
        "code": fresh("S"),
        "customer": customer["code"],
        "region": world.region,
        "name": "Warehouse",
        "address": "Lenina 5",
        "lat": 55.8,
        "lon": 37.5,
    }
    created = client.post("/api/v1/sites", json=site, headers=headers("dora"))
    assert created.status_code == 201, created.text
    assert created.json()["customer"] == customer["code"]
    by_customer = client.get(
        "/api/v1/sites", params={"customer": customer["code"]}, headers=headers("dora")
    ).json()
    assert [s["code"] for s in by_customer["items"]] == [site["code"]]
    moved = client.patch(
        f"/api/v1/sites/{site['code']}", json={"customer": "C-OTHER"}, headers=headers("dora")
    )
    assert moved.status_code == 422  # a site stays with its customer

    contract = {
        "code": fresh("CT"),
        "customer": customer["code"],
        "name": "Managed",
        "kind": "managed",
        "tier": "silver",
        "sla_response_hours": 8,
        "quota_period": "month",
        "quota_hours": 20,
        "quota_onsite_days": 4,
        "hourly_rate_cents": 250000,
        "valid_from": "2026-01-01",
    }
    made = client.post("/api/v1/contracts", json=contract, headers=headers("dora"))
    assert made.status_code == 201, made.text
    # A managed contract keeps its quota: dropping it breaks the contract's rules.
    dropped = client.patch(
        f"/api/v1/contracts/{contract['code']}",
        json={"quota_period": None, "quota_hours": None, "quota_onsite_days": None},
        headers=headers("dora"),
    )
    assert dropped.status_code == 422, dropped.text
    assert (
        client.get(f"/api/v1/contracts/{contract['code']}", headers=headers("dora")).json()[
            "quota_hours"
        ]
        == 20
    )
    backwards = client.patch(
        f"/api/v1/contracts/{contract['code']}",
        json={"valid_to": "2025-12-31"},
        headers=headers("dora"),
    )
    assert backwards.json()["errors"][0]["field"] == "valid_to"
    valid = client.get(
        "/api/v1/contracts",
        params={"customer": customer["code"], "valid_on": "2026-06-01", "tier": "silver"},
        headers=headers("dora"),
    ).json()
    assert [c["code"] for c in valid["items"]] == [contract["code"]]


def test_technicians_have_no_catalogue(client: TestClient, headers: Headers) -> None:
    for path in ("/api/v1/technicians", "/api/v1/customers", "/api/v1/contracts"):
        assert client.get(path, headers=headers("tom")).status_code == 403
        assert client.get(path).status_code == 401
