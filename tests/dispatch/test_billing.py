"""T&M billing from the database: visits completed in the period, time split in the order the
ledger drew it, and the `dispatch billing export` command."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from dispatch import db, ledger
from dispatch.billing import billing_lines, contract_by_code, contract_period
from dispatch.cli import app
from dispatch.models import Contract, Site, TimeEntryKind, Triage, Visit, VisitStatus
from schedules.billing import BLOCKED_NOTE, COVERED, CSV_HEADER, LABOUR, MATERIAL, TRAVEL, totals
from schedules.errors import InvalidError, NotFoundError
from schedules.models import ContractKind, OveragePolicy
from tests.conftest import new_database
from tests.factories import (
    make_completed_visit,
    make_contract,
    make_customer,
    make_material,
    make_region,
    make_request,
    make_site,
    make_time_entry,
)

runner = CliRunner()
# 10 November 2026, 10:00 in Moscow (UTC+3).
NOV_10 = datetime(2026, 11, 10, 7, 0, tzinfo=UTC)
TM = {
    "kind": ContractKind.time_and_materials,
    "sla_response_hours": None,
    "quota_period": None,
    "quota_hours": None,
    "quota_onsite_days": None,
    "hourly_rate_cents": 300_000,
}
PREPAID = TM | {"kind": ContractKind.prepaid_hours, "prepaid_hours": 5}


def contract_at_site(session: Session, **contract: Any) -> tuple[Site, Contract]:
    """A contract of a customer whose site is in Moscow, so periods turn over there."""
    customer = make_customer(session)
    site = make_site(session, customer=customer, region=make_region(session))
    return site, make_contract(session, customer=customer, **contract)


def done_visit(
    session: Session,
    site: Site,
    contract: Contract,
    start: datetime,
    work: int,
    travel: int = 0,
    *,
    record: bool = True,
) -> Visit:
    """A completed visit: ``travel`` minutes on the way, then ``work`` minutes on site, each
    reported and (with ``record``) fed to the quota ledger as the field app would."""
    request = make_request(session, site=site, contract=contract, registered_at=start)
    visit = make_completed_visit(
        session, request=request, actual_start=start, duration_minutes=work
    )
    entries = []
    if travel:
        entries.append(
            make_time_entry(
                session,
                visit=visit,
                kind=TimeEntryKind.travel,
                started_at=start - timedelta(minutes=travel),
                minutes=travel,
            )
        )
    entries.append(make_time_entry(session, visit=visit, started_at=start, minutes=work))
    if record:
        for entry in entries:
            ledger.record_time_entry(session, entry)
    return visit


def lines_of(session: Session, contract: Contract, label: str = "2026-11") -> list:
    return billing_lines(session, contract, contract_period(session, contract, label))


def test_time_and_materials_bill_work_travel_and_billable_parts(session: Session) -> None:
    site, contract = contract_at_site(session, **TM, include_travel=True)
    visit = done_visit(session, site, contract, NOV_10, work=90, travel=30)
    make_material(session, visit=visit, quantity=2, unit_price_cents=850_000)
    make_material(session, visit=visit, sku="SCREW", description="Screws", billable=False)
    lines = lines_of(session, contract)
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in lines] == [
        (LABOUR, "1.50", 450_000),
        (TRAVEL, "0.50", 150_000),
        (MATERIAL, "2 pcs", 1_700_000),
    ]
    assert {(ln.visit_code, ln.completed_at, ln.period) for ln in lines} == {
        (visit.code, NOV_10 + timedelta(minutes=90), "2026-11")
    }
    (total,) = totals(lines)
    assert (total.labour_cents, total.travel_cents, total.total_cents) == (
        450_000,
        150_000,
        2_300_000,
    )


def test_time_and_materials_without_include_travel_bill_no_travel(session: Session) -> None:
    site, contract = contract_at_site(session, **TM)
    done_visit(session, site, contract, NOV_10, work=90, travel=30)
    assert [(ln.kind, ln.amount_cents) for ln in lines_of(session, contract)] == [(LABOUR, 450_000)]


def test_only_visits_completed_in_the_period_are_billed(session: Session) -> None:
    """The month runs from Moscow's midnight: a visit done at 23:30 local on 30 November is
    November's, one done 30 minutes later is December's; unfinished visits wait."""
    site, contract = contract_at_site(session, **TM)
    last_evening = datetime(2026, 11, 30, 19, 30, tzinfo=UTC)
    november = done_visit(session, site, contract, last_evening, work=60)
    december = done_visit(session, site, contract, last_evening + timedelta(minutes=30), work=60)
    ongoing = done_visit(session, site, contract, NOV_10, work=60)
    ongoing.status = VisitStatus.on_site
    session.add(ongoing)
    session.flush()
    assert {ln.visit_code for ln in lines_of(session, contract)} == {november.code}
    assert {ln.visit_code for ln in lines_of(session, contract, "2026-12")} == {december.code}


@pytest.mark.parametrize("policy", list(OveragePolicy))
def test_a_prepaid_block_running_out_mid_visit_splits_its_minutes(
    session: Session, policy: OveragePolicy
) -> None:
    """5 hours prepaid, 4 used in October: of a 3-hour visit in November 1 hour is covered
    and 2 are over, billed at the rate under bill_as_tm and shown unbilled under block."""
    site, contract = contract_at_site(session, **PREPAID, overage_policy=policy)
    done_visit(session, site, contract, datetime(2026, 10, 15, 7, 0, tzinfo=UTC), work=240)
    done_visit(session, site, contract, NOV_10, work=180)
    october = lines_of(session, contract, "2026-10")
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in october] == [(COVERED, "4.00", 0)]
    covered, over = lines_of(session, contract)
    assert (covered.kind, covered.quantity, covered.amount_cents) == (COVERED, "1.00", 0)
    assert (over.kind, over.quantity) == (LABOUR, "2.00")
    if policy is OveragePolicy.bill_as_tm:
        assert (over.unit_price_cents, over.amount_cents) == (300_000, 600_000)
    else:
        assert (over.unit_price_cents, over.amount_cents) == (0, 0)
        assert BLOCKED_NOTE in over.description
    (total,) = totals([covered, over])
    assert (total.minutes_covered, total.minutes_billed + total.minutes_unbilled) == (60, 120)


def test_managed_contract_within_quota_bills_only_parts(session: Session) -> None:
    """Time inside the quota shows as covered lines at 0; travel the contract does not count
    is not shown; billable parts are billed, the rest are part of the fee."""
    site, contract = contract_at_site(session)
    visit = done_visit(session, site, contract, NOV_10, work=120, travel=45)
    make_material(session, visit=visit, unit_price_cents=850_000)
    make_material(session, visit=visit, sku="CBL", description="Patch cable", billable=False)
    lines = lines_of(session, contract)
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in lines] == [
        (COVERED, "2.00", 0),
        (MATERIAL, "1 pcs", 850_000),
    ]


def test_remote_time_drawn_first_moves_where_the_quota_runs_out(session: Session) -> None:
    """A 2-hour monthly quota: an hour resolved remotely earlier in November leaves one hour
    for the visit's 90 minutes, so 30 minutes are billed."""
    site, contract = contract_at_site(
        session, quota_hours=2, overage_policy=OveragePolicy.bill_as_tm, include_remote=True
    )
    remote = make_request(
        session,
        site=site,
        contract=contract,
        registered_at=NOV_10 - timedelta(days=2),
        triage=Triage.resolved_remotely,
        resolved_at=NOV_10 - timedelta(days=2) + timedelta(hours=1),
        remote_minutes=60,
    )
    assert ledger.record_remote_resolution(session, remote) is not None
    done_visit(session, site, contract, NOV_10, work=90)
    lines = lines_of(session, contract)
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in lines] == [
        (COVERED, "1.00", 0),
        (LABOUR, "0.50", 150_000),
    ]


def test_a_managed_quota_starts_afresh_each_month(session: Session) -> None:
    site, contract = contract_at_site(
        session, quota_hours=2, overage_policy=OveragePolicy.bill_as_tm
    )
    done_visit(session, site, contract, datetime(2026, 10, 20, 7, 0, tzinfo=UTC), work=150)
    done_visit(session, site, contract, NOV_10, work=60)
    assert [ln.kind for ln in lines_of(session, contract, "2026-10")] == [COVERED, LABOUR]
    assert [(ln.kind, ln.quantity) for ln in lines_of(session, contract)] == [(COVERED, "1.00")]


def test_travel_counted_by_a_managed_contract_is_drawn_before_the_work(session: Session) -> None:
    """Travel comes first on the timesheet, so it takes the last of the quota."""
    site, contract = contract_at_site(
        session, quota_hours=1, include_travel=True, overage_policy=OveragePolicy.bill_as_tm
    )
    done_visit(session, site, contract, NOV_10, work=60, travel=30)
    lines = lines_of(session, contract)
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in lines] == [
        (COVERED, "0.50", 0),
        (LABOUR, "0.50", 150_000),
        (COVERED, "0.50", 0),
    ]


def test_time_missing_from_the_ledger_is_billed_as_if_it_had_been_drawn(
    session: Session,
) -> None:
    site, contract = contract_at_site(
        session, quota_hours=1, overage_policy=OveragePolicy.bill_as_tm
    )
    done_visit(session, site, contract, NOV_10, work=90, record=False)
    assert [(ln.kind, ln.quantity) for ln in lines_of(session, contract)] == [
        (COVERED, "1.00"),
        (LABOUR, "0.50"),
    ]


def test_contract_lookups_name_the_value_at_fault(session: Session) -> None:
    _, contract = contract_at_site(session)
    assert contract_by_code(session, contract.code).id == contract.id
    with pytest.raises(NotFoundError) as caught:
        contract_by_code(session, "NO-SUCH")
    assert (caught.value.field, caught.value.value) == ("contract", "NO-SUCH")
    with pytest.raises(InvalidError):
        contract_period(session, contract, "2026-13")
    period = contract_period(session, contract, "2026-11")
    assert period.starts_at == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def billed(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A migrated database (URL) holding one T&M contract (code) with a visit in November."""
    url, drop = new_database(backend, tmp_path_factory.mktemp(f"billing-{backend}"))
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            with db.transaction(engine) as session:
                site, contract = contract_at_site(session, **TM, include_travel=True)
                visit = done_visit(session, site, contract, NOV_10, work=90, travel=30)
                make_material(session, visit=visit, description='Toner, "black"\nXL')
                code = contract.code
        finally:
            engine.dispose()
        yield url, code
    finally:
        drop()


def test_cli_export_writes_the_csv_file(billed: tuple[str, str], tmp_path: Path) -> None:
    url, code = billed
    out = tmp_path / "bill.csv"
    args = ["billing", "export", "--contract", code, "--period", "2026-11", "--out", str(out)]
    result = runner.invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, result.output
    assert "wrote 3 lines" in result.output
    with out.open(newline="", encoding="utf-8") as file:
        rows = [dict(zip(CSV_HEADER, row, strict=True)) for row in list(csv.reader(file))[1:]]
    assert [(r["kind"], r["amount"]) for r in rows] == [
        (LABOUR, "4500.00"),
        (TRAVEL, "1500.00"),
        (MATERIAL, "8500.00"),
    ]
    assert rows[2]["description"] == 'CF226A: Toner, "black"\nXL'


def test_cli_export_prints_csv_without_out(billed: tuple[str, str]) -> None:
    url, code = billed
    args = ["billing", "export", "--contract", code, "--period", "2026-11"]
    result = runner.invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 4


def test_cli_export_refuses_an_unknown_contract(billed: tuple[str, str]) -> None:
    url, _ = billed
    args = ["billing", "export", "--contract", "NO-SUCH", "--period", "2026-11"]
    result = runner.invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 2
    assert "--contract 'NO-SUCH' is not a known contract code" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("period", ["2026-13", "November"])
def test_cli_export_refuses_a_malformed_period(billed: tuple[str, str], period: str) -> None:
    url, code = billed
    args = ["billing", "export", "--contract", code, "--period", period]
    result = runner.invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 2
    assert f"--period {period!r} is not a month like 2026-11" in result.output
    assert "Traceback" not in result.output
