"""SLA clocks: deadlines counted in covered time only, exact across weekends, holidays and
daylight-saving changes, and the state of a deadline at a moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.models import Coverage
from schedules.sla import (
    ALWAYS,
    BUSINESS_HOURS,
    SLA_STATES,
    BusinessWeek,
    covered_seconds,
    response_deadline,
    sla_state,
    slack_minutes,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_SIX = {weekday: (9 * 60, 18 * 60) for weekday in range(5)}
MOSCOW_WEEK = BusinessWeek("Europe/Moscow", NINE_TO_SIX)
BERLIN_WEEK = BusinessWeek("Europe/Berlin", NINE_TO_SIX)
ALL_DAY_BERLIN = BusinessWeek("Europe/Berlin", {weekday: (0, 1440) for weekday in range(7)})
NAIVE = datetime(2025, 11, 14, 9)  # noqa: DTZ001 - the input every function must refuse


def moscow(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_coverage_names_are_the_contract_enum_values() -> None:
    assert (Coverage.always.value, Coverage.business_hours.value) == (ALWAYS, BUSINESS_HOURS)
    due = response_deadline(moscow(2025, 11, 12, 10), 1, Coverage.business_hours, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 12, 11)


def test_friday_evening_request_is_due_on_monday_afternoon() -> None:
    """Friday 18:30 is after closing: the clock starts Monday 09:00 and runs 8 hours."""
    due = response_deadline(moscow(2025, 11, 14, 18, 30), 8, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == utc(2025, 11, 17, 14)
    assert due.tzinfo is UTC
    assert due.astimezone(MOSCOW) == moscow(2025, 11, 17, 17)


def test_a_holiday_monday_moves_the_deadline_to_tuesday() -> None:
    week = BusinessWeek("Europe/Moscow", NINE_TO_SIX, frozenset({date(2025, 11, 17)}))
    due = response_deadline(moscow(2025, 11, 14, 18, 30), 8, BUSINESS_HOURS, week)
    assert due == moscow(2025, 11, 18, 17)


def test_request_inside_hours_spills_into_the_next_day() -> None:
    """Wednesday 15:00: three hours that day, the other five on Thursday."""
    due = response_deadline(moscow(2025, 11, 12, 15), 8, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 13, 14)


def test_request_before_opening_starts_at_opening() -> None:
    due = response_deadline(moscow(2025, 11, 12, 6, 45), 2, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 12, 11)


def test_request_registered_exactly_at_closing_waits_for_the_next_opening() -> None:
    due = response_deadline(moscow(2025, 11, 14, 18), 8, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 17, 17)


def test_deadline_using_up_a_day_falls_on_its_closing_not_the_next_opening() -> None:
    due = response_deadline(moscow(2025, 11, 17, 9), 9, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 17, 18)


def test_deadline_keeps_seconds_and_microseconds() -> None:
    registered = moscow(2025, 11, 12, 17, 59, 30, 250)
    due = response_deadline(registered, 1, BUSINESS_HOURS, MOSCOW_WEEK)
    assert due == moscow(2025, 11, 13, 9, 59, 30, 250)


def test_always_coverage_counts_every_hour_across_a_month_end() -> None:
    assert response_deadline(utc(2026, 1, 31, 20), 10, ALWAYS, None) == utc(2026, 2, 1, 6)
    assert response_deadline(utc(2028, 2, 28, 22), 4, ALWAYS, None) == utc(2028, 2, 29, 2)
    assert response_deadline(utc(2025, 12, 31, 23), 2, ALWAYS, MOSCOW_WEEK) == utc(2026, 1, 1, 1)


def test_always_coverage_counts_elapsed_hours_not_wall_clock_across_dst() -> None:
    """24 hours from Saturday noon in Berlin end at 13:00 on Sunday: the night lost an hour."""
    due = response_deadline(datetime(2026, 3, 28, 12, tzinfo=BERLIN), 24, ALWAYS)
    assert due == utc(2026, 3, 29, 11)
    assert due.astimezone(BERLIN) == datetime(2026, 3, 29, 13, tzinfo=BERLIN)


def test_business_hours_deadline_keeps_local_time_and_moves_in_utc_across_dst() -> None:
    """Berlin moves to summer time on Sunday 29 March 2026: the same Friday-to-Monday request
    is due at 16:00 local both weeks, 15:00 UTC before the change and 14:00 UTC after it."""
    before = response_deadline(
        datetime(2026, 3, 20, 17, tzinfo=BERLIN), 8, BUSINESS_HOURS, BERLIN_WEEK
    )
    across = response_deadline(
        datetime(2026, 3, 27, 17, tzinfo=BERLIN), 8, BUSINESS_HOURS, BERLIN_WEEK
    )
    assert before == utc(2026, 3, 23, 15)
    assert across == utc(2026, 3, 30, 14)
    assert across - before == timedelta(days=7, hours=-1)
    assert before.astimezone(BERLIN).hour == across.astimezone(BERLIN).hour == 16


def test_round_the_clock_business_hours_count_elapsed_time_across_both_dst_changes() -> None:
    """The spring night lasts 23 hours and the autumn one 25, so 24 covered hours from noon end
    at 13:00 and 11:00 local."""
    due = response_deadline(
        datetime(2026, 3, 28, 12, tzinfo=BERLIN), 24, BUSINESS_HOURS, ALL_DAY_BERLIN
    )
    assert due == utc(2026, 3, 29, 11)
    autumn = response_deadline(
        datetime(2026, 10, 24, 12, tzinfo=BERLIN), 24, BUSINESS_HOURS, ALL_DAY_BERLIN
    )
    assert autumn.astimezone(BERLIN) == datetime(2026, 10, 25, 11, tzinfo=BERLIN)


def test_opening_in_the_skipped_hour_is_read_with_the_offset_before_the_change() -> None:
    """Sunday 02:30-04:00 in Berlin: on 29 March 2026 02:30 does not exist and reads as 03:30,
    leaving half an hour."""
    week = BusinessWeek("Europe/Berlin", {6: (150, 240)})
    saturday, monday = utc(2026, 3, 28), utc(2026, 3, 30)
    assert covered_seconds(saturday, monday, BUSINESS_HOURS, week) == 30 * 60
    assert response_deadline(saturday, 1, BUSINESS_HOURS, week) == utc(2026, 4, 5, 1)


def test_covered_seconds_counts_open_hours_only_and_is_signed() -> None:
    friday, monday = moscow(2025, 11, 14, 17), moscow(2025, 11, 17, 10)
    assert covered_seconds(friday, monday, BUSINESS_HOURS, MOSCOW_WEEK) == 2 * 3600
    assert covered_seconds(monday, friday, BUSINESS_HOURS, MOSCOW_WEEK) == -2 * 3600
    assert covered_seconds(friday, friday, BUSINESS_HOURS, MOSCOW_WEEK) == 0
    assert covered_seconds(friday, monday, ALWAYS, None) == 65 * 3600
    holiday = BusinessWeek("Europe/Moscow", NINE_TO_SIX, frozenset({date(2025, 11, 14)}))
    assert covered_seconds(friday, monday, BUSINESS_HOURS, holiday) == 3600


def test_business_week_copies_its_inputs() -> None:
    hours = dict(NINE_TO_SIX)
    week = BusinessWeek("Europe/Moscow", hours)
    hours[5] = (0, 60)
    assert 5 not in week.hours
    assert week == MOSCOW_WEEK


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"hours": {7: (540, 1080)}}, "weekday"),
        ({"hours": {0: (1080, 540)}}, r"hours\[0\]"),
        ({"hours": {0: (0, 1441)}}, r"hours\[0\]"),
        ({"hours": {0: (-1, 60)}}, r"hours\[0\]"),
    ],
)
def test_business_week_refuses_bad_timezone_and_hours(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BusinessWeek(**{"timezone": "Europe/Moscow", "hours": NINE_TO_SIX, **kwargs})


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((NAIVE, 8, ALWAYS, None), "registered_at 2025-11-14T09:00:00 has no"),
        ((utc(2025, 11, 14), 0, ALWAYS, None), "sla_hours 0"),
        ((utc(2025, 11, 14), -3, ALWAYS, None), "sla_hours -3"),
        ((utc(2025, 11, 14), 1.5, ALWAYS, None), "sla_hours 1.5"),
        ((utc(2025, 11, 14), 8, "9x5", MOSCOW_WEEK), "coverage '9x5'"),
        ((utc(2025, 11, 14), 8, BUSINESS_HOURS, None), "week None"),
        ((utc(2025, 11, 14), 8, BUSINESS_HOURS, BusinessWeek("UTC", {})), "week.hours"),
    ],
)
def test_response_deadline_refuses_bad_input_naming_field_and_value(
    args: tuple, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        response_deadline(*args)


def test_covered_seconds_refuses_naive_instants_and_unknown_coverage() -> None:
    with pytest.raises(ValueError, match="end 2025-11-14T09:00:00 has no timezone"):
        covered_seconds(utc(2025, 11, 14), NAIVE, ALWAYS, None)
    with pytest.raises(ValueError, match="coverage 'always'"):
        covered_seconds(utc(2025, 11, 14), utc(2025, 11, 15), "always", None)


TIMEZONES = ("Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")


@st.composite
def clocks(draw: st.DrawFn) -> tuple[datetime, BusinessWeek]:
    """A registration instant and business hours around it, holidays near it included."""
    registered = draw(
        st.datetimes(
            min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
            max_value=datetime(2035, 1, 1),  # noqa: DTZ001
            timezones=st.sampled_from([UTC, MOSCOW, BERLIN]),
        )
    )
    hours = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        opens = draw(st.integers(0, 1439))
        hours[weekday] = (opens, draw(st.integers(opens + 1, 1440)))
    offsets = draw(st.sets(st.integers(-1, 40), max_size=8))
    holidays = frozenset(registered.date() + timedelta(days=k) for k in offsets)
    return registered, BusinessWeek(draw(st.sampled_from(TIMEZONES)), hours, holidays)


@settings(max_examples=200, deadline=None)
@given(clocks(), st.integers(1, 200))
def test_covered_time_to_the_deadline_is_the_sla_and_no_earlier_instant_has_it(
    clock: tuple[datetime, BusinessWeek], hours: int
) -> None:
    registered, week = clock
    due = response_deadline(registered, hours, BUSINESS_HOURS, week)
    assert due.tzinfo is UTC
    assert covered_seconds(registered, due, BUSINESS_HOURS, week) == hours * 3600
    assert (
        covered_seconds(registered, due - timedelta(seconds=1), BUSINESS_HOURS, week) < hours * 3600
    )


@given(clocks(), st.integers(1, 10_000))
def test_always_coverage_round_trips(clock: tuple[datetime, BusinessWeek], hours: int) -> None:
    registered, _ = clock
    due = response_deadline(registered, hours, ALWAYS, None)
    assert covered_seconds(registered, due, ALWAYS, None) == hours * 3600


DUE = utc(2026, 3, 2, 12)


@pytest.mark.parametrize(
    ("due_at", "now", "started_at", "state"),
    [
        (None, DUE, None, "none"),
        (None, DUE, DUE, "none"),
        (DUE, DUE - timedelta(hours=5), None, "open"),
        (DUE, DUE - timedelta(hours=2, seconds=1), None, "open"),
        (DUE, DUE - timedelta(hours=2), None, "at_risk"),
        (DUE, DUE - timedelta(minutes=1), None, "at_risk"),
        (DUE, DUE, None, "at_risk"),
        (DUE, DUE + timedelta(seconds=1), None, "breached"),
        (DUE, DUE - timedelta(hours=5), DUE - timedelta(hours=6), "met"),
        (DUE, DUE + timedelta(days=3), DUE, "met"),
        (DUE, DUE - timedelta(hours=1), DUE - timedelta(hours=1), "met"),
        (DUE, DUE + timedelta(hours=1), DUE + timedelta(seconds=1), "breached"),
    ],
)
def test_sla_state(
    due_at: datetime | None, now: datetime, started_at: datetime | None, state: str
) -> None:
    assert state in SLA_STATES
    assert sla_state(due_at, now, started_at) == state


def test_sla_state_at_risk_window_is_adjustable_and_zones_do_not_matter() -> None:
    local_now = (DUE - timedelta(minutes=30)).astimezone(MOSCOW)
    assert sla_state(DUE, local_now, None, at_risk_within=timedelta(minutes=15)) == "open"
    assert sla_state(DUE, local_now, None, at_risk_within=timedelta(hours=1)) == "at_risk"
    with pytest.raises(ValueError, match="at_risk_within"):
        sla_state(DUE, local_now, None, at_risk_within=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="now"):
        sla_state(DUE, NAIVE, None)


@pytest.mark.parametrize(
    ("now", "minutes"),
    [
        (DUE - timedelta(hours=3), 180),
        (DUE - timedelta(seconds=90), 1),
        (DUE - timedelta(seconds=30), 0),
        (DUE, 0),
        (DUE + timedelta(seconds=1), -1),
        (DUE + timedelta(minutes=61), -61),
    ],
)
def test_slack_minutes_round_down_so_any_lateness_is_negative(now: datetime, minutes: int) -> None:
    assert slack_minutes(DUE, now) == minutes


def test_slack_minutes_without_deadline_is_none() -> None:
    assert slack_minutes(None, DUE) is None
