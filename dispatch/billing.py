"""T&M billing from the database: the invoice lines of a contract's visits completed in a
period, with quota minutes split in the order the ledger drew them."""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from dispatch.ledger import contract_timezone, minutes_between
from dispatch.models import (
    Contract,
    MaterialUsage,
    ServiceRequest,
    TimeEntry,
    TimeEntryKind,
    Visit,
    VisitStatus,
)
from dispatch.settings import Settings
from schedules import service
from schedules.billing import (
    BillingLine,
    CompletedVisit,
    Material,
    TimeSplit,
    allocate,
    parse_period_label,
    visit_lines,
)
from schedules.errors import NotFoundError
from schedules.models import EntryKind, QuotaPeriod
from schedules.periods import Period, period_of, period_of_day
from schedules.quotas import draws_across_periods, quota_minutes

log = logging.getLogger(__name__)

# The settings' declared default, read without touching the environment.
DEFAULT_TIMEZONE: str = Settings.model_fields["default_timezone"].default


def contract_by_code(session: Session, code: str) -> Contract:
    contract = session.exec(select(Contract).where(Contract.code == code)).first()
    if contract is None:
        raise NotFoundError(f"no contract has code {code!r}", field="contract", value=code)
    return contract


def contract_period(
    session: Session, contract: Contract, label: str, *, default_timezone: str = DEFAULT_TIMEZONE
) -> Period:
    """The period ``label`` names ("2026-11", "2026-W48") in the contract's local time."""
    kind, first = parse_period_label(label)
    return period_of_day(first, kind, contract_timezone(session, contract, default_timezone))


def billing_lines(
    session: Session,
    contract: Contract,
    period: Period,
    *,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> list[BillingLine]:
    """Invoice lines of the contract's visits completed in ``period``, by completion time."""
    visits = list(
        session.exec(
            select(Visit, ServiceRequest.code)
            .join(ServiceRequest, ServiceRequest.id == Visit.request_id)
            .where(
                ServiceRequest.contract_id == contract.id,
                Visit.status == VisitStatus.completed,
                Visit.actual_end >= period.starts_at,  # type: ignore[operator]
                Visit.actual_end < period.ends_at,  # type: ignore[operator]
            )
            .order_by(Visit.actual_end, Visit.code)
        )
    )
    if not visits:
        return []
    visit_ids = [visit.id for visit, _ in visits]
    times = list(
        session.exec(
            select(TimeEntry)
            .where(TimeEntry.visit_id.in_(visit_ids))  # type: ignore[union-attr]
            .order_by(TimeEntry.started_at, TimeEntry.id)
        )
    )
    materials: dict[int | None, list[Material]] = defaultdict(list)
    for usage in session.exec(
        select(MaterialUsage)
        .where(MaterialUsage.visit_id.in_(visit_ids))  # type: ignore[attr-defined]
        .order_by(MaterialUsage.id)
    ):
        materials[usage.visit_id].append(
            Material(
                usage.sku,
                usage.description,
                usage.quantity,
                usage.unit,
                usage.unit_price_cents,
                usage.billable,
            )
        )
    timezone = contract_timezone(session, contract, default_timezone)
    splits = _splits(session, contract, times, timezone)
    work: dict[int | None, TimeSplit] = defaultdict(TimeSplit)
    travel: dict[int | None, TimeSplit] = defaultdict(TimeSplit)
    for entry in times:
        by_kind = work if entry.kind is TimeEntryKind.work else travel
        by_kind[entry.visit_id] += splits.get(entry.id, TimeSplit())
    lines: list[BillingLine] = []
    for visit, request_code in visits:
        completed = CompletedVisit(
            visit.code,
            request_code,
            visit.actual_end,  # type: ignore[arg-type]
            work[visit.id],
            travel[visit.id],
            tuple(materials[visit.id]),
        )
        lines += visit_lines(contract, period.label, completed)
    return lines


def _splits(
    session: Session, contract: Contract, times: Sequence[TimeEntry], timezone: str
) -> dict[int | None, TimeSplit]:
    """Covered and over minutes of each time entry that counts, by time entry id."""
    limit = quota_minutes(contract)
    if limit is None:
        return {e.id: TimeSplit(0, minutes_between(e.started_at, e.ended_at)) for e in times}  # type: ignore[misc]
    counted = [e for e in times if e.kind is TimeEntryKind.work or contract.include_travel]
    if not counted:
        return {}
    kind = contract.quota_period or QuotaPeriod.month
    across = draws_across_periods(contract)
    first = min(e.started_at for e in counted)
    since = None if across else period_of(first, kind, timezone).starts_at
    until = max(period_of(e.started_at, kind, timezone).ends_at for e in counted)
    drawn = [
        e
        for e in service.entries(session, contract, until, since)
        if e.kind in (EntryKind.actual, EntryKind.remote)
    ]
    # (instant, order, key, minutes); a key of None only uses up the quota.
    draws: list[tuple[datetime, int, int | None, int]] = [
        (e.occurred_at, n, e.time_entry_id, e.minutes) for n, e in enumerate(drawn)
    ]
    recorded = {e.time_entry_id for e in drawn}
    for entry in counted:
        if entry.id not in recorded:
            # The ledger should have it (dispatch.ledger.record_time_entry); bill it as if it did.
            log.warning("time entry %s is missing from the quota ledger", entry.id)
            minutes = minutes_between(entry.started_at, entry.ended_at)
            draws.append((entry.started_at, len(draws), entry.id, minutes))
    draws.sort(key=lambda draw: (draw[0], draw[1]))

    def quota_period(draw: tuple[datetime, int, int | None, int]) -> datetime | None:
        return None if across else period_of(draw[0], kind, timezone).starts_at

    found: dict[int | None, TimeSplit] = {}
    for _, group in itertools.groupby(draws, key=quota_period):
        # A managed quota starts afresh each period; a prepaid block is one long period.
        for key, split in allocate(limit, ((key, m) for _, _, key, m in group)).items():
            if key is not None:
                found[key] = found.get(key, TimeSplit()) + split
    return found
