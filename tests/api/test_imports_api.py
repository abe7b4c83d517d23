"""CSV imports over HTTP: all rows created or none with every failing row named, dry runs,
size and row limits that a missing or lying Content-Length cannot get around, and who may
import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from api.app import create_app
from dispatch import db
from dispatch.models import Region, ServiceRequest, Technician, Triage
from dispatch.settings import Settings
from schedules.models import Coverage
from tests.api.conftest import PROBLEM, World
from tests.factories import make_contract, make_customer, make_site, make_skill

Headers = Callable[[str], dict[str, str]]
CSV = {"Content-Type": "text/csv"}
HEADER = "code,name,region,home_lat,home_lon,email,phone,max_work_minutes,skills\r\n"


def url(kind: str) -> str:
    return f"/api/v1/imports/{kind}"


@dataclass
class Place:
    customer: str
    contract: str
    site: str


@pytest.fixture(scope="module")
def place(world: World) -> Place:
    """The skill network, and a customer with a site in the world's region and a 24x7
    contract (its SLA clock runs without business hours)."""
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        region = session.exec(select(Region).where(Region.code == world.region)).one()
        make_skill(session, code="network")
        customer = make_customer(session)
        site = make_site(session, customer=customer, region=region)
        contract = make_contract(
            session, customer=customer, coverage=Coverage.always, sla_response_hours=4
        )
        found = Place(customer.code, contract.code, site.code)
    engine.dispose()
    return found


@pytest.fixture
def small(world: World) -> Iterator[TestClient]:
    """A server taking bodies up to 2 KiB and imports up to 2 rows."""
    settings = Settings(database_url=world.url, max_upload_bytes=2048, max_import_rows=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def technicians(world: World, *rows: str) -> str:
    return HEADER + "".join(row.format(r=world.region) + "\r\n" for row in rows)


def stored(world: World, prefix: str) -> list[str]:
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        codes = session.exec(
            select(Technician.code)
            .where(col(Technician.code).startswith(prefix))
            .order_by(Technician.code)
        ).all()
    engine.dispose()
    return list(codes)


def test_three_good_technicians_are_created(
    client: TestClient, headers: Headers, world: World, place: Place
) -> None:
    data = technicians(
        world,
        "GOOD-1,Anna Volkova,{r},55.75,37.61,anna@example.com,,480,network:3",
        "GOOD-2,Boris Orlov,{r},55.80,37.50,,+7 495 000-00-00,360,",
        "GOOD-3,Vera Lis,{r},55.70,37.40,,,,network:5",
    )
    answer = client.post(url("technicians"), content=data, headers=headers("dora") | CSV)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "kind": "technicians",
        "dry_run": False,
        "rows": 3,
        "created": 3,
        "codes": ["GOOD-1", "GOOD-2", "GOOD-3"],
    }
    assert stored(world, "GOOD-") == ["GOOD-1", "GOOD-2", "GOOD-3"]


def test_a_file_with_two_bad_rows_names_both_and_creates_none(
    client: TestClient, headers: Headers, world: World, place: Place
) -> None:
    data = technicians(
        world,
        "MIXED-1,Anna Volkova,{r},55.75,37.61,,,,",
        "MIXED-2,Boris Orlov,{r},55.80,37.50,,,many,",
        "MIXED-3,Vera Lis,{r},55.70,37.40,,,,",
        "MIXED-4,Gleb Sokol,NOWHERE,55.70,37.40,,,,",
    )
    answer = client.post(url("technicians"), content=data, headers=headers("ada") | CSV)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    errors = answer.json()["errors"]
    assert [(e["row"], e["field"], e["value"]) for e in errors] == [
        (2, "max_work_minutes", "many"),
        (4, "region", "NOWHERE"),
    ]
    assert all(e["message"] for e in errors)
    assert stored(world, "MIXED-") == []


def test_a_dry_run_checks_the_rows_and_writes_nothing(
    client: TestClient, headers: Headers, world: World, place: Place
) -> None:
    data = technicians(world, "DRY-1,Anna Volkova,{r},55.75,37.61,,,,network:2")
    answer = client.post(
        url("technicians"),
        params={"dry_run": "true"},
        content=data,
        headers=headers("dora") | CSV,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "kind": "technicians",
        "dry_run": True,
        "rows": 1,
        "created": 0,
        "codes": [],
    }
    assert stored(world, "DRY-") == []


def test_a_body_over_the_limit_is_refused_whatever_its_content_length_says(
    small: TestClient, headers: Headers, world: World
) -> None:
    rows = [f"BIG-{n},Anna Volkova,{{r}},55.75,37.61,,,," for n in range(60)]
    big = technicians(world, *rows).encode()
    assert len(big) > 2048
    declared = small.post(url("technicians"), content=big, headers=headers("dora") | CSV)
    lying = small.post(
        url("technicians"),
        content=big,
        headers=headers("dora") | CSV | {"Content-Length": "100"},
    )
    chunks = (big[i : i + 512] for i in range(0, len(big), 512))
    undeclared = small.post(url("technicians"), content=chunks, headers=headers("dora") | CSV)
    for answer in (declared, lying, undeclared):
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"][0]["field"] == "body"
    assert stored(world, "BIG-") == []


def test_more_rows_than_allowed_is_refused(
    small: TestClient, headers: Headers, world: World
) -> None:
    data = technicians(world, *(f"MANY-{n},Anna,{{r}},55.75,37.61,,,," for n in range(3)))
    answer = small.post(url("technicians"), content=data, headers=headers("dora") | CSV)
    assert answer.status_code == 413
    assert (answer.json()["errors"][0]["field"], answer.json()["errors"][0]["value"]) == (
        "rows",
        3,
    )
    assert stored(world, "MANY-") == []


def test_a_missing_column_is_refused_naming_it(
    client: TestClient, headers: Headers, world: World
) -> None:
    data = f"code,name,region,home_lat\r\nCOL-1,Anna,{world.region},55.75\r\n"
    answer = client.post(url("technicians"), content=data, headers=headers("dora") | CSV)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["home_lon"]


def test_a_body_that_is_not_utf8_is_refused(client: TestClient, headers: Headers) -> None:
    answer = client.post(
        url("sites"), content=b"code,name\r\n\xff\xfe\r\n", headers=headers("dora") | CSV
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body"


def test_a_body_not_sent_as_csv_is_unsupported(
    client: TestClient, headers: Headers, world: World
) -> None:
    data = technicians(world, "JSON-1,Anna,{r},55.75,37.61,,,,")
    answer = client.post(
        url("technicians"),
        content=data,
        headers=headers("dora") | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 415
    assert stored(world, "JSON-") == []


def test_an_unknown_kind_is_refused(client: TestClient, headers: Headers) -> None:
    answer = client.post(url("contracts"), content="code\r\nX\r\n", headers=headers("dora") | CSV)
    assert answer.status_code == 422


def test_only_dispatchers_and_admins_may_import(
    client: TestClient, headers: Headers, world: World
) -> None:
    data = technicians(world, "TECH-1,Anna,{r},55.75,37.61,,,,")
    assert (
        client.post(url("technicians"), content=data, headers=headers("tom") | CSV).status_code
        == 403
    )
    assert client.post(url("technicians"), content=data, headers=CSV).status_code == 401
    assert stored(world, "TECH-") == []


def test_imported_requests_are_registered_through_intake(
    client: TestClient, headers: Headers, world: World, place: Place
) -> None:
    """Each request is pending with its SLA deadline: 4 hours around the clock from when it
    was registered, or from now when the file does not say."""
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    data = (
        "customer,contract,site,channel,contact_name,description,registered_at\r\n"
        f"{place.customer},{place.contract},{place.site},phone,Anna,Printer jams,"
        f"{at.isoformat()}\r\n"
        f"{place.customer},{place.contract},{place.site},email,Boris,Switch down,\r\n"
    )
    before = datetime.now(UTC)
    answer = client.post(url("requests"), content=data, headers=headers("dora") | CSV)
    assert answer.status_code == 201, answer.text
    codes = answer.json()["codes"]
    assert len(codes) == 2
    assert all(code.startswith("SR-") for code in codes)
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        first, second = (
            session.exec(select(ServiceRequest).where(ServiceRequest.code == code)).one()
            for code in codes
        )
        total = session.exec(
            select(func.count())
            .select_from(ServiceRequest)
            .where(ServiceRequest.contract_id == first.contract_id)
        ).one()
    engine.dispose()
    assert total == 2
    assert (first.triage, first.registered_at) == (Triage.pending, at)
    assert first.sla_due_at == at + timedelta(hours=4)
    assert second.sla_due_at is not None
    assert second.sla_due_at >= before + timedelta(hours=4)
