"""A region's day as the board, the unassigned list and GeoJSON show it: by default the routes in
force; with `plan`, as that plan (a draft before publishing, say) placed the visits, while the
visits themselves stay as they are. Stops name the skills they need; unassigned visits their
tier and revision. A plan of another region, or one not covering the day, is refused naming
the field."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from dispatch import db, jobs
from dispatch.models import (
    Contract,
    Plan,
    PlanStop,
    PlanUnassigned,
    Site,
    Technician,
    Visit,
    VisitSkill,
)
from dispatch.settings import Settings
from routing import SolveParams
from tests.api.conftest import FRIDAY, PROBLEM, World
from tests.factories import make_region, make_request, make_skill, make_visit

Headers = Callable[[str], dict[str, str]]
SATURDAY = FRIDAY + timedelta(days=1)


def _inline(engine: sa.Engine, settings: Settings) -> jobs.Executor:
    """Planning jobs run as they are submitted, with the deterministic test search."""
    return jobs.InProcessExecutor(
        engine, settings, inline=True, params=lambda _: SolveParams.for_tests()
    )


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=world.url), executor=_inline)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def in_session(world: World, work: Callable[[Session], Any]) -> Any:
    engine = db.make_engine(world.url)
    try:
        with db.transaction(engine) as session:
            return work(session)
    finally:
        engine.dispose()


def day_of(client: TestClient, headers: Headers, world: World, what: str, **params: Any) -> Any:
    """GET a region's day (board, unassigned or routes.geojson) of Friday unless told."""
    return client.get(
        f"/api/v1/regions/{world.region}/{what}",
        params={"date": FRIDAY.isoformat()} | params,
        headers=headers("dora"),
    )


def ok(answer: Any) -> dict:
    assert answer.status_code == 200, answer.text
    return answer.json()


def routes_of(board: dict) -> dict[str, list[str]]:
    return {t["technician"]: [s["visit"] for s in t["stops"]] for t in board["technicians"]}


def as_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def open_visit(session: Session, world: World, customer: int) -> Visit:
    """A new visit open all Friday at the world's ``customer``-th site, on its contract."""
    site = session.exec(select(Site).where(Site.code == world.sites[customer])).one()
    contract = session.exec(select(Contract).where(Contract.code == world.contracts[customer]))
    request = make_request(session, site=site, contract=contract.one())
    return make_visit(session, request=request, earliest_date=FRIDAY, due_date=FRIDAY, windows=[])


@dataclass
class Draft:
    id: int
    version: int
    # technician code -> (visit code, start, end, travel seconds) in route order
    routes: dict[str, list[tuple[str, datetime, datetime, int]]]
    left_out: str


@pytest.fixture(scope="module")
def draft(world: World) -> Draft:
    """A hand-made draft for Friday that swaps the two technicians' published routes, each in
    reverse order, an hour and a half apart from 10:00 Moscow; it leaves a new visit out."""

    def make(session: Session) -> Draft:
        region_id = session.exec(select(Technician.region_id)).first()
        codes = dict(session.exec(select(Technician.id, Technician.code)).all())
        ids = {code: id_ for id_, code in codes.items()}
        version = session.exec(
            select(sa.func.max(Plan.version)).where(Plan.starts_on == FRIDAY)
        ).one()
        plan = Plan.model_validate(
            {"region_id": region_id, "starts_on": FRIDAY, "version": version + 1}
        )
        session.add(plan)
        session.flush()
        other = {"T-TOM": "T-TIM", "T-TIM": "T-TOM"}
        routes: dict[str, list[tuple[str, datetime, datetime, int]]] = {}
        for tech, visits in world.routes.items():
            route = routes.setdefault(other[tech], [])
            for k, code in enumerate(reversed(visits)):
                visit = session.exec(select(Visit).where(Visit.code == code)).one()
                start = datetime(2026, 11, 27, 7, tzinfo=UTC) + timedelta(minutes=90 * k)
                route.append((code, start, start + timedelta(hours=1), 600 + k))
                session.add(
                    PlanStop(
                        plan_id=plan.id,  # type: ignore[arg-type]
                        visit_id=visit.id,  # type: ignore[arg-type]
                        technician_id=ids[other[tech]],
                        day=FRIDAY,
                        sequence=k,
                        arrival_at=start,
                        start_at=start,
                        end_at=start + timedelta(hours=1),
                        travel_seconds=600 + k,
                        travel_metres=5000 + k,
                    )
                )
        waiting = open_visit(session, world, 0)
        session.add(
            PlanUnassigned(
                plan_id=plan.id,  # type: ignore[arg-type]
                visit_id=waiting.id,  # type: ignore[arg-type]
                reason="no_capacity",
                detail="made by hand",
            )
        )
        # The first published stop of Tom needs a skill, to see it on both boards.
        skill = make_skill(session, code="hvac")
        first = session.exec(select(Visit).where(Visit.code == world.routes["T-TOM"][0])).one()
        session.add(VisitSkill(visit_id=first.id, skill_id=skill.id, min_level=3))  # type: ignore[arg-type]
        session.flush()
        return Draft(plan.id, plan.version, routes, waiting.code)  # type: ignore[arg-type]

    return in_session(world, make)


def test_without_a_plan_the_board_and_map_show_the_routes_in_force_and_name_no_plan(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    board = ok(day_of(client, headers, world, "board"))
    assert board["shows_plan"] is None
    assert routes_of(board) == world.routes
    geo = ok(day_of(client, headers, world, "routes.geojson"))
    assert geo["shows_plan"] is None
    points = {
        f["properties"]["visit"]: f["properties"]["technician"]
        for f in geo["features"]
        if f["properties"]["kind"] == "stop"
    }
    assert points == {v: tech for tech, visits in world.routes.items() for v in visits}


def test_a_draft_shows_its_own_stops_and_times_and_leaves_the_visits_as_they_are(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    in_force = ok(day_of(client, headers, world, "board"))
    preview = ok(day_of(client, headers, world, "board", plan=draft.id))
    assert preview["shows_plan"] == {
        "id": draft.id,
        "version": draft.version,
        "status": "draft",
        "starts_on": FRIDAY.isoformat(),
        "days": 1,
    }
    assert routes_of(preview) == {t: [x[0] for x in r] for t, r in draft.routes.items()}
    assert routes_of(preview) != routes_of(in_force)
    for tech in preview["technicians"]:
        expected = draft.routes[tech["technician"]]
        stops = tech["stops"]
        assert [s["sequence"] for s in stops] == list(range(len(stops)))
        assert [
            (s["visit"], as_time(s["planned_start"]), as_time(s["planned_end"])) for s in stops
        ] == [x[:3] for x in expected]
        assert [s["travel_seconds"] for s in stops] == [x[3] for x in expected]
        # The visits' own state is current: still scheduled as the published plan put them.
        assert {s["status"] for s in stops} == {"scheduled"}
        assert tech["totals"]["work_minutes"] == 60 * len(stops)
        assert tech["totals"]["travel_seconds"] > sum(s["travel_seconds"] for s in stops)
    # Looking at the draft changed nothing: the routes in force read back the same.
    assert ok(day_of(client, headers, world, "board")) == in_force


def test_the_map_of_a_draft_follows_the_draft(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    geo = ok(day_of(client, headers, world, "routes.geojson", plan=draft.id))
    assert geo["shows_plan"]["id"] == draft.id
    stops = {
        f["properties"]["visit"]: f["properties"]
        for f in geo["features"]
        if f["properties"]["kind"] == "stop"
    }
    for tech, route in draft.routes.items():
        for k, (visit, start, _, _) in enumerate(route):
            assert stops[visit]["technician"] == tech
            assert stops[visit]["sequence"] == k
            assert as_time(stops[visit]["planned_start"]) == start
    lines = [f for f in geo["features"] if f["properties"]["kind"] == "route"]
    assert {f["properties"]["technician"]: f["properties"]["stops"] for f in lines} == {
        tech: len(route) for tech, route in draft.routes.items()
    }


def test_stops_name_the_skills_they_need(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    skilled = world.routes["T-TOM"][0]
    for params in ({}, {"plan": draft.id}):
        board = ok(day_of(client, headers, world, "board", **params))
        skills = {s["visit"]: s["skills"] for t in board["technicians"] for s in t["stops"]}
        assert skills.pop(skilled) == {"hvac": 3}
        assert set(map(len, skills.values())) == {0}


def test_unassigned_visits_carry_their_tier_and_revision(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    for params in ({}, {"plan": draft.id}):
        body = ok(day_of(client, headers, world, "unassigned", **params))
        assert body["plan"]["id"] == draft.id  # the newest plan of Friday
        (item,) = body["items"]
        assert (item["visit"], item["reason"], item["tier"]) == (
            draft.left_out,
            "no_capacity",
            "gold",
        )
        visit = ok(client.get(f"/api/v1/visits/{draft.left_out}", headers=headers("dora")))
        assert item["revision"] == visit["revision"]


@pytest.fixture(scope="module")
def foreign_plan(world: World) -> int:
    """A plan of another region for Friday."""

    def make(session: Session) -> int:
        other = make_region(session, timezone="Europe/Moscow")
        plan = Plan.model_validate({"region_id": other.id, "starts_on": FRIDAY})
        session.add(plan)
        session.flush()
        return plan.id  # type: ignore[return-value]

    return in_session(world, make)


@pytest.mark.parametrize("what", ["board", "routes.geojson", "unassigned"])
def test_a_plan_of_another_region_or_of_another_day_is_refused_naming_the_field(
    client: TestClient, headers: Headers, world: World, draft: Draft, foreign_plan: int, what: str
) -> None:
    for plan, day, status, field, value in (
        (foreign_plan, FRIDAY, 404, "plan", foreign_plan),
        (2**31 - 1, FRIDAY, 404, "plan", 2**31 - 1),
        (draft.id, SATURDAY, 422, "date", SATURDAY.isoformat()),
    ):
        answer = day_of(client, headers, world, what, plan=plan, date=day.isoformat())
        assert answer.status_code == status, (plan, day, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        error = answer.json()["errors"][0]
        assert (error["field"], error["value"]) == (field, value)
    malformed = day_of(client, headers, world, what, plan=0)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "query.plan"


def test_an_optimised_draft_previews_the_routes_publishing_then_puts_in_force(
    client: TestClient, headers: Headers, world: World, draft: Draft
) -> None:
    """Runs last: it publishes a new plan for Friday."""
    staff = headers("dora")
    newcomer = in_session(world, lambda session: open_visit(session, world, 1).code)
    answer = client.post(
        "/api/v1/plans", json={"region": world.region, "starts_on": "2026-11-27"}, headers=staff
    )
    assert answer.status_code == 202, answer.text
    for _ in range(600):
        job = ok(client.get(answer.headers["Location"], headers=staff))
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded", job
    (plan_id,) = job["plan_ids"]

    def times(board: dict) -> dict[str, list[tuple[str, datetime]]]:
        return {
            t["technician"]: [(s["visit"], as_time(s["planned_start"])) for s in t["stops"]]
            for t in board["technicians"]
        }

    preview = ok(day_of(client, headers, world, "board", plan=plan_id))
    assert preview["shows_plan"]["status"] == "draft"
    before = ok(day_of(client, headers, world, "board"))
    assert newcomer in {v for route in routes_of(preview).values() for v in route}
    assert newcomer not in {v for route in routes_of(before).values() for v in route}

    published = client.post(f"/api/v1/plans/{plan_id}/publish", headers=staff)
    assert published.status_code == 200, published.text
    after = ok(day_of(client, headers, world, "board"))
    assert after["shows_plan"] is None
    assert times(after) == times(preview)
    again = ok(day_of(client, headers, world, "board", plan=plan_id))
    assert again["shows_plan"]["status"] == "published"
    assert times(again) == times(preview)
