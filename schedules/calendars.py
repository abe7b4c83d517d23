"""Working days, local wall-clock times and technicians' calendars, turned into UTC instants."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKEND = frozenset({5, 6})
MINUTES_PER_DAY = 24 * 60

# The values of schedules.models.ExceptionKind, repeated here so that calendar arithmetic
# does not import the ORM (a test keeps the two in step).
EXTRA_SHIFT = "extra_shift"
TIME_OFF_KINDS = frozenset({"vacation", "sickness", "training", "other"})
CHANGE_KINDS = TIME_OFF_KINDS | {EXTRA_SHIFT}
# Working time beyond this needs a break (the German ArbZG rule, the strictest we serve).
BREAK_NEEDED_AFTER = timedelta(hours=6)
EXTRA_SHIFT_BREAK = timedelta(minutes=30)


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


@dataclass(frozen=True, slots=True)
class Pattern:
    """A technician's regular shift on one weekday (0 = Monday), in minutes of local time.

    ``ends_minute`` past 1440 ends after midnight. The break of ``break_minutes`` starts no
    earlier than ``break_earliest`` and ends no later than ``break_latest``, both counted from
    the same midnight as ``starts_minute``.
    """

    weekday: int
    starts_minute: int
    ends_minute: int
    break_minutes: int = 0
    break_earliest: int | None = None
    break_latest: int | None = None


@dataclass(frozen=True, slots=True)
class CalendarChange:
    """A departure from the pattern: time off (any kind but ``extra_shift``) or an extra shift."""

    kind: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class BreakSpan:
    """A break of ``minutes`` starting anywhere from ``earliest`` to ``latest`` (UTC)."""

    minutes: int
    earliest: datetime
    latest: datetime


@dataclass(frozen=True, slots=True)
class ShiftSpan:
    """One shift in UTC; ``day`` is the local working day it belongs to (the day it starts)."""

    day: date
    starts_at: datetime
    ends_at: datetime
    breaks: tuple[BreakSpan, ...]
    extra: bool = False


def expand_shifts(
    patterns: Iterable[Pattern],
    changes: Iterable[CalendarChange],
    holidays: Collection[date],
    timezone: str,
    first: date,
    last: date,
) -> list[ShiftSpan]:
    """A technician's shifts on the local days ``first`` .. ``last``, in UTC, by start time.

    1. Regular shifts: every day that is not in ``holidays`` and has a pattern for its weekday
       gets ``starts_minute`` .. ``ends_minute`` (and its break window) converted with
       :func:`local_to_utc`, so a daylight-saving change makes a shift that spans it shorter
       or longer in UTC. A shift belongs to the day it starts on; a shift (or break window)
       swallowed by a spring-forward gap is dropped.
    2. Extra shifts (``extra_shift`` changes) belong to the local day they start on and count
       only when that day is in range, holiday or not. One that overlaps or touches other
       shifts is merged with them into a single shift covering the union: a regular shift
       keeps its day and breaks, only extra shifts stay ``extra=True``. A lone extra shift,
       or a regular one an extra shift extended, that has no break and is longer than
       6 hours gets a 30-minute break anywhere in its middle third.
    3. Time off (every other kind) is merged first (overlapping, nested and touching
       intervals become one) and then removed from all shifts, extra ones included. A fully
       covered shift is dropped; otherwise the longest uncovered piece is kept (the earlier
       one on a tie), so time off at the start moves the start, at the end moves the end.
       A break window that no longer fits the cut shift is dropped if the shift is now
       shorter than 6 hours, else clipped to the shift, and dropped if it has no room left.

    Raises ValueError naming the field and value for an unknown timezone, ``last`` before
    ``first``, a naive or reversed change, an unknown change kind, or an inconsistent pattern.
    """
    zone = _zone(timezone)
    if last < first:
        raise ValueError(f"last {last.isoformat()} is before first {first.isoformat()}")
    by_weekday = _patterns_by_weekday(patterns)
    extras: list[tuple[datetime, datetime]] = []
    time_off: list[tuple[datetime, datetime]] = []
    for change in changes:
        span = _change_span(change)
        (extras if str(change.kind) == EXTRA_SHIFT else time_off).append(span)

    shifts: list[ShiftSpan] = []
    day = first
    while day <= last:
        pattern = by_weekday.get(day.weekday())
        if pattern is not None and day not in holidays:
            shift = _regular_shift(pattern, day, timezone)
            if shift is not None:
                shifts.append(shift)
        day += timedelta(days=1)
    for starts_at, ends_at in sorted(extras):
        day = starts_at.astimezone(zone).date()
        if first <= day <= last:
            shifts = _add_extra(shifts, day, starts_at, ends_at)

    off = _merge(time_off)
    kept = [cut for shift in shifts if (cut := _remove_time_off(shift, off)) is not None]
    return sorted(kept, key=lambda shift: (shift.starts_at, shift.ends_at))


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {timezone!r} is unknown") from None


def _patterns_by_weekday(patterns: Iterable[Pattern]) -> dict[int, Pattern]:
    by_weekday: dict[int, Pattern] = {}
    for pattern in patterns:
        _check_pattern(pattern)
        if pattern.weekday in by_weekday:
            raise ValueError(f"weekday {pattern.weekday} has more than one pattern")
        by_weekday[pattern.weekday] = pattern
    return by_weekday


def _check_pattern(p: Pattern) -> None:
    """The rules of the work_pattern table, for patterns that never went through it."""
    if not 0 <= p.weekday <= 6:
        raise ValueError(f"weekday {p.weekday} is outside 0..6")
    of = f"of the weekday {p.weekday} pattern"
    if not 0 <= p.starts_minute < MINUTES_PER_DAY:
        raise ValueError(f"starts_minute {p.starts_minute} {of} is outside 0..1439")
    if not p.starts_minute < p.ends_minute <= p.starts_minute + MINUTES_PER_DAY:
        raise ValueError(
            f"ends_minute {p.ends_minute} {of} is not within 24 hours after starts_minute "
            f"{p.starts_minute}"
        )
    if p.break_minutes < 0:
        raise ValueError(f"break_minutes {p.break_minutes} {of} is negative")
    if p.break_minutes == 0:
        return
    if p.break_earliest is None or p.break_latest is None:
        field = "break_earliest" if p.break_earliest is None else "break_latest"
        raise ValueError(f"{field} None {of} leaves a {p.break_minutes}-minute break unplaced")
    if not p.starts_minute <= p.break_earliest <= p.ends_minute:
        raise ValueError(f"break_earliest {p.break_earliest} {of} is outside the shift")
    if not p.break_latest <= p.ends_minute:
        raise ValueError(f"break_latest {p.break_latest} {of} is after the shift ends")
    if p.break_latest - p.break_earliest < p.break_minutes:
        raise ValueError(
            f"break_latest {p.break_latest} {of} leaves no room for {p.break_minutes} minutes "
            f"after break_earliest {p.break_earliest}"
        )


def _change_span(change: CalendarChange) -> tuple[datetime, datetime]:
    # An unknown kind is refused rather than read as time off: a typo must not erase shifts.
    if str(change.kind) not in CHANGE_KINDS:
        raise ValueError(f"kind {change.kind!r} is not one of {', '.join(sorted(CHANGE_KINDS))}")
    for field in ("starts_at", "ends_at"):
        value = getattr(change, field)
        if value.utcoffset() is None:
            raise ValueError(f"{field} {value.isoformat()} is naive; an aware UTC time is needed")
    starts_at, ends_at = change.starts_at.astimezone(UTC), change.ends_at.astimezone(UTC)
    if ends_at <= starts_at:
        raise ValueError(
            f"ends_at {ends_at.isoformat()} is not after starts_at {starts_at.isoformat()}"
        )
    return starts_at, ends_at


def _regular_shift(pattern: Pattern, day: date, timezone: str) -> ShiftSpan | None:
    starts_at = local_to_utc(day, pattern.starts_minute, timezone)
    ends_at = local_to_utc(day, pattern.ends_minute, timezone)
    if ends_at <= starts_at:
        return None
    breaks: tuple[BreakSpan, ...] = ()
    window = (pattern.break_earliest, pattern.break_latest)
    if pattern.break_minutes and window[0] is not None and window[1] is not None:
        # The window's end is a wall-clock limit, so the latest start is counted back from
        # it in UTC: converting (break_latest - minutes) would let a break that spans a
        # daylight-saving jump end an hour past the limit.
        earliest = local_to_utc(day, window[0], timezone)
        latest = local_to_utc(day, window[1], timezone) - timedelta(minutes=pattern.break_minutes)
        if latest >= earliest:
            breaks = (BreakSpan(pattern.break_minutes, earliest, latest),)
    return ShiftSpan(day, starts_at, ends_at, breaks)


def _default_breaks(starts_at: datetime, ends_at: datetime) -> tuple[BreakSpan, ...]:
    length = ends_at - starts_at
    if length <= BREAK_NEEDED_AFTER:
        return ()
    third = length // 3
    minutes = int(EXTRA_SHIFT_BREAK.total_seconds()) // 60
    return (BreakSpan(minutes, starts_at + third, ends_at - third - EXTRA_SHIFT_BREAK),)


def _add_extra(
    shifts: list[ShiftSpan], day: date, starts_at: datetime, ends_at: datetime
) -> list[ShiftSpan]:
    # Touching counts as overlapping: the technician works on without a gap, and two
    # back-to-back spans would give the solver a seam where nothing can cross.
    joined: list[ShiftSpan] = []
    rest: list[ShiftSpan] = []
    for shift in shifts:
        meets = shift.starts_at <= ends_at and starts_at <= shift.ends_at
        (joined if meets else rest).append(shift)
    starts_at = min([starts_at, *(s.starts_at for s in joined)])
    ends_at = max([ends_at, *(s.ends_at for s in joined)])
    regular = [s for s in joined if not s.extra]
    if regular:
        breaks = tuple(b for s in regular for b in s.breaks) or _default_breaks(starts_at, ends_at)
        merged = ShiftSpan(min(s.day for s in regular), starts_at, ends_at, breaks)
    else:
        day = min([day, *(s.day for s in joined)])
        merged = ShiftSpan(day, starts_at, ends_at, _default_breaks(starts_at, ends_at), True)
    return [*rest, merged]


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for starts_at, ends_at in sorted(spans):
        if merged and starts_at <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends_at))
        else:
            merged.append((starts_at, ends_at))
    return merged


def _remove_time_off(shift: ShiftSpan, off: list[tuple[datetime, datetime]]) -> ShiftSpan | None:
    pieces: list[tuple[datetime, datetime]] = []
    cursor = shift.starts_at
    for off_starts, off_ends in off:
        if off_ends <= cursor or off_starts >= shift.ends_at:
            continue
        if off_starts > cursor:
            pieces.append((cursor, off_starts))
        cursor = off_ends
        if cursor >= shift.ends_at:
            break
    if cursor == shift.starts_at:
        return shift
    if cursor < shift.ends_at:
        pieces.append((cursor, shift.ends_at))
    if not pieces:
        return None
    # One contiguous piece keeps the shift plannable as a single route; max() returns the
    # first of equal pieces, so a tie keeps the earlier one.
    starts_at, ends_at = max(pieces, key=lambda piece: piece[1] - piece[0])
    breaks = tuple(
        fitted for b in shift.breaks if (fitted := _fit_break(b, starts_at, ends_at)) is not None
    )
    return replace(shift, starts_at=starts_at, ends_at=ends_at, breaks=breaks)


def _fit_break(brk: BreakSpan, starts_at: datetime, ends_at: datetime) -> BreakSpan | None:
    length = timedelta(minutes=brk.minutes)
    if brk.earliest >= starts_at and brk.latest + length <= ends_at:
        return brk
    # A shift cut below the break threshold no longer needs its break.
    if ends_at - starts_at < BREAK_NEEDED_AFTER:
        return None
    earliest = max(brk.earliest, starts_at)
    latest = min(brk.latest, ends_at - length)
    return BreakSpan(brk.minutes, earliest, latest) if latest >= earliest else None
