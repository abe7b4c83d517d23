"""Quota periods (weeks and months) in a region's local time, as exact UTC intervals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from schedules.calendars import local_to_utc
from schedules.models import QuotaPeriod


@dataclass(frozen=True, slots=True)
class Period:
    """[starts_on, ends_on) in local days; [starts_at, ends_at) the same span in UTC."""

    kind: QuotaPeriod
    starts_on: date
    ends_on: date
    starts_at: datetime
    ends_at: datetime

    @property
    def label(self) -> str:
        """'2026-11' for a month, '2026-W48' for an ISO week."""
        if self.kind is QuotaPeriod.month:
            return f"{self.starts_on:%Y-%m}"
        year, week, _ = self.starts_on.isocalendar()
        return f"{year}-W{week:02d}"

    def contains(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at

    def days(self) -> list[date]:
        return [self.starts_on + timedelta(n) for n in range((self.ends_on - self.starts_on).days)]

    def next(self, timezone: str) -> Period:
        return period_of_day(self.ends_on, self.kind, timezone)


def period_of_day(day: date, kind: QuotaPeriod | str, timezone: str) -> Period:
    """The period holding local ``day``: its ISO week (Monday first) or calendar month."""
    kind = QuotaPeriod(kind)
    if kind is QuotaPeriod.week:
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    # Local midnights, so a period turns over at the region's midnight, not at UTC's.
    return Period(
        kind, first, after, local_to_utc(first, 0, timezone), local_to_utc(after, 0, timezone)
    )


def period_of(instant: datetime, kind: QuotaPeriod | str, timezone: str) -> Period:
    """The period an aware instant falls in, judged by the region's wall clock."""
    if instant.utcoffset() is None:
        raise ValueError(f"instant {instant.isoformat()} is naive; an aware time is needed")
    return period_of_day(local_day(instant, timezone), kind, timezone)


def periods_between(
    first: date, last: date, kind: QuotaPeriod | str, timezone: str
) -> list[Period]:
    """Every period that holds a day of ``first`` .. ``last``, in order."""
    found = [period_of_day(first, kind, timezone)]
    while found[-1].ends_on <= last:
        found.append(found[-1].next(timezone))
    return found


def local_day(instant: datetime, timezone: str) -> date:
    return instant.astimezone(UTC).astimezone(ZoneInfo(timezone)).date()
