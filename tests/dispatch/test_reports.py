"""Quota and SLA reports per contract and period, and `dispatch report quotas`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from dispatch import cli, db, ledger
from dispatch.billing import contract_period
from dispatch.models import (
    Contract,
    Plan,
    PlanStatus,
    PlanStop,
    Region,
    ServiceRequest,
    Triage,
    Visit,
)
from dispatch.reports import CSV_HEADER, contract_report, report, to_csv
from schedules.models import OveragePolicy, QuotaPeriod
from schedules.periods import Period
from tests.conftest import new_database
from tests.dispatch.test_billing import NOV_10, TM, contract_at_site, done_visit
from tests.factories import make_completed_visit, make_request, make_technician, make_visit

runner = CliRunner()
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def publish_plan(
    session: Session, region_id: int, stops: list[tuple[Visit, datetime, int]]
) -> Plan:
    """A published plan with one stop per (visit, start, minutes), fed to the ledger."""
    plan = Plan(
        region_id=region_id,
        starts_on=stops[0][1].date(),
        status=PlanStatus.published,
        published_at=NOW,
    )
    session.add(plan)
    session.flush()
    tech = make_technician(session)
    for n, (visit, start, minutes) in enumerate(stops):
        session.add(
            PlanStop(
                plan_id=plan.id,
                visit_id=visit.id,
                technician_id=tech.id,
                day=start.date(),
                sequence=n,
                arrival_at=start,
                start_at=start,
                end_at=start + timedelta(minutes=minutes),
            )
        )
    session.flush()
    ledger.record_plan(session, plan)
    return plan


def november(session: Session, contract: Contract) -> Period:
    return contract_period(session, contract, "2026-11")


def test_a_quota_overrun_by_actual_time_shows_negative_remaining_and_overage(
    session: Session,
) -> None:
    """2 hours a month; 3 hours worked and 1 more planned: 2 hours short, 1 hour over now and
    2 once the plan is done, the hour over billed at 3,000.00 under bill_as_tm."""
    site, contract = contract_at_site(
        session, quota_hours=2, quota_onsite_days=5, overage_policy=OveragePolicy.bill_as_tm
    )
    done_visit(session, site, contract, NOV_10, work=180)
    later = make_visit(
        session,
        request=make_request(session, site=site, contract=contract),
        earliest_date=date(2026, 11, 24),
        due_date=date(2026, 11, 24),
        windows=[],
    )
    publish_plan(session, site.region_id, [(later, datetime(2026, 11, 24, 7, tzinfo=UTC), 60)])
    found = contract_report(session, contract, november(session, contract), now=NOW)
    assert (found.quota, found.actual, found.planned, found.remaining) == (120, 180, 60, -120)
    assert (found.overage, found.forecast_overage, found.overage_cents) == (60, 120, 300_000)
    assert (found.quota_days, found.days_used, found.days_planned, found.days_remaining) == (
        5,
        1,
        1,
        3,
    )
    assert (found.contract_code, found.period, found.kind) == (contract.code, "2026-11", "managed")


def test_a_prepaid_block_carries_what_earlier_months_drew(session: Session) -> None:
    site, contract = contract_at_site(
        session,
        kind="prepaid_hours",
        prepaid_hours=5,
        sla_response_hours=None,
        quota_period=None,
        quota_hours=None,
        quota_onsite_days=None,
    )
    done_visit(session, site, contract, datetime(2026, 10, 15, 7, tzinfo=UTC), work=240)
    done_visit(session, site, contract, NOV_10, work=180)
    found = contract_report(session, contract, november(session, contract), now=NOW)
    assert (found.quota, found.carried, found.actual, found.remaining, found.overage) == (
        300,
        240,
        180,
        -120,
        120,
    )
    assert found.overage_cents == 0  # block policy


def test_sla_counts_one_request_in_each_state(session: Session) -> None:
    """At NOW: one response started before its deadline (met), one started after it
    (breached), one due within two hours (at risk), one due tomorrow (open). A cancelled
    request, one without a deadline and one registered in October are not counted."""
    site, contract = contract_at_site(session)

    def request(registered: datetime, due: datetime | None, **kw: object) -> ServiceRequest:
        return make_request(
            session, site=site, contract=contract, registered_at=registered, sla_due_at=due, **kw
        )

    morning = NOW - timedelta(hours=6)
    met = request(morning, NOW - timedelta(hours=1))
    make_completed_visit(session, request=met, actual_start=NOW - timedelta(hours=2))
    late = request(morning, NOW - timedelta(hours=3))
    make_completed_visit(session, request=late, actual_start=NOW - timedelta(hours=1))
    request(morning, NOW + timedelta(hours=1))
    request(morning, NOW + timedelta(days=1))
    request(morning, NOW - timedelta(hours=1), triage=Triage.cancelled)
    request(morning, None)
    request(datetime(2026, 10, 30, 9, tzinfo=UTC), NOW - timedelta(days=20))
    found = contract_report(session, contract, november(session, contract), now=NOW)
    assert (found.sla_met, found.sla_breached, found.sla_at_risk, found.sla_open) == (1, 1, 1, 1)


def test_a_remote_resolution_or_the_first_arrival_starts_the_response(session: Session) -> None:
    """Resolved remotely an hour before the deadline: met. Of two visits the first arrival
    counts: met, although the second came after the deadline."""
    site, contract = contract_at_site(session)
    registered, due = NOW - timedelta(hours=6), NOW - timedelta(hours=1)
    make_request(
        session,
        site=site,
        contract=contract,
        registered_at=registered,
        sla_due_at=due,
        triage=Triage.resolved_remotely,
        resolved_at=due - timedelta(hours=1),
        remote_minutes=20,
    )
    twice = make_request(
        session, site=site, contract=contract, registered_at=registered, sla_due_at=due
    )
    make_completed_visit(session, request=twice, actual_start=due + timedelta(minutes=30))
    make_completed_visit(session, request=twice, actual_start=due - timedelta(minutes=30))
    found = contract_report(session, contract, november(session, contract), now=NOW)
    assert (found.sla_met, found.sla_breached) == (2, 0)


def test_report_lists_the_contracts_active_in_the_period(session: Session) -> None:
    """Active: time drawn or a request registered in the period; with a region, only
    contracts of customers with a site there; weekly quotas stay out of a monthly report."""
    site, worked = contract_at_site(session)
    done_visit(session, site, worked, NOV_10, work=60)
    other, requested = contract_at_site(session)
    make_request(session, site=other, contract=requested, registered_at=NOV_10)
    quiet_site, quiet = contract_at_site(session)
    done_visit(session, quiet_site, quiet, datetime(2026, 10, 15, 7, tzinfo=UTC), work=60)
    weekly_site, weekly = contract_at_site(session, quota_period=QuotaPeriod.week)
    done_visit(session, weekly_site, weekly, NOV_10, work=60)
    codes = {r.contract_code for r in report(session, "2026-11", now=NOW)}
    assert {worked.code, requested.code} <= codes
    assert not {quiet.code, weekly.code} & codes
    region = session.get_one(Region, site.region_id)
    assert [r.contract_code for r in report(session, "2026-11", now=NOW, region=region)] == [
        worked.code
    ]
    weekly_region = session.get_one(Region, weekly_site.region_id)
    weeks = report(session, "2026-W46", now=NOW, region=weekly_region)
    assert [(r.contract_code, r.period, r.actual) for r in weeks] == [(weekly.code, "2026-W46", 60)]


def test_contracts_without_a_quota_show_their_slas_and_no_quota_figures(
    session: Session,
) -> None:
    """T&M time is on the bill, not drawn from a quota: blank rather than a misleading 0."""
    site, contract = contract_at_site(session, **TM)
    done_visit(session, site, contract, NOV_10, work=60)
    make_request(session, site=site, contract=contract, registered_at=NOV_10, sla_due_at=NOW)
    (found,) = [r for r in report(session, "2026-11", now=NOW) if r.contract_code == contract.code]
    assert (found.quota, found.remaining, found.sla_met) == (None, None, 0)
    row = dict(zip(CSV_HEADER, list(csv.reader(io.StringIO(to_csv([found]))))[1], strict=True))
    assert (row["quota_hours"], row["actual_hours"], row["remaining_hours"]) == ("", "", "")
    assert (row["kind"], row["sla_at_risk"]) == ("time_and_materials", "1")


@pytest.fixture(scope="module")
def reported(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A migrated database (URL) with one managed contract (code) 1 hour over its quota."""
    url, drop = new_database(backend, tmp_path_factory.mktemp(f"reports-{backend}"))
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            with db.transaction(engine) as session:
                site, contract = contract_at_site(session, quota_hours=2)
                done_visit(session, site, contract, NOV_10, work=180)
                code = contract.code
        finally:
            engine.dispose()
        yield url, code
    finally:
        drop()


def test_cli_report_quotas_as_csv(reported: tuple[str, str]) -> None:
    url, code = reported
    result = runner.invoke(
        cli.app, ["--database-url", url, "report", "quotas", "--period", "2026-11", "--csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    (row,) = [dict(zip(CSV_HEADER, r, strict=True)) for r in rows[1:]]
    assert (row["contract_code"], row["quota_hours"], row["actual_hours"]) == (code, "2.00", "3.00")
    assert (row["remaining_hours"], row["overage_hours"]) == ("-1.00", "1.00")


def test_cli_report_quotas_as_a_table(
    reported: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, code = reported
    # The console measured a non-terminal as 80 columns wide when the module was imported.
    monkeypatch.setattr(cli.console, "width", 160)
    result = runner.invoke(
        cli.app, ["--database-url", url, "report", "quotas", "--period", "2026-11"]
    )
    assert result.exit_code == 0, result.output
    assert code in result.output
    assert "-1.00" in result.output


def test_cli_report_quotas_refuses_a_malformed_period(reported: tuple[str, str]) -> None:
    url, _ = reported
    result = runner.invoke(
        cli.app, ["--database-url", url, "report", "quotas", "--period", "2026/11"]
    )
    assert result.exit_code == 2
    assert "--period '2026/11' is not a month" in result.output


def test_cli_report_quotas_says_when_nothing_happened(reported: tuple[str, str]) -> None:
    url, _ = reported
    result = runner.invoke(
        cli.app, ["--database-url", url, "report", "quotas", "--period", "2025-01"]
    )
    assert result.exit_code == 0, result.output
    assert "no contract has activity in 2025-01" in result.output
