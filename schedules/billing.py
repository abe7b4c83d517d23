"""T&M billing rules: invoice lines of completed visits (time covered by a quota or billed at the
rate, billable materials), totals per contract and period, and their CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from schedules.errors import InvalidError
from schedules.models import Contract, ContractKind, OveragePolicy, QuotaPeriod
from schedules.quotas import minutes_cost, quota_minutes, split

LABOUR = "labour"
TRAVEL = "travel"
MATERIAL = "material"
COVERED = "covered"
LINE_KINDS = (LABOUR, TRAVEL, MATERIAL, COVERED)
BLOCKED_NOTE = "overage (not billed: block policy)"

CSV_HEADER = (
    "contract_code",
    "period",
    "visit_code",
    "request_code",
    "completed_at",
    "kind",
    "description",
    "quantity",
    "unit_price",
    "unit_price_cents",
    "amount",
    "amount_cents",
    "currency",
)

Key = TypeVar("Key", bound=Hashable)

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True, slots=True)
class BillingLine:
    """One invoice line. ``quantity`` is printed as on the invoice (hours "1.50", or "3 pcs");
    ``minutes`` is the time the line stands for (0 for materials)."""

    contract_code: str
    period: str
    visit_code: str
    request_code: str
    completed_at: datetime
    kind: str
    description: str
    quantity: str
    unit_price_cents: int
    amount_cents: int
    currency: str
    minutes: int = 0

    @property
    def billed(self) -> bool:
        """Time or parts charged at a price; covered and blocked time carry none."""
        return self.kind != COVERED and self.unit_price_cents > 0


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """Minutes within the quota (``covered``) and beyond it (``over``: all of them when the
    contract has no quota)."""

    covered: int = 0
    over: int = 0

    def __add__(self, other: TimeSplit) -> TimeSplit:
        return TimeSplit(self.covered + other.covered, self.over + other.over)


@dataclass(frozen=True, slots=True)
class Material:
    sku: str
    description: str
    quantity: int
    unit: str
    unit_price_cents: int
    billable: bool = True


@dataclass(frozen=True, slots=True)
class CompletedVisit:
    """What billing needs of a visit: its work and travel time, split at the quota, and parts."""

    visit_code: str
    request_code: str
    completed_at: datetime
    work: TimeSplit = TimeSplit()
    travel: TimeSplit = TimeSplit()
    materials: tuple[Material, ...] = ()


@dataclass(frozen=True, slots=True)
class BillingTotals:
    """What one contract is billed for one period, in cents of ``currency``."""

    contract_code: str
    period: str
    currency: str
    labour_cents: int
    travel_cents: int
    materials_cents: int
    total_cents: int
    minutes_billed: int
    minutes_covered: int
    # Overage a block policy leaves unbilled.
    minutes_unbilled: int

    @property
    def hours_billed(self) -> str:
        return hours(self.minutes_billed)

    @property
    def hours_covered(self) -> str:
        return hours(self.minutes_covered)


def allocate(
    limit: int | None, draws: Iterable[tuple[Key, int]], used_before: int = 0
) -> dict[Key, TimeSplit]:
    """Covered and over minutes of each ``(key, minutes)`` draw, drawn in order from a quota
    of ``limit`` minutes of which ``used_before`` is gone; a key drawn twice (a correction)
    adds up. Draws that only use up the quota (remote time) can share a throwaway key."""
    found: dict[Key, TimeSplit] = {}
    used = used_before
    for key, minutes in draws:
        if minutes >= 0:
            covered, over = split(limit, used, minutes)
        else:
            # A correction gives back from the top: what was over the quota first.
            covered = _within(limit, used + minutes) - _within(limit, used)
            over = minutes - covered
        found[key] = found.get(key, TimeSplit()) + TimeSplit(covered, over)
        used += minutes
    return found


def _within(limit: int | None, used: int) -> int:
    return 0 if limit is None else min(limit, max(0, used))


def visit_lines(contract: Contract, period_label: str, visit: CompletedVisit) -> list[BillingLine]:
    """The invoice lines of one completed visit: work, travel where the contract counts it,
    then billable parts at quantity x unit price."""
    lines = _time_lines(contract, period_label, visit, LABOUR, visit.work)
    if contract.include_travel:
        lines += _time_lines(contract, period_label, visit, TRAVEL, visit.travel)
    for material in visit.materials:
        if not material.billable:
            continue
        lines.append(
            _line(
                contract,
                period_label,
                visit,
                kind=MATERIAL,
                description=f"{material.sku}: {material.description}",
                quantity=f"{material.quantity} {material.unit}",
                unit_price_cents=material.unit_price_cents,
                amount_cents=material.quantity * material.unit_price_cents,
            )
        )
    return lines


def _time_lines(
    contract: Contract, period_label: str, visit: CompletedVisit, kind: str, time: TimeSplit
) -> list[BillingLine]:
    what = "Work on site" if kind == LABOUR else "Travel"
    has_quota = quota_minutes(contract) is not None
    pool = "prepaid block" if contract.kind is ContractKind.prepaid_hours else "quota"
    lines = []
    if time.covered:
        lines.append(
            _line(
                contract,
                period_label,
                visit,
                kind=COVERED,
                description=f"{what}: covered by the {pool}",
                quantity=hours(time.covered),
                unit_price_cents=0,
                amount_cents=0,
                minutes=time.covered,
            )
        )
    if not time.over:
        return lines
    if has_quota and contract.overage_policy is not OveragePolicy.bill_as_tm:
        description, rate = f"{what} beyond the {pool}: {BLOCKED_NOTE}", 0
    else:
        rate = contract.hourly_rate_cents
        description = f"{what} beyond the {pool}, at the T&M rate" if has_quota else what
    lines.append(
        _line(
            contract,
            period_label,
            visit,
            kind=kind,
            description=description,
            quantity=hours(time.over),
            unit_price_cents=rate,
            amount_cents=minutes_cost(time.over, rate),
            minutes=time.over,
        )
    )
    return lines


def _line(
    contract: Contract,
    period_label: str,
    visit: CompletedVisit,
    *,
    kind: str,
    description: str,
    quantity: str,
    unit_price_cents: int,
    amount_cents: int,
    minutes: int = 0,
) -> BillingLine:
    return BillingLine(
        contract_code=contract.code,
        period=period_label,
        visit_code=visit.visit_code,
        request_code=visit.request_code,
        completed_at=visit.completed_at,
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price_cents=unit_price_cents,
        amount_cents=amount_cents,
        currency=contract.currency,
        minutes=minutes,
    )


def totals(lines: Iterable[BillingLine]) -> list[BillingTotals]:
    """Totals per contract and period, in the order of (contract code, period)."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    currencies: dict[tuple[str, str], str] = {}
    for line in lines:
        key = (line.contract_code, line.period)
        currencies.setdefault(key, line.currency)
        if currencies[key] != line.currency:
            raise InvalidError(
                f"contract {line.contract_code} bills in both {currencies[key]} and "
                f"{line.currency} in {line.period}",
                field="currency",
                value=line.currency,
            )
        acc = sums.setdefault(
            key, dict.fromkeys((LABOUR, TRAVEL, MATERIAL, "billed", "covered", "unbilled"), 0)
        )
        if line.kind in (LABOUR, TRAVEL, MATERIAL):
            acc[line.kind] += line.amount_cents
        if line.kind == COVERED:
            acc["covered"] += line.minutes
        elif line.kind != MATERIAL:
            acc["billed" if line.billed else "unbilled"] += line.minutes
    return [
        BillingTotals(
            contract_code=code,
            period=period,
            currency=currencies[(code, period)],
            labour_cents=acc[LABOUR],
            travel_cents=acc[TRAVEL],
            materials_cents=acc[MATERIAL],
            total_cents=acc[LABOUR] + acc[TRAVEL] + acc[MATERIAL],
            minutes_billed=acc["billed"],
            minutes_covered=acc["covered"],
            minutes_unbilled=acc["unbilled"],
        )
        for (code, period), acc in sorted(sums.items())
    ]


def to_csv(lines: Iterable[BillingLine]) -> str:
    """The lines as RFC 4180 CSV (CRLF, quoted where needed) under :data:`CSV_HEADER`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(csv_row(line))
    return out.getvalue()


def csv_row(line: BillingLine) -> tuple[str, ...]:
    return (
        line.contract_code,
        line.period,
        line.visit_code,
        line.request_code,
        line.completed_at.astimezone(UTC).isoformat(timespec="seconds"),
        line.kind,
        line.description,
        line.quantity,
        money(line.unit_price_cents),
        str(line.unit_price_cents),
        money(line.amount_cents),
        str(line.amount_cents),
        line.currency,
    )


def hours(minutes: int) -> str:
    """Minutes as hours with two decimals, halves rounded up: 90 -> "1.50", 20 -> "0.33"."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def money(cents: int) -> str:
    """Cents in major units with two decimals: 450000 -> "4500.00"."""
    return str(Decimal(cents).scaleb(-2))


MIN_YEAR, MAX_YEAR = 1900, 9998


def parse_period_label(label: str) -> tuple[QuotaPeriod, date]:
    """The kind and first local day of a period label: "2026-11" (month) or "2026-W48" (ISO
    week), the inverse of ``Period.label``."""
    try:
        # Years at the ends of the calendar have no next period to end at.
        if (match := _MONTH.fullmatch(label)) and MIN_YEAR <= int(match[1]) <= MAX_YEAR:
            return QuotaPeriod.month, date(int(match[1]), int(match[2]), 1)
        if (match := _WEEK.fullmatch(label)) and MIN_YEAR <= int(match[1]) <= MAX_YEAR:
            return QuotaPeriod.week, date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        pass
    raise InvalidError(
        f"period {label!r} is not a month like 2026-11 or an ISO week like 2026-W48 "
        f"(years {MIN_YEAR}..{MAX_YEAR})",
        field="period",
        value=label,
    )
