"""A region's planning horizon: its local days as UTC instants and as the solver's seconds,
and the technicians' shifts over it from their work patterns, exceptions and holidays."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from dispatch.models import CalendarException, Holiday, Region, WorkPattern
from schedules.calendars import CalendarChange, Pattern, ShiftSpan, expand_shifts, local_to_utc


@dataclass(frozen=True, slots=True)
class Horizon:
    """Local days ``first`` .. ``first + days - 1`` of a region; second 0 is the first
    local midnight, so day ``d`` of the solver is the d-th local date."""

    first: date
    days: int
    timezone: str
    origin: datetime

    @classmethod
    def of(cls, first: date, days: int, timezone: str) -> Horizon:
        return cls(first, days, timezone, local_to_utc(first, 0, timezone))

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=d) for d in range(self.days)]

    def seconds(self, instant: datetime) -> int:
        return int((instant - self.origin).total_seconds())

    def instant(self, seconds: int) -> datetime:
        return self.origin + timedelta(seconds=seconds)

    def end(self) -> datetime:
        return local_to_utc(self.last + timedelta(days=1), 0, self.timezone)


def shifts(
    session: Session, *, region: Region, horizon: Horizon, technician_ids: Collection[int]
) -> dict[int, list[ShiftSpan]]:
    """Technician id -> their shifts with break windows over ``horizon`` (UTC, by start), from
    their work patterns, calendar exceptions and the region's holidays: what the planner
    gives the solver. Every id is present; a technician without shifts has an empty list."""
    ids = list(technician_ids)
    patterns: dict[int, list[Pattern]] = defaultdict(list)
    for p in session.exec(select(WorkPattern).where(col(WorkPattern.technician_id).in_(ids))):
        patterns[p.technician_id].append(
            Pattern(
                p.weekday,
                p.starts_minute,
                p.ends_minute,
                p.break_minutes,
                p.break_earliest,
                p.break_latest,
            )
        )
    # Exceptions that touch the horizon, with a day's margin for night shifts.
    since, until = horizon.origin - timedelta(days=1), horizon.end() + timedelta(days=1)
    changes: dict[int, list[CalendarChange]] = defaultdict(list)
    for e in session.exec(
        select(CalendarException).where(
            col(CalendarException.technician_id).in_(ids),
            CalendarException.ends_at > since,
            CalendarException.starts_at < until,
        )
    ):
        changes[e.technician_id].append(CalendarChange(e.kind.value, e.starts_at, e.ends_at))
    holidays = set(session.exec(select(Holiday.day).where(Holiday.region_id == region.id)))
    return {
        i: expand_shifts(
            patterns[i], changes[i], holidays, region.timezone, horizon.first, horizon.last
        )
        for i in ids
    }
