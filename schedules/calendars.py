"""Working days and local wall-clock times of a region, turned into UTC instants."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKEND = frozenset({5, 6})
MINUTES_PER_DAY = 24 * 60


def parse_weekday(text: str) -> int:
    """'mon' .. 'sun' (any case) to 0 .. 6."""
    try:
        return WEEKDAYS.index(text.strip().lower()[:3])
    except ValueError:
        raise ValueError(f"weekday {text!r} is not one of {', '.join(WEEKDAYS)}") from None


def parse_hhmm(text: str, *, allow_end_of_day: bool = False) -> int:
    """'HH:MM' to minutes after midnight; '24:00' only where an end of day is meant."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"time {text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    limit = MINUTES_PER_DAY if allow_end_of_day else MINUTES_PER_DAY - 1
    if int(minutes) > 59 or value > limit:
        raise ValueError(f"time {text!r} is outside 00:00-{format_hhmm(limit)}")
    return value


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def is_working_day(
    day: date, holidays: Collection[date], weekend: Collection[int] = WEEKEND
) -> bool:
    return day.weekday() not in weekend and day not in holidays


def working_days(
    start: date, count: int, holidays: Collection[date], weekend: Collection[int] = WEEKEND
) -> list[date]:
    """The first ``count`` working days on or after ``start``."""
    if count < 0:
        raise ValueError(f"count {count} is negative")
    days: list[date] = []
    day = start
    while len(days) < count:
        if is_working_day(day, holidays, weekend):
            days.append(day)
        day += timedelta(days=1)
    return days


def next_working_day(
    after: date, holidays: Collection[date], weekend: Collection[int] = WEEKEND
) -> date:
    """The first working day strictly after ``after``."""
    return working_days(after + timedelta(days=1), 1, holidays, weekend)[0]


def local_to_utc(day: date, minute_of_day: int, timezone: str) -> datetime:
    """The UTC instant of ``minute_of_day`` on local ``day`` (minutes past 1440 run into the
    next day). A wall-clock time skipped by a daylight-saving change is read with the offset
    before the change (02:30 on a spring-forward night becomes 03:30); a repeated one is its
    first occurrence."""
    tz = ZoneInfo(timezone)
    day = day + timedelta(days=minute_of_day // MINUTES_PER_DAY)
    minute = minute_of_day % MINUTES_PER_DAY
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)
