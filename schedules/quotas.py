"""Quota arithmetic over a contract's ledger: what a period allows, what is used, planned and
left, and which minutes fall beyond the quota (overage)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from schedules.models import Contract, ContractKind, EntryKind, OveragePolicy, QuotaEntry
from schedules.periods import Period


def quota_minutes(contract: Contract) -> int | None:
    """Minutes the contract allows: per period (managed), for its lifetime (prepaid block),
    or None (time and materials: everything is billed)."""
    if contract.kind is ContractKind.prepaid_hours and contract.prepaid_hours is not None:
        return contract.prepaid_hours * 60
    if contract.quota_hours is not None:
        return contract.quota_hours * 60
    return None


def draws_across_periods(contract: Contract) -> bool:
    """A prepaid block is drawn down until spent; a managed quota starts afresh each period."""
    return contract.kind is ContractKind.prepaid_hours


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """A contract's quota in one period, in minutes and days. ``carried`` is what earlier
    periods drew from a prepaid block; ``remaining`` = quota - carried - actual - planned
    (negative when overdrawn); ``forecast`` = carried + actual + planned; ``overage`` the
    actual minutes beyond the quota, ``forecast_overage`` the same once the plan is done."""

    contract_id: int
    period: Period
    quota: int | None
    carried: int
    actual: int
    remote: int
    planned: int
    remaining: int | None
    forecast: int
    overage: int
    forecast_overage: int
    quota_days: int | None
    days_used: int
    days_planned: int
    days_remaining: int | None
    overage_policy: OveragePolicy
    # Overage priced at the contract's T&M rate (bill_as_tm), in the contract's currency.
    overage_cents: int
    # Local days with on-site time, used or planned: more visits on them take no new day.
    onsite_days: frozenset[date] = frozenset()

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def status(
    contract: Contract,
    period: Period,
    entries: Iterable[QuotaEntry],
    *,
    excluding_visits: Collection[int] = (),
) -> QuotaStatus:
    """The contract's quota in ``period`` from its ledger ``entries`` (any span; only those
    that count are used). Planned entries of ``excluding_visits`` are ignored: planning
    those visits again must not compete with their own earlier plan."""
    quota = quota_minutes(contract)
    carried = actual = remote = planned = 0
    actual_by_day: dict[date, int] = defaultdict(int)
    planned_by_day: dict[date, int] = defaultdict(int)
    across = draws_across_periods(contract)
    for entry in entries:
        if entry.kind is EntryKind.planned and entry.visit_id in excluding_visits:
            continue
        if entry.occurred_at >= period.ends_at:
            continue
        if entry.occurred_at < period.starts_at:
            if across:
                carried += entry.minutes
            continue
        if entry.kind is EntryKind.planned:
            planned += entry.minutes
            if entry.onsite_day is not None:
                planned_by_day[entry.onsite_day] += entry.minutes
            continue
        actual += entry.minutes
        if entry.kind is EntryKind.remote:
            remote += entry.minutes
        if entry.onsite_day is not None:
            actual_by_day[entry.onsite_day] += entry.minutes
    used_days = {day for day, minutes in actual_by_day.items() if minutes > 0}
    planned_days = {d for d, m in planned_by_day.items() if m > 0 and d not in used_days}
    forecast = carried + actual + planned
    quota_days = contract.quota_onsite_days
    overage = 0 if quota is None else max(0, carried + actual - quota) - max(0, carried - quota)
    rate = contract.hourly_rate_cents
    billable = contract.overage_policy is OveragePolicy.bill_as_tm
    return QuotaStatus(
        contract_id=contract.id or 0,
        period=period,
        quota=quota,
        carried=carried,
        actual=actual,
        remote=remote,
        planned=planned,
        remaining=None if quota is None else quota - forecast,
        forecast=forecast,
        overage=overage,
        forecast_overage=0 if quota is None else max(0, forecast - max(quota, carried)),
        quota_days=quota_days,
        days_used=len(used_days),
        days_planned=len(planned_days),
        days_remaining=None
        if quota_days is None
        else quota_days - len(used_days) - len(planned_days),
        overage_policy=contract.overage_policy,
        overage_cents=minutes_cost(overage, rate) if billable else 0,
        onsite_days=frozenset(used_days | planned_days),
    )


def split(limit: int | None, used_before: int, minutes: int) -> tuple[int, int]:
    """(covered, over): how ``minutes`` drawn after ``used_before`` divide at ``limit`` — the
    point where a prepaid block runs out in the middle of a visit."""
    if limit is None:
        return 0, minutes
    room = max(0, limit - used_before)
    covered = min(minutes, room)
    return covered, minutes - covered


def minutes_cost(minutes: int, hourly_rate_cents: int) -> int:
    """Price of ``minutes`` at an hourly rate, to the nearest cent (halves round up)."""
    return (minutes * hourly_rate_cents * 2 + 60) // 120
