"""Loading seed files: everything or nothing, with errors that name file, row, field and value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from dispatch.models import (
    CalendarException,
    Region,
    ServiceRequest,
    Site,
    User,
    Visit,
    VisitTimeWindow,
    WorkPattern,
)
from dispatch.seed.loader import SeedLoadError, load_directory, read_directory
from dispatch.seed.rows import ROW_TYPES
from schedules.calendars import local_to_utc
from seed_data import DEFAULT_DIR
from tests.dispatch.seed.conftest import read_rows, set_cell, write_rows

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
FRIDAY = date(2026, 11, 27)
NEXT_DAYS = [FRIDAY, date(2026, 11, 30), date(2026, 12, 1)]  # working days 0, 1, 2


def _load(session: Session, directory: Path, anchor: date | None = FRIDAY):
    return load_directory(session, directory, anchor=anchor, now=NOW, timezone="Europe/Moscow")


def _count(session: Session, model: type) -> int:
    return session.exec(select(sa.func.count()).select_from(model)).one()


def test_demo_data_loads_every_row(session: Session) -> None:
    summary = _load(session, DEFAULT_DIR)
    for row_type in ROW_TYPES:
        assert summary.counts[row_type.FILE] == len(read_rows(DEFAULT_DIR / row_type.FILE))
    assert _count(session, Visit) == 400
    assert _count(session, User) == 43


def test_day_offsets_count_working_days_of_the_region(session: Session, small_seed: Path) -> None:
    _load(session, small_seed)
    rows = {r["code"]: r for r in read_rows(small_seed / "visits.csv")}
    for visit in session.exec(select(Visit)).all():
        row = rows[visit.code]
        assert visit.earliest_date == NEXT_DAYS[int(row["earliest_day"])]
        assert visit.due_date == NEXT_DAYS[int(row["due_day"])]


def test_a_holiday_is_skipped(session: Session, small_seed: Path) -> None:
    holidays = read_rows(small_seed / "holidays.csv")
    regions = {h["region"] for h in holidays}
    extra = [{"region": r, "date": "2026-11-30", "name": "Test holiday"} for r in sorted(regions)]
    write_rows(small_seed / "holidays.csv", holidays + extra)
    _load(session, small_seed)
    dates = {v.earliest_date for v in session.exec(select(Visit)).all()}
    assert date(2026, 11, 30) not in dates
    assert date(2026, 12, 2) in dates  # day 2 moved past the holiday


def test_local_window_times_are_stored_in_utc(session: Session, small_seed: Path) -> None:
    _load(session, small_seed)
    first = read_rows(small_seed / "visit_windows.csv")[0]
    visit = session.exec(select(Visit).where(Visit.code == first["visit"])).one()
    window = session.exec(
        select(VisitTimeWindow).where(VisitTimeWindow.visit_id == visit.id)
    ).first()
    hours, minutes = map(int, first["starts"].split(":"))
    day = NEXT_DAYS[int(first["day"])]
    assert window is not None
    assert window.starts_at == local_to_utc(day, hours * 60 + minutes, "Europe/Moscow")
    assert window.starts_at.hour == hours - 3  # Moscow is UTC+3 all year


def test_registration_times_count_back_from_now(session: Session, small_seed: Path) -> None:
    _load(session, small_seed)
    rows = {r["code"]: r for r in read_rows(small_seed / "requests.csv")}
    for request in session.exec(select(ServiceRequest)).all():
        ago = int(rows[request.code]["registered_minutes_ago"])
        assert request.registered_at == NOW - timedelta(minutes=ago)


def test_default_anchor_is_the_next_working_day(session: Session, small_seed: Path) -> None:
    summary = _load(session, small_seed, anchor=None)  # NOW is a Thursday in Moscow
    assert summary.anchor == FRIDAY


def test_passwords_are_stored_hashed(session: Session, small_seed: Path) -> None:
    _load(session, small_seed)
    admin = session.exec(select(User).where(User.username == "admin")).one()
    assert admin.password_hash.startswith("$argon2")
    assert "demo" not in admin.password_hash


def test_overnight_shift_ends_the_next_day(session: Session, small_seed: Path) -> None:
    set_cell(small_seed, "work_patterns.csv", 0, "starts", "22:00")
    set_cell(small_seed, "work_patterns.csv", 0, "ends", "06:00")
    set_cell(small_seed, "work_patterns.csv", 0, "break_earliest", "01:00")
    set_cell(small_seed, "work_patterns.csv", 0, "break_latest", "03:00")
    _load(session, small_seed)
    pattern = session.exec(select(WorkPattern).where(WorkPattern.starts_minute == 22 * 60)).one()
    assert (pattern.ends_minute, pattern.break_earliest) == (30 * 60, 25 * 60)


def test_calendar_exceptions_land_on_working_days(session: Session, small_seed: Path) -> None:
    tech = read_rows(small_seed / "technicians.csv")[0]["code"]
    write_rows(
        small_seed / "calendar_exceptions.csv",
        [
            {
                "technician": tech,
                "kind": "vacation",
                "starts_day": "1",
                "starts": "00:00",
                "ends_day": "2",
                "ends": "00:00",
                "note": "",
            }
        ],
    )
    _load(session, small_seed)
    exception = session.exec(select(CalendarException)).one()
    assert exception.starts_at == datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # Monday 00:00 MSK
    assert exception.ends_at == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)


def _error_of(session: Session, directory: Path) -> SeedLoadError:
    with pytest.raises(SeedLoadError) as caught:
        _load(session, directory)
    return caught.value


BROKEN_CELLS = [
    ("technicians.csv", 1, "home_lat", "91", "less than or equal to 90"),
    ("contracts.csv", 0, "kind", "barter", "'time_and_materials', 'managed' or 'prepaid_hours'"),
    ("contracts.csv", 0, "quota_hours", "", "a quota needs quota_period"),
    ("visits.csv", 2, "duration_minutes", "-5", "greater than 0"),
    ("visits.csv", 2, "due_day", "0", "is before earliest_day"),
    ("sites.csv", 3, "customer", "C-999", "no customer with code 'C-999'"),
    ("work_patterns.csv", 1, "weekday", "funday", "is not one of mon"),
    ("visit_windows.csv", 0, "ends", "07:00", "is not after starts"),
    ("regions.csv", 0, "timezone", "Mars/Olympus", "unknown IANA timezone"),
    ("users.csv", 0, "technician", "T-001", "technician accounts, and only they"),
    ("requests.csv", 0, "registered_minutes_ago", "soon", "valid integer"),
    ("visit_skills.csv", 0, "skill", "plumbing", "no skill with code 'plumbing'"),
]


@pytest.mark.parametrize(
    ("file", "index", "column", "value", "message"),
    BROKEN_CELLS,
    ids=[f"{c[0]}:{c[2]}" for c in BROKEN_CELLS],
)
def test_broken_cell_is_reported_by_file_row_and_field(
    session: Session, small_seed: Path, file: str, index: int, column: str, value: str, message: str
) -> None:
    row = set_cell(small_seed, file, index, column, value)
    error = _error_of(session, small_seed)
    assert [(i.file, i.row, i.field) for i in error.issues] == [(file, row, column)], error
    assert message in error.issues[0].message
    assert f"{file}, row {row}, field {column!r}" in str(error)


def test_duplicate_code_names_the_first_occurrence(session: Session, small_seed: Path) -> None:
    first = read_rows(small_seed / "sites.csv")[0]["code"]
    row = set_cell(small_seed, "sites.csv", 2, "code", first)
    issues = _error_of(session, small_seed).issues
    assert (issues[0].file, issues[0].row, issues[0].field) == ("sites.csv", row, "code")
    assert issues[0].message == "duplicate of row 2"


def test_contract_of_another_customer_is_refused(session: Session, small_seed: Path) -> None:
    contracts = read_rows(small_seed / "contracts.csv")
    request = read_rows(small_seed / "requests.csv")[0]
    site = next(s for s in read_rows(small_seed / "sites.csv") if s["code"] == request["site"])
    other = next(c["code"] for c in contracts if c["customer"] != site["customer"])
    set_cell(small_seed, "requests.csv", 0, "contract", other)
    issues = _error_of(session, small_seed).issues
    assert issues[0].field == "contract"
    assert "belongs to another customer" in issues[0].message


def test_window_outside_the_visit_days_is_refused(session: Session, small_seed: Path) -> None:
    windows = read_rows(small_seed / "visit_windows.csv")
    visits = {v["code"]: v for v in read_rows(small_seed / "visits.csv")}
    index = next(i for i, w in enumerate(windows) if visits[w["visit"]]["due_day"] != "2")
    set_cell(small_seed, "visit_windows.csv", index, "day", "2")
    issues = _error_of(session, small_seed).issues
    assert [(i.file, i.field) for i in issues] == [("visit_windows.csv", "day")]


def test_visit_without_window_is_refused(session: Session, small_seed: Path) -> None:
    windows = read_rows(small_seed / "visit_windows.csv")
    lonely = windows[0]["visit"]
    write_rows(small_seed / "visit_windows.csv", [w for w in windows if w["visit"] != lonely])
    issues = _error_of(session, small_seed).issues
    assert [(i.file, i.value) for i in issues] == [("visits.csv", lonely)]
    assert "no time window" in issues[0].message


def test_unknown_and_missing_columns_are_named(session: Session, small_seed: Path) -> None:
    rows = read_rows(small_seed / "skills.csv")
    write_rows(small_seed / "skills.csv", [{"code": r["code"], "title": r["name"]} for r in rows])
    issues = _error_of(session, small_seed).issues
    assert {(i.file, i.row, i.field) for i in issues} == {
        ("skills.csv", 1, "title"),
        ("skills.csv", 1, "name"),
    }


def test_misnamed_file_is_named(session: Session, small_seed: Path) -> None:
    (small_seed / "technicians.csv").rename(small_seed / "technician.csv")
    issues = read_directory(small_seed)[1]
    assert [i.file for i in issues] == ["technician.csv"]
    assert issues[0].message.startswith("is not a seed file")


def test_directory_without_seed_files_is_refused(tmp_path: Path) -> None:
    issues = read_directory(tmp_path)[1]
    assert [i.message for i in issues] == ["holds no seed file"]


def test_file_that_is_not_utf8_is_named(session: Session, small_seed: Path) -> None:
    (small_seed / "customers.csv").write_bytes(b"code,name\nC-1,\xff\xfe broken\n")
    issues = read_directory(small_seed)[1]
    assert issues[0].file == "customers.csv"
    assert "UTF-8" in issues[0].message


def test_row_with_extra_cells_is_named(session: Session, small_seed: Path) -> None:
    path = small_seed / "skills.csv"
    path.write_text(path.read_text() + "extra,Extra skill,surplus\n")
    issues = read_directory(small_seed)[1]
    assert [(i.file, i.row) for i in issues] == [("skills.csv", 9)]


def test_every_problem_is_reported_at_once(session: Session, small_seed: Path) -> None:
    set_cell(small_seed, "technicians.csv", 0, "home_lat", "91")
    set_cell(small_seed, "visits.csv", 0, "priority", "0")
    assert len(_error_of(session, small_seed).issues) == 2


def test_loading_the_same_data_twice_is_refused(session: Session, small_seed: Path) -> None:
    _load(session, small_seed)
    issues = _error_of(session, small_seed).issues
    assert issues[0].message == "already exists in the database"
    assert _count(session, Region) == 2


def test_new_requests_may_refer_to_sites_already_loaded(
    session: Session, small_seed: Path, tmp_path: Path
) -> None:
    _load(session, small_seed)
    more = tmp_path / "more"
    more.mkdir()
    for name in ("requests.csv", "visits.csv", "visit_skills.csv", "visit_windows.csv"):
        rows = read_rows(small_seed / name)
        for row in rows:
            for column in ("code", "request", "visit"):
                if column in row:
                    row[column] += "-B"
        write_rows(more / name, rows)
    before = _count(session, Visit)
    _load(session, more)
    assert _count(session, Visit) == 2 * before
    assert _count(session, Site) == len(read_rows(small_seed / "sites.csv"))
