"""SLA clocks: response deadlines counted only in covered time (24x7, or a region's business hours
with holidays excluded), and how a deadline stands at a given moment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schedules.calendars import MINUTES_PER_DAY, local_to_utc

# The values of schedules.models.Coverage, repeated so that this module stays free of the DB.
ALWAYS = "24x7"
BUSINESS_HOURS = "business_hours"
COVERAGES = (ALWAYS, BUSINESS_HOURS)

SLA_STATES = ("none", "open", "at_risk", "met", "breached")
AT_RISK_WITHIN = timedelta(hours=2)

_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class BusinessWeek:
    """A region's business hours: when a business-hours SLA clock runs.

    ``hours`` maps a weekday (0 = Monday) to its opening and closing minute of local time
    (closing 1440 = midnight); a weekday missing from it is closed, and so is every holiday
    (a local date).
    """

    timezone: str
    hours: Mapping[int, tuple[int, int]]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA timezone") from None
        for weekday, (opens, closes) in self.hours.items():
            if weekday not in range(7):
                raise ValueError(f"hours weekday {weekday!r} is not 0 (Monday) .. 6 (Sunday)")
            if not 0 <= opens < closes <= MINUTES_PER_DAY:
                raise ValueError(
                    f"hours[{weekday}] ({opens}, {closes}) is not 0 <= opens < closes <= 1440"
                )
        # Private copies: a caller reusing its dict or set must not move clocks already running.
        object.__setattr__(self, "hours", MappingProxyType(dict(self.hours)))
        object.__setattr__(self, "holidays", frozenset(self.holidays))


def response_deadline(
    registered_at: datetime, sla_hours: int, coverage: str, week: BusinessWeek | None = None
) -> datetime:
    """The aware UTC instant by which a request registered at ``registered_at`` must get its
    response: ``sla_hours`` of covered time later.

    Under 24x7 coverage every second counts. Under business-hours coverage only the time inside
    ``week``'s opening hours on non-holiday days counts, so a request registered outside them
    starts its clock at the next opening; a deadline that uses up a day's hours exactly falls on
    that day's closing time. Each day's hours are read in the region's local time of that day
    and counted as real elapsed time, so across a daylight-saving change the deadline keeps its
    local time and moves in UTC.
    """
    start = _utc("registered_at", registered_at)
    if isinstance(sla_hours, bool) or not isinstance(sla_hours, int) or sla_hours <= 0:
        raise ValueError(f"sla_hours {sla_hours!r} is not a positive whole number of hours")
    remaining = timedelta(hours=sla_hours)
    business = _coverage(coverage, week)
    if business is None:
        return start + remaining
    for opens, closes in _open_intervals(business, start):
        if closes <= start:
            continue
        opens = max(opens, start)
        if closes - opens >= remaining:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: the open intervals never end")


def covered_seconds(
    start: datetime, end: datetime, coverage: str, week: BusinessWeek | None = None
) -> int:
    """Whole seconds of covered time from ``start`` to ``end`` (negative when ``end`` comes
    first): the inverse of :func:`response_deadline`, so that
    ``covered_seconds(t, response_deadline(t, h, c, w), c, w) == h * 3600``."""
    first, last = _utc("start", start), _utc("end", end)
    business = _coverage(coverage, week)
    if last < first:
        return -covered_seconds(last, first, coverage, week)
    if business is None:
        return (last - first) // _SECOND
    total = timedelta()
    for opens, closes in _open_intervals(business, first):
        if opens >= last:
            break
        overlap = min(closes, last) - max(opens, first)
        if overlap > timedelta():
            total += overlap
    return total // _SECOND


def sla_state(
    due_at: datetime | None,
    now: datetime,
    started_at: datetime | None,
    at_risk_within: timedelta = AT_RISK_WITHIN,
) -> str:
    """How a response deadline stands at ``now``, one of :data:`SLA_STATES`.

    ``"none"`` without a deadline; once work has started, ``"met"`` if it started by the
    deadline and ``"breached"`` otherwise; before that, ``"breached"`` past the deadline,
    ``"at_risk"`` within ``at_risk_within`` of it (both ends included) and ``"open"`` before.
    """
    instant = _utc("now", now)
    if at_risk_within < timedelta():
        raise ValueError(f"at_risk_within {at_risk_within} is negative")
    if due_at is None:
        return "none"
    due = _utc("due_at", due_at)
    if started_at is not None:
        return "met" if _utc("started_at", started_at) <= due else "breached"
    if instant > due:
        return "breached"
    return "at_risk" if due - instant <= at_risk_within else "open"


def slack_minutes(due_at: datetime | None, now: datetime) -> int | None:
    """Whole minutes left until ``due_at``, rounded down so that any lateness is negative (-1
    for the first minute overdue); ``None`` without a deadline."""
    instant = _utc("now", now)
    if due_at is None:
        return None
    return (_utc("due_at", due_at) - instant) // _MINUTE


def _utc(name: str, value: datetime) -> datetime:
    # Arithmetic on an aware local datetime is wall-clock arithmetic; UTC keeps it elapsed time.
    if not isinstance(value, datetime):
        raise ValueError(f"{name} {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


def _coverage(coverage: str, week: BusinessWeek | None) -> BusinessWeek | None:
    """The week whose hours count, or None when every second counts."""
    if coverage == ALWAYS:
        return None
    if coverage != BUSINESS_HOURS:
        raise ValueError(f"coverage {coverage!r} is not one of {', '.join(COVERAGES)}")
    if week is None:
        raise ValueError("week None: business_hours coverage needs the region's business hours")
    if not week.hours:
        raise ValueError(f"week.hours {dict(week.hours)!r} has no open weekday")
    return week


def _open_intervals(week: BusinessWeek, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The week's open intervals in UTC, in order and endless, from the local day before the
    one ``since`` falls on (a margin: a day's hours end by its midnight, so no earlier day's
    can reach ``since``)."""
    day = since.astimezone(ZoneInfo(week.timezone)).date() - timedelta(days=1)
    previous_close: datetime | None = None
    while True:
        hours = week.hours.get(day.weekday())
        if hours is not None and day not in week.holidays:
            opens = local_to_utc(day, hours[0], week.timezone)
            closes = local_to_utc(day, hours[1], week.timezone)
            # Wall-clock times skipped by a spring-forward change map past the change, which can
            # put an opening after its closing or before the previous closing; never count twice.
            if previous_close is not None:
                opens = max(opens, previous_close)
            if closes > opens:
                yield opens, closes
                previous_close = closes
        day += timedelta(days=1)
