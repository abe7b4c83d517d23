"""A small working world for API tests, one database per test module and backend: a region
with two technicians whose Friday routes are published, their accounts, a dispatcher and an
admin; plus a client and signed-in headers for any of them (tokens cached per module, since
hashing passwords is slow on purpose)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from dispatch import accounts, db
from dispatch.models import BusinessHours, Customer, Role, Urgency, Visit
from dispatch.planning import plan_region, publish
from dispatch.settings import Settings
from routing import SolveParams
from tests.conftest import new_database
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_user, make_working_technician

FRIDAY = date(2026, 11, 27)
PASSWORD = "a long enough test password"
PROBLEM = "application/problem+json"


@dataclass
class World:
    """What the module's database holds, by code."""

    url: str
    region: str
    # username -> technician code
    technicians: dict[str, str]
    # technician code -> codes of the visits on their Friday route
    routes: dict[str, list[str]]
    customers: list[str]
    contracts: list[str]
    sites: list[str]
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url, drop = new_database(backend, tmp_path_factory.mktemp("api"))
    db.upgrade(url)
    engine = db.make_engine(url)
    digest = accounts.hash_password(PASSWORD)
    with db.transaction(engine) as session:
        region = make_region(session, timezone="Europe/Moscow")
        # Business hours Mon-Fri 09:00-18:00, so business-hours SLA clocks can run.
        session.add_all(
            BusinessHours(region_id=region.id, weekday=d, opens_minute=540, closes_minute=1080)  # type: ignore[arg-type]
            for d in range(5)
        )
        tom = make_working_technician(session, region=region, code="T-TOM")
        tim = make_working_technician(session, region=region, code="T-TIM", home_lat=55.9)
        for username, role, tech in (
            ("tom", Role.technician, tom),
            ("tim", Role.technician, tim),
            ("dora", Role.dispatcher, None),
            ("ada", Role.admin, None),
        ):
            make_user(
                session,
                username=username,
                role=role,
                technician_id=tech.id if tech else None,
                password_hash=digest,
            )
        near, contract = customer_with_contract(session, region, quota_hours=100)
        far, other = customer_with_contract(session, region, quota_hours=100)
        far.lat = 55.9
        visits_for(session, near, contract, FRIDAY, [Urgency.normal] * 3)
        visits_for(session, far, other, FRIDAY, [Urgency.normal] * 3)
        publish(session, plan_region(session, region, FRIDAY, params=SolveParams.for_tests()).plan)
        routes: dict[str, list[str]] = {tom.code: [], tim.code: []}
        by_id = {tom.id: tom.code, tim.id: tim.code}
        for visit in session.exec(select(Visit).order_by(Visit.planned_start)):  # type: ignore[arg-type]
            if visit.technician_id is not None:
                routes[by_id[visit.technician_id]].append(visit.code)
        found = World(
            url=url,
            region=region.code,
            technicians={"tom": tom.code, "tim": tim.code},
            routes=routes,
            customers=[session.get_one(Customer, s.customer_id).code for s in (near, far)],
            contracts=[contract.code, other.code],
            sites=[near.code, far.code],
        )
    engine.dispose()
    yield found
    drop()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(database_url=world.url)), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def headers(client: TestClient, world: World) -> Callable[[str], dict[str, str]]:
    """Authorization headers of a signed-in user of the world."""

    def of(username: str) -> dict[str, str]:
        if username not in world.tokens:
            answer = client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            world.tokens[username] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {world.tokens[username]}"}

    return of
