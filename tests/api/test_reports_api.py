"""Dispatchers' reports over HTTP: quota reports as JSON and CSV that agree, the SLA board of
requests at risk or breached, a contract's billing exactly as the CLI exports it, and who may
read them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from dispatch import db
from dispatch.billing import billing_lines, contract_by_code, contract_period
from dispatch.models import Region, ServiceRequest, VisitStatus
from schedules.billing import hours, to_csv
from schedules.models import Tier
from tests.api.conftest import PROBLEM, World
from tests.dispatch.test_billing import NOV_10, TM, done_visit
from tests.factories import (
    make_contract,
    make_customer,
    make_material,
    make_region,
    make_request,
    make_site,
    make_visit,
)

Headers = Callable[[str], dict[str, str]]
REPORT = "/api/v1/reports/quotas"
BOARD = "/api/v1/sla/at-risk"


def billing_url(code: str) -> str:
    return f"/api/v1/contracts/{code}/billing"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Billed:
    contract: str
    visit: str


@pytest.fixture(scope="module")
def billed(world: World) -> Billed:
    """A T&M contract whose visit was completed on 10 November: 90 minutes of work, 30 of
    travel and two billable toner cartridges."""
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        region = session.exec(select(Region).where(Region.code == world.region)).one()
        customer = make_customer(session)
        site = make_site(session, customer=customer, region=region)
        contract = make_contract(session, customer=customer, **TM, include_travel=True)
        visit = done_visit(session, site, contract, NOV_10, work=90, travel=30)
        make_material(session, visit=visit, quantity=2)
        found = Billed(contract.code, visit.code)
    engine.dispose()
    return found


@dataclass
class Board:
    breached: str
    at_risk: str
    later: str
    visit: str


@pytest.fixture(scope="module")
def board(world: World) -> Board:
    """Three requests of a platinum contract at a site of the world's region: one overdue for
    an hour, one due in 30 minutes (with an unscheduled visit), one due in 5 hours."""
    now = datetime.now(UTC)
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        region = session.exec(select(Region).where(Region.code == world.region)).one()
        customer = make_customer(session)
        site = make_site(session, customer=customer, region=region, name="Server room")
        contract = make_contract(session, customer=customer, tier=Tier.platinum)

        def due_in(minutes: int) -> ServiceRequest:
            return make_request(
                session,
                site=site,
                contract=contract,
                registered_at=now - timedelta(hours=2),
                sla_due_at=now + timedelta(minutes=minutes),
            )

        breached, at_risk, later = due_in(-60), due_in(30), due_in(300)
        visit = make_visit(session, request=at_risk)
        found = Board(breached.code, at_risk.code, later.code, visit.code)
    engine.dispose()
    return found


def test_quota_report_as_json_and_as_csv_agree(
    client: TestClient, headers: Headers, world: World
) -> None:
    """The world's two contracts have Friday's published routes planned against their
    quotas; the CSV shows the same numbers in hours, by ?format=csv or by Accept."""
    answer = client.get(REPORT, params={"period": "2026-11"}, headers=headers("dora"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["period"] == "2026-11"
    by_code = {c["contract"]: c for c in report["contracts"]}
    assert set(world.contracts) <= set(by_code)
    assert all(by_code[code]["minutes"]["planned"] > 0 for code in world.contracts)

    as_csv = client.get(
        REPORT, params={"period": "2026-11", "format": "csv"}, headers=headers("dora")
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"].startswith("attachment;")
    rows = {row["contract_code"]: row for row in rows_of(as_csv.text)}
    assert set(rows) == set(by_code)
    for code, row in rows.items():
        shown = by_code[code]
        minutes = shown["minutes"]
        if minutes["quota"] is None:
            assert row["quota_hours"] == ""
        else:
            for name in ("quota", "actual", "planned", "remaining", "overage"):
                assert row[f"{name}_hours"] == hours(minutes[name]), (code, name)
        assert row["days_used"] == str(shown["onsite_days"]["used"])
        assert row["days_planned"] == str(shown["onsite_days"]["planned"])
        for state in ("met", "breached", "at_risk", "open"):
            assert row[f"sla_{state}"] == str(shown["sla"][state])

    by_accept = client.get(
        REPORT, params={"period": "2026-11"}, headers=headers("dora") | {"Accept": "text/csv"}
    )
    assert by_accept.headers["content-type"] == "text/csv; charset=utf-8"
    assert rows_of(by_accept.text) == rows_of(as_csv.text)


def test_a_browser_accept_header_still_gets_json(client: TestClient, headers: Headers) -> None:
    answer = client.get(
        REPORT,
        params={"period": "2026-11"},
        headers=headers("ada") | {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"


def test_quota_report_of_a_region_and_of_an_unknown_one(
    client: TestClient, headers: Headers, world: World
) -> None:
    mine = client.get(
        REPORT, params={"period": "2026-11", "region": world.region}, headers=headers("dora")
    )
    assert mine.status_code == 200
    assert set(world.contracts) <= {c["contract"] for c in mine.json()["contracts"]}
    unknown = client.get(
        REPORT, params={"period": "2026-11", "region": "NOWHERE"}, headers=headers("dora")
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0] | {"message": ""} == {
        "field": "region",
        "value": "NOWHERE",
        "message": "",
    }


@pytest.mark.parametrize("period", ["2026-13", "November", "2026-W54", "9999-12"])
def test_a_bad_period_is_refused_naming_it(
    client: TestClient, headers: Headers, world: World, period: str
) -> None:
    for url in (REPORT, billing_url(world.contracts[0])):
        answer = client.get(url, params={"period": period}, headers=headers("dora"))
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        (error,) = answer.json()["errors"]
        assert (error["field"], error["value"]) == ("period", period)


def test_technicians_may_not_read_reports_and_strangers_must_sign_in(
    client: TestClient, headers: Headers, world: World
) -> None:
    calls = [
        (REPORT, {"period": "2026-11"}),
        (BOARD, {"region": world.region}),
        (billing_url(world.contracts[0]), {"period": "2026-11"}),
    ]
    for url, params in calls:
        assert client.get(url, params=params, headers=headers("tom")).status_code == 403
        anonymous = client.get(url, params=params)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == PROBLEM


def test_billing_csv_is_exactly_what_the_cli_exports(
    client: TestClient, headers: Headers, world: World, billed: Billed
) -> None:
    """Labour, travel and parts of a completed T&M visit, byte for byte as
    dispatch.billing and schedules.billing.to_csv write them."""
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        contract = contract_by_code(session, billed.contract)
        lines = billing_lines(session, contract, contract_period(session, contract, "2026-11"))
    engine.dispose()
    assert [line.kind for line in lines] == ["labour", "travel", "material"]

    answer = client.get(
        billing_url(billed.contract),
        params={"period": "2026-11", "format": "csv"},
        headers=headers("dora"),
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert f"billing-{billed.contract}-2026-11.csv" in answer.headers["content-disposition"]
    assert answer.content == to_csv(lines).encode()


def test_billing_as_json_has_the_lines_and_their_totals(
    client: TestClient, headers: Headers, billed: Billed
) -> None:
    answer = client.get(
        billing_url(billed.contract), params={"period": "2026-11"}, headers=headers("ada")
    )
    assert answer.status_code == 200
    bill = answer.json()
    assert [(ln["kind"], ln["quantity"], ln["amount_cents"]) for ln in bill["lines"]] == [
        ("labour", "1.50", 450_000),
        ("travel", "0.50", 150_000),
        ("material", "2 pcs", 1_700_000),
    ]
    assert {ln["visit"] for ln in bill["lines"]} == {billed.visit}
    assert bill["totals"]["total_cents"] == 2_300_000
    assert bill["totals"]["minutes_billed"] == 120
    assert bill["currency"] == "RUB"


def test_a_period_without_completed_visits_bills_nothing(
    client: TestClient, headers: Headers, billed: Billed
) -> None:
    answer = client.get(
        billing_url(billed.contract), params={"period": "2026-W40"}, headers=headers("dora")
    )
    assert answer.status_code == 200
    assert answer.json()["lines"] == []
    assert answer.json()["totals"]["total_cents"] == 0


def test_billing_of_an_unknown_contract_is_404(client: TestClient, headers: Headers) -> None:
    answer = client.get(
        billing_url("NO-SUCH"), params={"period": "2026-11"}, headers=headers("dora")
    )
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["value"] == "NO-SUCH"


def test_sla_board_lists_breached_and_at_risk_requests_with_their_context(
    client: TestClient, headers: Headers, world: World, board: Board
) -> None:
    answer = client.get(BOARD, params={"region": world.region}, headers=headers("dora"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [item["request"] for item in found["breached"]] == [board.breached]
    assert [item["request"] for item in found["at_risk"]] == [board.at_risk]
    late, soon = found["breached"][0], found["at_risk"][0]
    assert late["slack_minutes"] < 0 < soon["slack_minutes"] <= 30
    assert soon["tier"] == "platinum"
    assert soon["site_name"] == "Server room"
    assert soon["visits"] == [
        {
            "code": board.visit,
            "status": VisitStatus.unscheduled.value,
            "technician": None,
            "planned_start": None,
        }
    ]
    assert late["visits"] == []


def test_sla_board_looks_as_far_ahead_as_asked(
    client: TestClient, headers: Headers, world: World, board: Board
) -> None:
    answer = client.get(
        BOARD, params={"region": world.region, "within_minutes": 360}, headers=headers("dora")
    )
    assert [item["request"] for item in answer.json()["at_risk"]] == [board.at_risk, board.later]


def test_sla_board_of_an_unknown_region_is_refused(client: TestClient, headers: Headers) -> None:
    answer = client.get(BOARD, params={"region": "NOWHERE"}, headers=headers("dora"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "region"


def test_sla_board_of_another_region_leaves_these_requests_out(
    client: TestClient, headers: Headers, world: World, board: Board
) -> None:
    engine = db.make_engine(world.url)
    with db.transaction(engine) as session:
        other = make_region(session).code
    engine.dispose()
    answer = client.get(BOARD, params={"region": other}, headers=headers("dora"))
    assert answer.status_code == 200
    assert answer.json()["breached"] == answer.json()["at_risk"] == []
