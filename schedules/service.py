"""The thin database layer of schedules: appending to the quota ledger and reading a
contract's quota status. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from schedules.errors import InvalidError
from schedules.models import Contract, EntryKind, QuotaEntry
from schedules.periods import Period
from schedules.quotas import QuotaStatus, draws_across_periods, status


def append(session: Session, entry: QuotaEntry) -> QuotaEntry:
    """Add one ledger line; the ledger is never updated in place."""
    append_all(session, [entry])
    return entry


def append_all(session: Session, lines: list[QuotaEntry]) -> None:
    """Add ledger lines in one flush (a published plan writes hundreds)."""
    for entry in lines:
        _check(entry)
    session.add_all(lines)
    session.flush()


def _check(entry: QuotaEntry) -> None:
    if entry.minutes == 0:
        raise InvalidError("a ledger entry of 0 minutes records nothing", field="minutes", value=0)
    if entry.occurred_at.utcoffset() is None:
        raise InvalidError(
            "occurred_at must be an aware UTC time",
            field="occurred_at",
            value=entry.occurred_at.isoformat(),
        )


def entries(
    session: Session, contract: Contract, until: datetime, since: datetime | None = None
) -> list[QuotaEntry]:
    """The contract's ledger lines before ``until`` (and from ``since``), in order."""
    query = select(QuotaEntry).where(
        QuotaEntry.contract_id == contract.id, QuotaEntry.occurred_at < until
    )
    if since is not None:
        query = query.where(QuotaEntry.occurred_at >= since)
    return list(session.exec(query.order_by(QuotaEntry.occurred_at, QuotaEntry.id)))


def contract_status(
    session: Session,
    contract: Contract,
    period: Period,
    *,
    excluding_visits: Collection[int] = (),
) -> QuotaStatus:
    since = None if draws_across_periods(contract) else period.starts_at
    return status(
        contract,
        period,
        entries(session, contract, period.ends_at, since),
        excluding_visits=excluding_visits,
    )


def outstanding_planned(session: Session, visit_ids: Collection[int]) -> list[QuotaEntry]:
    """Per visit, the planned minutes not yet given back, as reversing lines to append
    (grouped by instant and day so that each reversal lands where its entry did)."""
    if not visit_ids:
        return []
    key = (
        QuotaEntry.contract_id,
        QuotaEntry.visit_id,
        QuotaEntry.occurred_at,
        QuotaEntry.onsite_day,
    )
    rows = session.exec(
        select(*key, sa.func.sum(QuotaEntry.minutes))
        .where(QuotaEntry.kind == EntryKind.planned, QuotaEntry.visit_id.in_(list(visit_ids)))  # type: ignore[union-attr]
        .group_by(*key)
        .having(sa.func.sum(QuotaEntry.minutes) != 0)
    )
    return [
        QuotaEntry(
            contract_id=contract_id,
            kind=EntryKind.planned,
            minutes=-total,
            occurred_at=occurred_at,
            onsite_day=onsite_day,
            visit_id=visit_id,
        )
        for contract_id, visit_id, occurred_at, onsite_day, total in rows
    ]
