"""Quota periods and quota arithmetic: where a period turns over, what is used, planned and
left, and where a prepaid block runs out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schedules.models import (
    Contract,
    ContractKind,
    EntryKind,
    OveragePolicy,
    QuotaEntry,
    QuotaPeriod,
    Tier,
)
from schedules.periods import period_of, period_of_day, periods_between
from schedules.quotas import minutes_cost, split, status

MOSCOW, BERLIN = "Europe/Moscow", "Europe/Berlin"


def contract(**overrides: Any) -> Contract:
    values = {
        "id": 1,
        "code": "C-1",
        "customer_id": 1,
        "name": "Managed",
        "kind": ContractKind.managed,
        "tier": Tier.gold,
        "sla_response_hours": 8,
        "quota_period": QuotaPeriod.month,
        "quota_hours": 10,
        "quota_onsite_days": 3,
        "overage_policy": OveragePolicy.block,
        "hourly_rate_cents": 300_000,
        "valid_from": date(2026, 1, 1),
    } | overrides
    return Contract.model_validate(values)


def entry(at: datetime, minutes: int, kind: EntryKind = EntryKind.actual, **kw: Any) -> QuotaEntry:
    day = kw.pop("onsite_day", at.astimezone(UTC).date() if kind is not EntryKind.remote else None)
    return QuotaEntry(
        contract_id=1, kind=kind, minutes=minutes, occurred_at=at, onsite_day=day, **kw
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_moscow_month_turns_over_at_local_midnight_to_the_minute() -> None:
    # Moscow is UTC+3 all year: 1 December 00:00 local is 30 November 21:00 UTC.
    last_minute = utc(2026, 11, 30, 20, 59)
    assert period_of(last_minute, "month", MOSCOW).label == "2026-11"
    assert period_of(last_minute + timedelta(minutes=1), "month", MOSCOW).label == "2026-12"
    november = period_of_day(date(2026, 11, 15), "month", MOSCOW)
    assert (november.starts_at, november.ends_at) == (utc(2026, 10, 31, 21), utc(2026, 11, 30, 21))
    # An entry in the last minute counts in November, one a minute later in December.
    entries = [entry(last_minute, 60), entry(last_minute + timedelta(minutes=1), 30)]
    assert status(contract(), november, entries).actual == 60
    assert status(contract(), november.next(MOSCOW), entries).actual == 30


def test_berlin_periods_across_both_daylight_saving_changes() -> None:
    march = period_of_day(date(2026, 3, 10), "month", BERLIN)
    # Starts at 00:00 CET (UTC+1), ends at 00:00 CEST (UTC+2): 743 hours, not 744.
    assert march.starts_at == utc(2026, 2, 28, 23)
    assert march.ends_at == utc(2026, 3, 31, 22)
    assert march.ends_at - march.starts_at == timedelta(hours=743)
    october_week = period_of_day(date(2026, 10, 25), "week", BERLIN)
    assert october_week.label == "2026-W43"
    assert october_week.ends_at - october_week.starts_at == timedelta(hours=169)


def test_weeks_are_iso_weeks_in_local_time() -> None:
    # Sunday 23:30 in Moscow is still the week that began on Monday.
    sunday_late = utc(2026, 11, 29, 20, 30)
    week = period_of(sunday_late, QuotaPeriod.week, MOSCOW)
    assert (week.starts_on, week.ends_on, week.label) == (
        date(2026, 11, 23),
        date(2026, 11, 30),
        "2026-W48",
    )
    spans = periods_between(date(2026, 11, 28), date(2026, 12, 2), "week", MOSCOW)
    assert [p.label for p in spans] == ["2026-W48", "2026-W49"]


def test_quota_exactly_at_its_limit_is_exhausted_but_not_over() -> None:
    november = period_of_day(date(2026, 11, 1), "month", MOSCOW)
    entries = [entry(utc(2026, 11, 10, 9), 420), entry(utc(2026, 11, 11, 9), 180)]
    found = status(contract(), november, entries)
    assert (found.actual, found.remaining, found.overage) == (600, 0, 0)
    assert found.exhausted


def test_planned_minutes_and_days_count_until_done() -> None:
    november = period_of_day(date(2026, 11, 1), "month", MOSCOW)
    entries = [
        entry(utc(2026, 11, 10, 9), 120),
        entry(utc(2026, 11, 12, 9), 90, EntryKind.planned, visit_id=7),
        entry(utc(2026, 11, 13, 9), 60, EntryKind.planned, visit_id=8),
        # Visit 8's plan was replaced: the reversal cancels its minutes and its day.
        entry(utc(2026, 11, 13, 9), -60, EntryKind.planned, visit_id=8),
        entry(utc(2026, 11, 14, 9), 30, EntryKind.remote, request_id=3),
    ]
    found = status(contract(), november, entries)
    assert (found.actual, found.remote, found.planned) == (150, 30, 90)
    assert (found.remaining, found.forecast) == (600 - 240, 240)
    assert (found.days_used, found.days_planned, found.days_remaining) == (1, 1, 1)
    replanning = status(contract(), november, entries, excluding_visits={7})
    assert (replanning.planned, replanning.days_planned) == (0, 0)


def test_a_quota_overrun_by_actual_time() -> None:
    november = period_of_day(date(2026, 11, 1), "month", MOSCOW)
    entries = [entry(utc(2026, 11, d, 9), 240) for d in (2, 3, 4)]
    entries.append(entry(utc(2026, 11, 20, 9), 60, EntryKind.planned, visit_id=1))
    blocked = status(contract(), november, entries)
    assert (blocked.remaining, blocked.overage, blocked.forecast_overage) == (-180, 120, 180)
    assert blocked.days_remaining == -1
    assert blocked.overage_cents == 0
    billed = status(contract(overage_policy=OveragePolicy.bill_as_tm), november, entries)
    assert billed.overage_cents == 2 * 300_000


def test_prepaid_block_draws_down_across_periods_and_runs_out_mid_visit() -> None:
    block = contract(
        kind=ContractKind.prepaid_hours,
        quota_period=None,
        quota_hours=None,
        quota_onsite_days=None,
        sla_response_hours=None,
        prepaid_hours=5,
    )
    october = period_of_day(date(2026, 10, 1), "month", MOSCOW)
    entries = [entry(utc(2026, 10, 20, 9), 240), entry(utc(2026, 11, 3, 9), 180)]
    first = status(block, october, entries)
    assert (first.carried, first.actual, first.remaining) == (0, 240, 60)
    second = status(block, october.next(MOSCOW), entries)
    assert (second.carried, second.actual, second.remaining, second.overage) == (
        240,
        180,
        -120,
        120,
    )
    # The three-hour visit: one hour left on the block, two beyond it.
    assert split(300, 240, 180) == (60, 120)
    assert split(None, 0, 45) == (0, 45)
    assert split(300, 400, 30) == (0, 30)


def test_time_and_materials_has_no_quota() -> None:
    tm = contract(
        kind=ContractKind.time_and_materials,
        quota_period=None,
        quota_hours=None,
        quota_onsite_days=None,
        sla_response_hours=None,
    )
    found = status(tm, period_of_day(date(2026, 11, 1), "month", MOSCOW), [])
    assert (found.quota, found.remaining, found.days_remaining) == (None, None, None)


@pytest.mark.parametrize(
    ("minutes", "rate", "cents"),
    [(60, 300_000, 300_000), (1, 100, 2), (1, 90, 2), (1, 89, 1), (0, 500, 0), (90, 1, 2)],
)
def test_minutes_are_priced_to_the_nearest_cent(minutes: int, rate: int, cents: int) -> None:
    assert minutes_cost(minutes, rate) == cents
