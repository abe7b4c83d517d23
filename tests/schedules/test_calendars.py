"""A technician's weekly pattern, time off and extra shifts expand into UTC shifts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedules.calendars import (
    CHANGE_KINDS,
    BreakSpan,
    CalendarChange,
    Pattern,
    ShiftSpan,
    expand_shifts,
    parse_hhmm,
)
from schedules.models import ExceptionKind

MOSCOW = "Europe/Moscow"
BERLIN = "Europe/Berlin"
# Monday 8 June 2026 .. Sunday 14 June 2026; Friday 12 June is Russia Day.
MON = date(2026, 6, 8)
RUSSIA_DAY = date(2026, 6, 12)


def day(offset: int) -> date:
    return MON + timedelta(days=offset)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(when: date, hhmm: str, timezone: str = MOSCOW) -> datetime:
    """Wall-clock time on ``when`` as UTC, computed with zoneinfo alone."""
    wall = datetime.combine(when, time.fromisoformat(hhmm), tzinfo=ZoneInfo(timezone))
    return wall.astimezone(UTC)


def minute(hhmm: str) -> int:
    return parse_hhmm(hhmm)


def office(
    starts: str = "09:00",
    ends: str = "18:00",
    brk: tuple[int, str, str] | None = (60, "12:00", "15:00"),
    weekdays: range = range(5),
) -> list[Pattern]:
    """The same shift and break window on the given weekdays (Monday to Friday by default)."""
    minutes, earliest, latest = brk if brk else (0, None, None)
    return [
        Pattern(
            weekday,
            minute(starts),
            minute(ends),
            minutes,
            minute(earliest) if earliest else None,
            minute(latest) if latest else None,
        )
        for weekday in weekdays
    ]


def whole_days(kind: str, first: int, last: int) -> CalendarChange:
    """Time off from local midnight starting day ``first`` to midnight after day ``last``."""
    return CalendarChange(kind, local(day(first), "00:00"), local(day(last + 1), "00:00"))


def on_monday(kind: str, starts: str, ends: str) -> CalendarChange:
    return CalendarChange(kind, local(MON, starts), local(MON, ends))


def break_at(earliest: str, latest: str, when: date = MON, minutes: int = 60) -> BreakSpan:
    return BreakSpan(minutes, local(when, earliest), local(when, latest))


def test_moscow_week_skips_weekend_and_holiday() -> None:
    """Moscow is UTC+3 all year: 09:00-18:00 is 06:00-15:00 UTC; the break must end by 15:00."""
    shifts = expand_shifts(office(), [], {RUSSIA_DAY}, MOSCOW, MON, day(6))

    assert shifts == [
        ShiftSpan(
            d,
            utc(2026, 6, d.day, 6),
            utc(2026, 6, d.day, 15),
            (BreakSpan(60, utc(2026, 6, d.day, 9), utc(2026, 6, d.day, 11)),),
        )
        for d in (day(0), day(1), day(2), day(3))
    ]


@pytest.mark.parametrize(
    ("friday", "monday", "friday_utc", "monday_utc"),
    [
        pytest.param(date(2026, 3, 27), date(2026, 3, 30), (7, 16), (6, 15), id="spring-forward"),
        pytest.param(date(2026, 10, 23), date(2026, 10, 26), (6, 15), (7, 16), id="fall-back"),
    ],
)
def test_berlin_office_hours_move_in_utc_across_dst(
    friday: date, monday: date, friday_utc: tuple[int, int], monday_utc: tuple[int, int]
) -> None:
    """08:00-17:00 in Berlin is 07:00-16:00 UTC in winter and 06:00-15:00 UTC in summer."""
    shifts = expand_shifts(office("08:00", "17:00", None), [], set(), BERLIN, friday, monday)

    assert [(s.day, s.starts_at, s.ends_at) for s in shifts] == [
        (d, utc(d.year, d.month, d.day, start), utc(d.year, d.month, d.day, end))
        for d, (start, end) in ((friday, friday_utc), (monday, monday_utc))
    ]


# Saturday 22:00 to Sunday 06:00, a 60-minute break to fit in Sunday 01:00-03:30.
NIGHT = Pattern(5, minute("22:00"), 24 * 60 + minute("06:00"), 60, 24 * 60 + 60, 24 * 60 + 210)


@pytest.mark.parametrize(
    ("saturday", "starts_at", "ends_at", "earliest", "latest"),
    [
        pytest.param(
            date(2026, 3, 21),
            utc(2026, 3, 21, 21),
            utc(2026, 3, 22, 5),
            utc(2026, 3, 22, 0),
            utc(2026, 3, 22, 1, 30),
            id="winter-8h",
        ),
        pytest.param(
            date(2026, 3, 28),
            utc(2026, 3, 28, 21),
            utc(2026, 3, 29, 4),
            utc(2026, 3, 29, 0),
            utc(2026, 3, 29, 0, 30),
            id="spring-forward-7h",
        ),
        pytest.param(
            date(2026, 10, 24),
            utc(2026, 10, 24, 20),
            utc(2026, 10, 25, 5),
            utc(2026, 10, 24, 23),
            utc(2026, 10, 25, 1, 30),
            id="fall-back-9h",
        ),
        pytest.param(
            date(2026, 10, 31),
            utc(2026, 10, 31, 21),
            utc(2026, 11, 1, 5),
            utc(2026, 11, 1, 0),
            utc(2026, 11, 1, 1, 30),
            id="winter-again-8h",
        ),
    ],
)
def test_night_shift_across_the_change_night_is_shorter_or_longer_in_utc(
    saturday: date, starts_at: datetime, ends_at: datetime, earliest: datetime, latest: datetime
) -> None:
    """The break still ends by 03:30 wall-clock time when the clocks jump inside its window:
    on 29 March its latest start is 00:30 UTC (01:30 CET, ending 03:30 CEST), not 01:30 UTC."""
    shifts = expand_shifts([NIGHT], [], set(), BERLIN, saturday, saturday)

    assert shifts == [ShiftSpan(saturday, starts_at, ends_at, (BreakSpan(60, earliest, latest),))]


def test_shift_inside_the_spring_forward_gap_is_dropped() -> None:
    """02:00-03:00 does not exist in Berlin on 29 March 2026; a week earlier it is one hour."""
    gap = [Pattern(6, minute("02:00"), minute("03:00"))]

    assert expand_shifts(gap, [], set(), BERLIN, date(2026, 3, 29), date(2026, 3, 29)) == []
    assert expand_shifts(gap, [], set(), BERLIN, date(2026, 3, 22), date(2026, 3, 22)) == [
        ShiftSpan(date(2026, 3, 22), utc(2026, 3, 22, 1), utc(2026, 3, 22, 2), ())
    ]


@pytest.mark.parametrize(
    ("changes", "working"),
    [
        pytest.param(
            [whole_days("vacation", 0, 2), whole_days("sickness", 1, 3)],
            [4],
            id="vacation-mon-wed-and-sickness-tue-thu-leave-friday",
        ),
        pytest.param(
            [whole_days("sickness", 1, 3), whole_days("vacation", 0, 2)],
            [4],
            id="order-of-changes-does-not-matter",
        ),
        pytest.param(
            [whole_days("vacation", 0, 4), whole_days("sickness", 2, 2)],
            [],
            id="sickness-nested-in-vacation",
        ),
        pytest.param(
            [whole_days("vacation", 0, 1), whole_days(ExceptionKind.training, 2, 2)],
            [3, 4],
            id="touching-time-off",
        ),
    ],
)
def test_whole_days_off_remove_shifts(changes: list[CalendarChange], working: list[int]) -> None:
    week = expand_shifts(office(), [], set(), MOSCOW, MON, day(6))

    shifts = expand_shifts(office(), changes, set(), MOSCOW, MON, day(6))

    assert shifts == [s for s in week if s.day in {day(i) for i in working}]


@pytest.mark.parametrize(
    ("off", "kept", "window"),
    [
        pytest.param(("08:00", "10:00"), ("10:00", "18:00"), ("11:00", "14:00"), id="morning"),
        pytest.param(
            ("07:00", "12:00"), ("12:00", "18:00"), ("12:00", "14:00"), id="morning-6h-left-clip"
        ),
        pytest.param(("08:00", "13:00"), ("13:00", "18:00"), None, id="morning-5h-left-no-break"),
        pytest.param(("14:30", "20:00"), ("08:00", "14:30"), ("11:00", "13:30"), id="evening"),
        pytest.param(
            ("10:00", "11:00"), ("11:00", "18:00"), ("11:00", "14:00"), id="middle-later-longer"
        ),
        pytest.param(
            ("14:00", "14:40"), ("08:00", "14:00"), ("11:00", "13:00"), id="middle-earlier-longer"
        ),
        pytest.param(("12:00", "14:00"), ("08:00", "12:00"), None, id="middle-tie-keeps-earlier"),
    ],
)
def test_partial_training_cuts_the_shift_to_its_longest_free_piece(
    off: tuple[str, str], kept: tuple[str, str], window: tuple[str, str] | None
) -> None:
    """08:00-18:00 with a 60-minute break to fit in 11:00-15:00 (latest start 14:00)."""
    pattern = office("08:00", "18:00", (60, "11:00", "15:00"))
    training = on_monday("training", *off)

    shifts = expand_shifts(pattern, [training], set(), MOSCOW, MON, MON)

    breaks = (break_at(*window),) if window else ()
    assert shifts == [ShiftSpan(MON, local(MON, kept[0]), local(MON, kept[1]), breaks)]


def test_clipped_break_without_room_is_dropped() -> None:
    """The break must end by 08:00; after training until 07:30 there is no hour left for it."""
    pattern = office("06:00", "18:00", (60, "06:00", "08:00"))
    training = on_monday("training", "06:00", "07:30")

    shifts = expand_shifts(pattern, [training], set(), MOSCOW, MON, MON)

    assert shifts == [ShiftSpan(MON, local(MON, "07:30"), local(MON, "18:00"), ())]


def test_time_off_covering_the_whole_shift_drops_it() -> None:
    training = on_monday("training", "07:00", "19:00")

    assert expand_shifts(office(), [training], set(), MOSCOW, MON, MON) == []


@pytest.mark.parametrize(
    ("offset", "starts", "ends", "breaks"),
    [
        pytest.param(5, "10:00", "14:00", (), id="saturday-4h"),
        pytest.param(
            5, "09:00", "16:00", (break_at("11:20", "13:10", day(5), 30),), id="saturday-7h-break"
        ),
        pytest.param(4, "10:00", "16:00", (), id="holiday-6h-no-break"),
        # 01:00 in Moscow is 22:00 UTC the day before: the local date decides.
        pytest.param(6, "01:00", "05:00", (), id="sunday-after-local-midnight"),
    ],
)
def test_extra_shift_adds_a_shift_on_its_local_day(
    offset: int, starts: str, ends: str, breaks: tuple[BreakSpan, ...]
) -> None:
    """Extra shifts count on weekends and holidays; over 6 hours they get a 30-minute break
    in their middle third."""
    extra = CalendarChange(
        ExceptionKind.extra_shift, local(day(offset), starts), local(day(offset), ends)
    )

    shifts = expand_shifts(office(), [extra], {RUSSIA_DAY}, MOSCOW, MON, day(6))

    assert [s for s in shifts if s.extra] == [
        ShiftSpan(day(offset), extra.starts_at, extra.ends_at, breaks, extra=True)
    ]
    assert [s.day for s in shifts if not s.extra] == [day(0), day(1), day(2), day(3)]
    assert shifts == sorted(shifts, key=lambda s: s.starts_at)


def test_extra_shift_outside_the_range_is_ignored() -> None:
    extra = CalendarChange("extra_shift", local(day(7), "09:00"), local(day(7), "12:00"))

    assert expand_shifts([], [extra], set(), MOSCOW, MON, day(6)) == []


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        pytest.param(("16:00", "21:00"), ("09:00", "21:00"), id="overtime-evening"),
        pytest.param(("07:00", "09:00"), ("07:00", "18:00"), id="touching-early-start"),
        pytest.param(("08:00", "19:00"), ("08:00", "19:00"), id="covering-the-shift"),
    ],
)
def test_extra_shift_overlapping_a_regular_shift_extends_it(
    extra: tuple[str, str], kept: tuple[str, str]
) -> None:
    """One regular shift covering the union; its break window is kept."""
    shifts = expand_shifts(office(), [on_monday("extra_shift", *extra)], set(), MOSCOW, MON, MON)

    assert shifts == [
        ShiftSpan(MON, local(MON, kept[0]), local(MON, kept[1]), (break_at("12:00", "14:00"),))
    ]


def test_extended_shift_over_6_hours_without_a_break_gets_one() -> None:
    """09:00-13:00 extended to 17:00 is 8 hours: a 30-minute break within 11:40-14:20."""
    morning = office("09:00", "13:00", None)

    shifts = expand_shifts(
        morning, [on_monday("extra_shift", "12:00", "17:00")], set(), MOSCOW, MON, MON
    )

    assert shifts == [
        ShiftSpan(
            MON, local(MON, "09:00"), local(MON, "17:00"), (break_at("11:40", "13:50", MON, 30),)
        )
    ]


def test_overlapping_extra_shifts_merge_into_one() -> None:
    saturday = day(5)
    extras = [
        CalendarChange("extra_shift", local(saturday, "11:00"), local(saturday, "16:00")),
        CalendarChange("extra_shift", local(saturday, "08:00"), local(saturday, "12:00")),
    ]

    shifts = expand_shifts([], extras, set(), MOSCOW, saturday, saturday)

    assert shifts == [
        ShiftSpan(
            saturday,
            local(saturday, "08:00"),
            local(saturday, "16:00"),
            (break_at("10:40", "12:50", saturday, 30),),
            extra=True,
        )
    ]


def test_time_off_also_removes_extra_shifts() -> None:
    """A sick technician is not planned, even for an extra shift agreed before."""
    saturday = day(5)
    extra = CalendarChange("extra_shift", local(saturday, "10:00"), local(saturday, "14:00"))

    sick = whole_days("sickness", 5, 5)

    assert expand_shifts([], [extra, sick], set(), MOSCOW, MON, day(6)) == []


def test_change_kinds_are_the_exception_kinds_of_the_table() -> None:
    assert {kind.value for kind in ExceptionKind} == CHANGE_KINDS


def _expand(**overrides: Any) -> list[ShiftSpan]:
    arguments: dict[str, Any] = {
        "patterns": office(),
        "changes": [],
        "holidays": set(),
        "timezone": MOSCOW,
        "first": MON,
        "last": day(6),
    }
    return expand_shifts(**(arguments | overrides))


NOON = utc(2026, 6, 8, 12)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"changes": [CalendarChange("vacation", NOON.replace(tzinfo=None), NOON)]},
            "starts_at 2026-06-08T12:00:00 is naive",
            id="naive-starts-at",
        ),
        pytest.param(
            {"changes": [CalendarChange("vacation", NOON, NOON.replace(hour=13, tzinfo=None))]},
            "ends_at 2026-06-08T13:00:00 is naive",
            id="naive-ends-at",
        ),
        pytest.param(
            {"changes": [CalendarChange("vacation", NOON, NOON)]},
            "ends_at 2026-06-08T12:00:00[+]00:00 is not after starts_at",
            id="empty-change",
        ),
        pytest.param(
            {"changes": [CalendarChange("holiday", NOON, NOON + timedelta(hours=1))]},
            "kind 'holiday' is not one of",
            id="unknown-kind",
        ),
        pytest.param(
            {"last": day(-1)}, "last 2026-06-07 is before first 2026-06-08", id="last-before-first"
        ),
        pytest.param(
            {"timezone": "Europe/Atlantis"}, "timezone 'Europe/Atlantis' is unknown", id="zone"
        ),
        pytest.param({"timezone": ""}, "timezone '' is unknown", id="empty-zone"),
        pytest.param(
            {"patterns": [Pattern(7, 540, 1080)]}, "weekday 7 is outside 0..6", id="weekday"
        ),
        pytest.param(
            {"patterns": [Pattern(0, 540, 480)]},
            "ends_minute 480 of the weekday 0 pattern",
            id="ends-before-starts",
        ),
        pytest.param(
            {"patterns": [Pattern(0, 540, 1080, 60, 600, 630)]},
            "break_latest 630 of the weekday 0 pattern leaves no room for 60 minutes",
            id="break-window-too-small",
        ),
        pytest.param(
            {"patterns": [Pattern(0, 540, 1080, 60)]},
            "break_earliest None of the weekday 0 pattern",
            id="break-without-window",
        ),
        pytest.param(
            {"patterns": [Pattern(0, 540, 1080), Pattern(0, 600, 1080)]},
            "weekday 0 has more than one pattern",
            id="duplicate-weekday",
        ),
    ],
)
def test_bad_input_is_refused_naming_field_and_value(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _expand(**overrides)


def test_several_pieces_of_time_off_keep_the_longest_gap_between_them() -> None:
    """Training 09:00-10:00 and a dentist 15:00-16:00 leave 10:00-15:00, the break fits exactly."""
    pattern = office("08:00", "18:00", (60, "11:00", "15:00"))
    changes = [on_monday("other", "15:00", "16:00"), on_monday("training", "09:00", "10:00")]

    shifts = expand_shifts(pattern, changes, set(), MOSCOW, MON, MON)

    breaks = (break_at("11:00", "14:00"),)
    assert shifts == [ShiftSpan(MON, local(MON, "10:00"), local(MON, "15:00"), breaks)]
