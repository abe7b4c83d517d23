"""The dispatchers' planning API: plan requests answered 202 with a job to poll, refusals
before anything runs, publication reaching technicians' phones, manual moves guarded by the
visit's revision and refused with the rule they break, a region's day as a board and as
GeoJSON, and none of it open to technicians or strangers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.app import create_app
from dispatch import db, jobs, planning
from dispatch.models import Contract, Plan, Site, Technician, Visit, VisitSkill, VisitStatus
from dispatch.settings import Settings
from routing import SolveParams
from tests.api.conftest import FRIDAY, PROBLEM, World
from tests.factories import make_request, make_skill, make_visit

Headers = Callable[[str], dict[str, str]]
FAST = SolveParams.for_tests()


def inline(engine: sa.Engine, settings: Settings) -> jobs.Executor:
    """Jobs run as they are submitted, with the deterministic test search."""
    return jobs.InProcessExecutor(engine, settings, inline=True, params=lambda _: FAST)


def app_client(world: World, **settings: Any) -> TestClient:
    app = create_app(Settings(database_url=world.url, **settings), executor=inline)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with app_client(world) as client:
        yield client


def new_visit(world: World, *, new_skill: str | None = None, **overrides: Any) -> str:
    """An open visit at the world's first site on Friday (needing level 4 of a ``new_skill``
    nobody has, when given); its code."""
    engine = db.make_engine(world.url)
    try:
        with db.transaction(engine) as session:
            skill = make_skill(session, code=new_skill) if new_skill is not None else None
            site = session.exec(select(Site).where(Site.code == world.sites[0])).one()
            contract = session.exec(select(Contract).where(Contract.code == world.contracts[0]))
            request = make_request(session, site=site, contract=contract.one())
            values = {"earliest_date": FRIDAY, "due_date": FRIDAY, "windows": []} | overrides
            visit = make_visit(session, request=request, **values)
            if skill is not None:
                # Table rows are unhashable, so make_visit's skills mapping cannot take them.
                session.add(VisitSkill(visit_id=visit.id, skill_id=skill.id, min_level=4))  # type: ignore[arg-type]
            return visit.code
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def misfits(world: World) -> dict[str, str]:
    """Visits no technician of the world can take: one needs a skill nobody has, one is
    longer than any shift."""
    return {
        "skill": new_visit(world, new_skill="fibre-splicing"),
        "shift": new_visit(world, duration_minutes=600),
    }


def as_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def board_of(client: TestClient, headers: Headers, world: World, day: date = FRIDAY) -> dict:
    answer = client.get(
        f"/api/v1/regions/{world.region}/board",
        params={"date": day.isoformat()},
        headers=headers("dora"),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def stops_by_technician(board: dict) -> dict[str, list[dict]]:
    return {t["technician"]: t["stops"] for t in board["technicians"]}


def plan_and_wait(client: TestClient, headers: Headers, world: World, **body: Any) -> dict:
    answer = client.post(
        "/api/v1/plans",
        json={"region": world.region, "starts_on": FRIDAY.isoformat(), **body},
        headers=headers("dora"),
    )
    assert answer.status_code == 202, answer.text
    return poll(client, headers, answer.headers["Location"])


def poll(client: TestClient, headers: Headers, location: str, tries: int = 1200) -> dict:
    """The job at ``location`` once it has ended (bounded: a minute at most)."""
    for _ in range(tries):
        job = client.get(location, headers=headers("dora")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {location} still {job['status']}: {job['message']}")


def test_a_plan_request_is_accepted_and_its_job_ends_with_links_to_its_plan(
    client: TestClient, headers: Headers, world: World
) -> None:
    answer = client.post(
        "/api/v1/plans",
        json={"region": world.region, "starts_on": "2026-11-27", "time_limit_seconds": 1},
        headers=headers("dora"),
    )
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert answer.headers["Location"] == f"/api/v1/jobs/{accepted['id']}"
    assert accepted["status"] == "queued"
    assert accepted["requested_by"] == "dora"
    assert [(t["region"], t["status"]) for t in accepted["tasks"]] == [(world.region, "queued")]

    job = poll(client, headers, answer.headers["Location"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0
    assert as_time(job["finished_at"]) >= as_time(job["started_at"])
    (link,) = job["plans"]
    plan = client.get(link, headers=headers("dora")).json()
    assert plan["status"] == "draft"
    assert plan["region"] == world.region
    assert plan["summary"]["assigned"] == job["result"]["assigned"]
    assert job["result"]["regions"][world.region]["plan_id"] == plan["id"]
    (task,) = job["tasks"]
    assert task["region"] == world.region
    assert (task["territory"], task["territories"]) == (None, 0)
    assert (task["status"], task["progress"], task["attempts"]) == ("succeeded", 1.0, 1)


def test_a_job_runs_in_the_background_of_the_server(headers: Headers, world: World) -> None:
    """With the server's own executor the request returns at once and the job ends later."""
    with TestClient(create_app(Settings(database_url=world.url))) as background:
        job = plan_and_wait(background, headers, world, time_limit_seconds=1)
    assert job["status"] == "succeeded", job


def test_a_retried_plan_request_queues_one_job(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = {"region": world.region, "starts_on": "2026-11-27", "time_limit_seconds": 1}
    key = {**headers("dora"), "Idempotency-Key": "plan-friday-once"}
    first = client.post("/api/v1/plans", json=body, headers=key)
    again = client.post("/api/v1/plans", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json()["id"] == first.json()["id"]
    after = client.get(f"/api/v1/jobs/{first.json()['id'] + 1}", headers=headers("dora"))
    assert after.status_code == 404


def test_a_failed_job_says_why(
    client: TestClient, headers: Headers, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(planning, "solve_built", crash)
    job = plan_and_wait(client, headers, world, time_limit_seconds=1)
    assert job["status"] == "failed"
    assert "solver crashed" in job["message"]
    assert "solver crashed" in job["result"]["regions"][world.region]["error"]
    assert job["plans"] == []


def test_requests_beyond_the_limits_are_refused_naming_the_field(
    client: TestClient, headers: Headers, world: World
) -> None:
    body = {"region": world.region, "starts_on": "2026-11-27"}
    slow = client.post(
        "/api/v1/plans", json={**body, "time_limit_seconds": 301}, headers=headers("dora")
    )
    assert slow.status_code == 422
    assert slow.headers["content-type"] == PROBLEM
    assert slow.json()["errors"][0]["field"] == "time_limit_seconds"
    assert slow.json()["errors"][0]["value"] == 301
    sneaky = client.post(
        "/api/v1/plans", json={**body, "status": "succeeded"}, headers=headers("dora")
    )
    assert sneaky.status_code == 422
    with app_client(world, max_plan_visits=1) as small:
        big = small.post("/api/v1/plans", json=body, headers=headers("dora"))
    assert big.status_code == 413
    assert big.headers["content-type"] == PROBLEM
    assert big.json()["errors"][0]["field"] == "visits"


def test_publishing_a_plan_puts_a_new_visit_on_a_technicians_day(
    client: TestClient, headers: Headers, world: World
) -> None:
    code = new_visit(world)

    def days() -> list[str]:
        found = []
        for username in ("tom", "tim"):
            answer = client.get(
                "/api/v1/me/day", params={"date": "2026-11-27"}, headers=headers(username)
            )
            found += [stop["visit"] for stop in answer.json()["stops"]]
        return found

    assert code not in days()
    job = plan_and_wait(client, headers, world, time_limit_seconds=1)
    (plan_id,) = job["plan_ids"]
    published = client.post(f"/api/v1/plans/{plan_id}/publish", headers=headers("dora"))
    assert published.status_code == 200, published.text
    assert published.json()["plan"]["status"] == "published"
    assert days().count(code) == 1
    again = client.post(f"/api/v1/plans/{plan_id}/publish", headers=headers("dora"))
    assert again.status_code == 409
    assert again.json()["errors"][0] == {
        "field": "status",
        "value": "published",
        "message": again.json()["detail"],
    }


def test_plans_are_listed_by_region_and_status(
    client: TestClient, headers: Headers, world: World
) -> None:
    staff = headers("dora")
    listed = client.get(
        "/api/v1/plans",
        params={"region": world.region, "status": "published", "sort": "-version"},
        headers=staff,
    ).json()
    assert listed["total"] >= 1
    assert {p["status"] for p in listed["items"]} == {"published"}
    assert {p["region"] for p in listed["items"]} == {world.region}
    versions = [p["version"] for p in listed["items"]]
    assert versions == sorted(versions, reverse=True)
    detail = client.get(f"/api/v1/plans/{listed['items'][0]['id']}", headers=staff).json()
    assert set(detail["utilisation"]) == {"T-TIM", "T-TOM"}
    bad_sort = client.get("/api/v1/plans", params={"sort": "objective"}, headers=staff)
    assert bad_sort.status_code == 422
    assert bad_sort.json()["errors"][0]["field"] == "sort"
    for missing in ("/api/v1/plans/999999", "/api/v1/jobs/999999"):
        assert client.get(missing, headers=staff).status_code == 404


def test_a_plan_reads_back_when_a_contract_sets_no_day_quota(
    client: TestClient, headers: Headers, world: World
) -> None:
    """Hours-only contracts have no on-site-day quota: its figure is null, not a server error."""
    staff = headers("dora")
    plan_id = client.get("/api/v1/plans", headers=staff).json()["items"][0]["id"]
    engine = db.make_engine(world.url)
    try:
        with db.transaction(engine) as session:
            plan = session.get_one(Plan, plan_id)
            plan.stats = plan.stats | {
                "quotas": {
                    "C-HOURS/2026-11": {
                        "remaining_minutes_before": 600,
                        "planned_minutes": 90,
                        "days_remaining_before": None,
                    }
                }
            }
            session.add(plan)
    finally:
        engine.dispose()
    detail = client.get(f"/api/v1/plans/{plan_id}", headers=staff)
    assert detail.status_code == 200, detail.text
    assert detail.json()["quotas"]["C-HOURS/2026-11"]["days_remaining_before"] is None


def test_a_replan_answers_with_the_published_plan(
    client: TestClient, headers: Headers, world: World
) -> None:
    path = f"/api/v1/regions/{world.region}/replan"
    staff = headers("dora")
    done = client.post(path, params={"at": "2026-11-27T08:00:00Z", "seconds": 0.5}, headers=staff)
    assert done.status_code == 200, done.text
    assert done.json()["strategy"] == "replan"
    assert done.json()["status"] == "published"
    assert done.json()["published"] is True
    slow = client.post(path, params={"seconds": 100}, headers=staff)
    assert (slow.status_code, slow.json()["errors"][0]["field"]) == (422, "seconds")
    naive = client.post(path, params={"at": "2026-11-27T08:00:00", "seconds": 0.5}, headers=staff)
    assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "at")


def test_a_visit_moves_to_another_route_and_stale_revisions_are_refused(
    client: TestClient, headers: Headers, world: World
) -> None:
    staff = headers("dora")
    routes = stops_by_technician(board_of(client, headers, world))
    source, target = sorted(("T-TOM", "T-TIM"), key=lambda t: -len(routes[t]))
    stop = routes[source][-1]
    visit, old = stop["visit"], f'"{stop["revision"]}"'

    moved = client.post(
        f"/api/v1/visits/{visit}/assign",
        json={"technician": target, "date": "2026-11-27"},
        headers={**staff, "If-Match": old},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["visit"]["technician"] == target
    assert moved.headers["ETag"] == f'"{body["visit"]["revision"]}"'
    assert moved.headers["ETag"] != old
    assert visit in [v["visit"] for v in body["route"]]
    after = stops_by_technician(board_of(client, headers, world))
    assert visit in [s["visit"] for s in after[target]]
    assert visit not in [s["visit"] for s in after[source]]

    for action, payload in (
        ("assign", {"technician": source, "date": "2026-11-27"}),
        ("unassign", None),
        ("pin", {}),
        ("unpin", None),
    ):
        stale = client.post(
            f"/api/v1/visits/{visit}/{action}", json=payload, headers={**staff, "If-Match": old}
        )
        assert stale.status_code == 412, action
        assert stale.headers["content-type"] == PROBLEM


def test_pin_unpin_and_unassign(client: TestClient, headers: Headers, world: World) -> None:
    staff = headers("dora")
    routes = stops_by_technician(board_of(client, headers, world))
    technician = next(t for t, stops in routes.items() if stops)
    visit = routes[technician][0]["visit"]

    pinned = client.post(f"/api/v1/visits/{visit}/pin", json={}, headers=staff)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned_technician"] == technician
    assert pinned.json()["pinned_date"] == "2026-11-27"
    unpinned = client.post(
        f"/api/v1/visits/{visit}/unpin", headers={**staff, "If-Match": pinned.headers["ETag"]}
    )
    assert unpinned.json()["pinned_technician"] is None
    gone = client.post(
        f"/api/v1/visits/{visit}/unassign", headers={**staff, "If-Match": unpinned.headers["ETag"]}
    )
    assert gone.status_code == 200
    assert (gone.json()["status"], gone.json()["technician"]) == ("unscheduled", None)
    board = board_of(client, headers, world)
    assert visit not in [s["visit"] for t in board["technicians"] for s in t["stops"]]
    nowhere = client.post(f"/api/v1/visits/{visit}/pin", json={}, headers=staff)
    assert (nowhere.status_code, nowhere.json()["errors"][0]["field"]) == (422, "technician")


def test_refused_moves_name_the_rule(
    client: TestClient, headers: Headers, world: World, misfits: dict[str, str]
) -> None:
    staff = headers("dora")
    friday = {"technician": "T-TOM", "date": "2026-11-27"}
    unskilled = client.post(f"/api/v1/visits/{misfits['skill']}/assign", json=friday, headers=staff)
    assert unskilled.status_code == 422
    assert unskilled.json()["errors"][0]["field"] == "technician"
    assert "lacks a skill" in unskilled.json()["detail"]
    too_long = client.post(f"/api/v1/visits/{misfits['shift']}/assign", json=friday, headers=staff)
    assert too_long.status_code == 422
    assert "shift" in too_long.json()["detail"]
    saturday = client.post(
        f"/api/v1/visits/{misfits['skill']}/assign",
        json={"technician": "T-TOM", "date": "2026-11-28"},
        headers=staff,
    )
    assert (saturday.status_code, saturday.json()["errors"][0]["field"]) == (422, "day")
    unknown = client.post(
        f"/api/v1/visits/{misfits['skill']}/assign",
        json={"technician": "T-NOBODY", "date": "2026-11-27"},
        headers=staff,
    )
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (404, "technician")


def test_a_locked_route_refuses_moves_until_unlocked(
    client: TestClient, headers: Headers, world: World
) -> None:
    staff = headers("dora")
    lock = "/api/v1/routes/T-TIM/2026-11-27/lock"
    routes = stops_by_technician(board_of(client, headers, world))
    visit = new_visit(world) if not routes["T-TOM"] else routes["T-TOM"][0]["visit"]
    locked = client.put(lock, headers=staff)
    try:
        assert locked.status_code == 200, locked.text
        assert locked.json()["locked_by"] == "dora"
        assert client.put(lock, headers=staff).json() == locked.json()
        board = board_of(client, headers, world)
        assert {t["technician"]: t["locked"] for t in board["technicians"]} == {
            "T-TIM": True,
            "T-TOM": False,
        }
        refused = client.post(
            f"/api/v1/visits/{visit}/assign",
            json={"technician": "T-TIM", "date": "2026-11-27"},
            headers=staff,
        )
        assert refused.status_code == 409
        assert "locked" in refused.json()["detail"]
    finally:
        assert client.delete(lock, headers=staff).status_code == 204
    assert client.delete(lock, headers=staff).status_code == 404


def planned_on_friday(world: World) -> list[str]:
    engine = db.make_engine(world.url)
    try:
        with db.transaction(engine) as session:
            return list(
                session.exec(
                    select(Visit.code)
                    .join(Technician, col(Technician.id) == Visit.technician_id)
                    .where(
                        col(Visit.status).in_([VisitStatus.scheduled, VisitStatus.dispatched]),
                        col(Visit.planned_start) >= datetime(2026, 11, 26, 21, tzinfo=UTC),
                        col(Visit.planned_start) < datetime(2026, 11, 27, 21, tzinfo=UTC),
                    )
                )
            )
    finally:
        engine.dispose()


def test_the_board_shows_each_technicians_day_in_order(
    client: TestClient, headers: Headers, world: World
) -> None:
    board = board_of(client, headers, world)
    assert (board["region"], board["timezone"], board["date"]) == (
        world.region,
        "Europe/Moscow",
        "2026-11-27",
    )
    shown = [s["visit"] for t in board["technicians"] for s in t["stops"]]
    assert sorted(shown) == sorted(planned_on_friday(world))
    for tech in board["technicians"]:
        (shift,) = tech["shifts"]
        # 09:00-18:00 in Moscow, lunch of 30 minutes between 12:00 and 14:00.
        assert as_time(shift["starts_at"]) == datetime(2026, 11, 27, 6, tzinfo=UTC)
        assert as_time(shift["ends_at"]) == datetime(2026, 11, 27, 15, tzinfo=UTC)
        assert [b["minutes"] for b in shift["breaks"]] == [30]
        stops, totals = tech["stops"], tech["totals"]
        assert [s["sequence"] for s in stops] == list(range(len(stops)))
        starts = [as_time(s["planned_start"]) for s in stops]
        assert starts == sorted(starts)
        assert all(as_time(s["planned_end"]) > as_time(s["planned_start"]) for s in stops)
        assert totals["stops"] == len(stops)
        assert totals["travel_metres"] >= sum(s["travel_metres"] for s in stops)
        assert totals["shift_minutes"] == 540 - 30
        assert totals["utilisation"] == round(totals["work_minutes"] / 510, 3)
        if stops:
            assert stops[0]["travel_metres"] > 0  # from home
            assert stops[0]["tier"] == "gold"


def test_routes_as_geojson(client: TestClient, headers: Headers, world: World) -> None:
    board = board_of(client, headers, world)
    answer = client.get(
        f"/api/v1/regions/{world.region}/routes.geojson",
        params={"date": "2026-11-27"},
        headers=headers("dora"),
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    collection = answer.json()
    assert collection["type"] == "FeatureCollection"
    lines = {
        f["properties"]["technician"]: f
        for f in collection["features"]
        if f["geometry"]["type"] == "LineString"
    }
    points = [f for f in collection["features"] if f["geometry"]["type"] == "Point"]
    for tech in board["technicians"]:
        stops = tech["stops"]
        if not stops:
            assert tech["technician"] not in lines
            continue
        line = lines[tech["technician"]]
        home = [tech["home_lon"], tech["home_lat"]]  # GeoJSON: longitude first
        expected = [home, *([s["lon"], s["lat"]] for s in stops), home]
        assert line["geometry"]["coordinates"] == expected
        assert line["properties"]["stops"] == len(stops)
        assert line["properties"]["travel_km"] == round(tech["totals"]["travel_metres"] / 1000, 1)
    by_visit = {p["properties"]["visit"]: p for p in points}
    shown = [s for t in board["technicians"] for s in t["stops"]]
    assert sorted(p["properties"]["visit"] for p in points) == sorted(s["visit"] for s in shown)
    for stop in shown:
        point = by_visit[stop["visit"]]
        assert point["geometry"]["coordinates"] == [stop["lon"], stop["lat"]]
        assert point["properties"]["sequence"] == stop["sequence"]


def test_unassigned_visits_of_the_latest_plan_say_why(
    client: TestClient, headers: Headers, world: World, misfits: dict[str, str]
) -> None:
    job = plan_and_wait(client, headers, world, time_limit_seconds=1)
    path = f"/api/v1/regions/{world.region}/unassigned"
    answer = client.get(path, params={"date": "2026-11-27"}, headers=headers("dora"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["plan"]["id"] == job["plan_ids"][0]
    reasons = {item["visit"]: item for item in body["items"]}
    assert reasons[misfits["skill"]]["reason"] == "no_skilled_technician"
    assert reasons[misfits["skill"]]["detail"]
    assert reasons[misfits["shift"]]["reason"] == "exceeds_shift_length"
    nothing = client.get(path, params={"date": "2026-12-25"}, headers=headers("dora"))
    assert (nothing.status_code, nothing.json()["errors"][0]["field"]) == (404, "date")


OPERATIONS = (
    ("post", "/api/v1/plans", {"starts_on": "2026-11-27"}),
    ("get", "/api/v1/jobs/1", None),
    ("get", "/api/v1/plans", None),
    ("get", "/api/v1/plans/1", None),
    ("post", "/api/v1/plans/1/publish", None),
    ("post", "/api/v1/regions/{region}/replan", None),
    ("post", "/api/v1/visits/{visit}/assign", {"technician": "T-TOM", "date": "2026-11-27"}),
    ("post", "/api/v1/visits/{visit}/unassign", None),
    ("post", "/api/v1/visits/{visit}/pin", {}),
    ("post", "/api/v1/visits/{visit}/unpin", None),
    ("put", "/api/v1/routes/T-TOM/2026-11-27/lock", None),
    ("delete", "/api/v1/routes/T-TOM/2026-11-27/lock", None),
    ("get", "/api/v1/regions/{region}/board", None),
    ("get", "/api/v1/regions/{region}/unassigned", None),
    ("get", "/api/v1/regions/{region}/routes.geojson", None),
)


def test_technicians_and_strangers_are_kept_out(
    client: TestClient, headers: Headers, world: World
) -> None:
    visit = world.routes["T-TOM"][0]
    for method, template, body in OPERATIONS:
        path = template.format(region=world.region, visit=visit)
        kwargs = {"json": body} if body is not None else {}
        technician = client.request(method, path, headers=headers("tom"), **kwargs)
        assert technician.status_code == 403, (method, path)
        stranger = client.request(method, path, **kwargs)
        assert stranger.status_code == 401, (method, path)
        assert stranger.headers["content-type"] == PROBLEM


def test_an_unknown_region_is_not_found(client: TestClient, headers: Headers) -> None:
    staff = headers("dora")
    for answer in (
        client.get("/api/v1/regions/NOPE/board", headers=staff),
        client.get("/api/v1/regions/NOPE/unassigned", headers=staff),
        client.get("/api/v1/regions/NOPE/routes.geojson", headers=staff),
        client.post("/api/v1/regions/NOPE/replan", headers=staff),
        client.get("/api/v1/plans", params={"region": "NOPE"}, headers=staff),
        client.post(
            "/api/v1/plans", json={"region": "NOPE", "starts_on": "2026-11-27"}, headers=staff
        ),
    ):
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"][0] == {
            "field": "region",
            "value": "NOPE",
            "message": "region 'NOPE' does not exist",
        }
