"""T&M billing rules: time priced at the rate, quota minutes split where the quota runs out,
block and bill_as_tm overage, billable parts, totals and a CSV that survives any text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schedules.billing import (
    BLOCKED_NOTE,
    COVERED,
    CSV_HEADER,
    LABOUR,
    MATERIAL,
    TRAVEL,
    CompletedVisit,
    Material,
    TimeSplit,
    allocate,
    csv_row,
    hours,
    money,
    parse_period_label,
    to_csv,
    totals,
    visit_lines,
)
from schedules.errors import InvalidError
from schedules.models import Contract, ContractKind, OveragePolicy, QuotaPeriod, Tier

DONE = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TONER = Material("CF226A", "Toner cartridge", 2, "pcs", 850_000)


def contract(**overrides: Any) -> Contract:
    """Time and materials at 3,000.00 an hour unless overridden."""
    values = {
        "id": 1,
        "code": "TM-1",
        "customer_id": 1,
        "name": "Break-fix",
        "kind": ContractKind.time_and_materials,
        "tier": Tier.silver,
        "hourly_rate_cents": 300_000,
        "valid_from": date(2026, 1, 1),
    } | overrides
    return Contract.model_validate(values)


def prepaid(policy: OveragePolicy, **overrides: Any) -> Contract:
    return contract(
        code="PP-1",
        kind=ContractKind.prepaid_hours,
        prepaid_hours=5,
        overage_policy=policy,
        **overrides,
    )


def visit(**overrides: Any) -> CompletedVisit:
    values = {"visit_code": "V-1", "request_code": "SR-1", "completed_at": DONE} | overrides
    return CompletedVisit(**values)


def test_time_and_materials_bills_work_travel_and_parts_at_their_prices() -> None:
    lines = visit_lines(
        contract(include_travel=True),
        "2026-11",
        visit(work=TimeSplit(over=90), travel=TimeSplit(over=30), materials=(TONER,)),
    )
    assert [(ln.kind, ln.quantity, ln.unit_price_cents, ln.amount_cents) for ln in lines] == [
        (LABOUR, "1.50", 300_000, 450_000),
        (TRAVEL, "0.50", 300_000, 150_000),
        (MATERIAL, "2 pcs", 850_000, 1_700_000),
    ]
    assert {(ln.contract_code, ln.period, ln.visit_code, ln.currency) for ln in lines} == {
        ("TM-1", "2026-11", "V-1", "RUB")
    }


def test_travel_is_not_billed_unless_the_contract_includes_it() -> None:
    lines = visit_lines(
        contract(), "2026-11", visit(work=TimeSplit(over=90), travel=TimeSplit(over=30))
    )
    assert [ln.kind for ln in lines] == [LABOUR]


def test_minutes_are_priced_to_the_nearest_cent() -> None:
    """20 minutes at 1,000.01 an hour is 333.3367, billed as 333.34."""
    (line,) = visit_lines(
        contract(hourly_rate_cents=100_001), "2026-11", visit(work=TimeSplit(over=20))
    )
    assert (line.quantity, line.amount_cents) == ("0.33", 33_334)


def test_prepaid_overage_is_billed_at_the_rate_under_bill_as_tm() -> None:
    lines = visit_lines(
        prepaid(OveragePolicy.bill_as_tm), "2026-11", visit(work=TimeSplit(60, 120))
    )
    assert [(ln.kind, ln.quantity, ln.amount_cents, ln.billed) for ln in lines] == [
        (COVERED, "1.00", 0, False),
        (LABOUR, "2.00", 600_000, True),
    ]
    assert "prepaid block" in lines[0].description


def test_prepaid_overage_is_shown_unbilled_under_block() -> None:
    lines = visit_lines(prepaid(OveragePolicy.block), "2026-11", visit(work=TimeSplit(60, 120)))
    covered, over = lines
    assert (covered.kind, covered.amount_cents) == (COVERED, 0)
    assert (over.quantity, over.unit_price_cents, over.amount_cents) == ("2.00", 0, 0)
    assert BLOCKED_NOTE in over.description
    assert not over.billed


def test_managed_time_within_quota_is_covered_and_parts_are_still_billed() -> None:
    managed = contract(
        code="MG-1",
        kind=ContractKind.managed,
        sla_response_hours=8,
        quota_period=QuotaPeriod.month,
        quota_hours=40,
        quota_onsite_days=10,
        include_travel=True,
    )
    free = Material("CBL", "Patch cable", 1, "pcs", 50_000, billable=False)
    lines = visit_lines(
        managed,
        "2026-11",
        visit(work=TimeSplit(covered=120), travel=TimeSplit(covered=30), materials=(TONER, free)),
    )
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in lines] == [
        (COVERED, "2.00", 0),
        (COVERED, "0.50", 0),
        (MATERIAL, "2 pcs", 1_700_000),
    ]
    assert lines[0].description == "Work on site: covered by the quota"
    assert lines[1].description == "Travel: covered by the quota"


def test_allocate_splits_the_draw_during_which_the_block_runs_out() -> None:
    """A 5-hour block with 4 hours gone: the next 3-hour draw is 1 hour covered, 2 over, and
    everything after it is over; time that only uses up the quota (remote) moves the point."""
    assert allocate(300, [("a", 180), ("b", 30)], used_before=240) == {
        "a": TimeSplit(60, 120),
        "b": TimeSplit(0, 30),
    }
    assert allocate(300, [(None, 60), ("a", 180), ("b", 120)]) == {
        None: TimeSplit(60, 0),
        "a": TimeSplit(180, 0),
        "b": TimeSplit(60, 60),
    }


def test_allocate_without_a_quota_puts_everything_over() -> None:
    assert allocate(None, [("a", 90), ("a", 30)]) == {"a": TimeSplit(0, 120)}


def test_a_correction_gives_back_overage_before_covered_time() -> None:
    """270 of 240 minutes drawn, then 60 taken back: 30 fewer over and 30 fewer covered."""
    assert allocate(240, [("a", 270), ("a", -60)]) == {"a": TimeSplit(210, 0)}


def test_totals_add_up_per_contract_and_period() -> None:
    tm = visit_lines(
        contract(include_travel=True),
        "2026-11",
        visit(work=TimeSplit(over=90), travel=TimeSplit(over=30), materials=(TONER,)),
    )
    october = visit_lines(contract(), "2026-10", visit(work=TimeSplit(over=60)))
    block = visit_lines(prepaid(OveragePolicy.block), "2026-11", visit(work=TimeSplit(60, 120)))
    found = totals([*tm, *block, *october])
    assert [(t.contract_code, t.period) for t in found] == [
        ("PP-1", "2026-11"),
        ("TM-1", "2026-10"),
        ("TM-1", "2026-11"),
    ]
    pp, oct_, nov = found
    assert (pp.total_cents, pp.minutes_billed, pp.minutes_covered, pp.minutes_unbilled) == (
        0,
        0,
        60,
        120,
    )
    assert (oct_.labour_cents, oct_.total_cents, oct_.hours_billed) == (300_000, 300_000, "1.00")
    assert (nov.labour_cents, nov.travel_cents, nov.materials_cents) == (
        450_000,
        150_000,
        1_700_000,
    )
    assert (nov.total_cents, nov.hours_billed, nov.hours_covered) == (2_300_000, "2.00", "0.00")


def test_totals_refuse_two_currencies_in_one_contract_and_period() -> None:
    lines = visit_lines(contract(), "2026-11", visit(work=TimeSplit(over=60)))
    euros = visit_lines(contract(currency="EUR"), "2026-11", visit(work=TimeSplit(over=60)))
    with pytest.raises(InvalidError, match="both RUB and EUR"):
        totals([*lines, *euros])


def test_csv_round_trips_descriptions_with_commas_quotes_and_newlines() -> None:
    tricky = Material("X-1", 'Cable, "Cat 6"\nsecond line; 5 m', 3, "m", 12_345)
    lines = visit_lines(contract(), "2026-11", visit(work=TimeSplit(over=90), materials=(tricky,)))
    text = to_csv(lines)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    assert [tuple(row) for row in rows[1:]] == [csv_row(line) for line in lines]
    material = dict(zip(CSV_HEADER, rows[2], strict=True))
    assert material["description"] == 'X-1: Cable, "Cat 6"\nsecond line; 5 m'
    assert (material["quantity"], material["unit_price"], material["amount"]) == (
        "3 m",
        "123.45",
        "370.35",
    )
    assert material["amount_cents"] == "37035"
    labour = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert (labour["amount"], labour["completed_at"]) == ("4500.00", "2026-11-10T12:00:00+00:00")
    assert text.endswith("\r\n")


def test_an_empty_export_is_just_the_header() -> None:
    assert to_csv([]) == ",".join(CSV_HEADER) + "\r\n"


@pytest.mark.parametrize(
    ("minutes", "shown"), [(0, "0.00"), (1, "0.02"), (20, "0.33"), (90, "1.50"), (-30, "-0.50")]
)
def test_hours_have_two_decimals(minutes: int, shown: str) -> None:
    assert hours(minutes) == shown


@pytest.mark.parametrize(
    ("cents", "shown"), [(0, "0.00"), (5, "0.05"), (450_000, "4500.00"), (-50, "-0.50")]
)
def test_money_is_in_major_units_with_two_decimals(cents: int, shown: str) -> None:
    assert money(cents) == shown


def test_period_labels_name_a_month_or_an_iso_week() -> None:
    assert parse_period_label("2026-11") == (QuotaPeriod.month, date(2026, 11, 1))
    assert parse_period_label("2026-W48") == (QuotaPeriod.week, date(2026, 11, 23))


@pytest.mark.parametrize(
    "label", ["2026-13", "2026-00", "2026-W54", "2026-1", "nov", "", "2026-11 "]
)
def test_a_malformed_period_label_is_refused_with_its_value(label: str) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_period_label(label)
    assert (caught.value.field, caught.value.value) == ("period", label)
