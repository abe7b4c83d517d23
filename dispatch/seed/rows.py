"""The seed files' row formats: one validated model per CSV file, shared by generator and loader.

Dates are relative so that demo data is always current: ``*_day`` columns count working days
of the site's (or technician's) region from the anchor day the loader is given (0 = anchor),
and ``registered_minutes_ago`` counts back from the moment of loading. Clock times are local
``HH:MM`` in the region's timezone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from dispatch.models import Channel, Role, Triage, Urgency
from schedules.calendars import WEEKDAYS, format_hhmm, parse_hhmm, parse_weekday
from schedules.models import ContractKind, Coverage, ExceptionKind, OveragePolicy, QuotaPeriod, Tier


class FieldRuleError(ValueError):
    """A rule across columns is broken; ``field`` names the column to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _minutes(value: Any, *, end: bool) -> Any:
    return parse_hhmm(value, allow_end_of_day=end) if isinstance(value, str) else value


def _weekday(value: Any) -> Any:
    return parse_weekday(value) if isinstance(value, str) else value


def _cents(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a number like 1250.00") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"amount {value!r} has more than two decimals")
    return int(amount * 100)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


Code = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(max_length=32)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Weekday = Annotated[
    int, BeforeValidator(_weekday), Field(ge=0, le=6), PlainSerializer(lambda v: WEEKDAYS[v])
]
ClockTime = Annotated[
    int,
    BeforeValidator(lambda v: _minutes(v, end=False)),
    Field(ge=0, lt=1440),
    PlainSerializer(format_hhmm),
]
EndTime = Annotated[
    int,
    BeforeValidator(lambda v: _minutes(v, end=True)),
    Field(gt=0, le=1440),
    PlainSerializer(format_hhmm),
]
# An instant on a day: 00:00 (start of the day) up to 24:00 (its end).
DayTime = Annotated[
    int,
    BeforeValidator(lambda v: _minutes(v, end=True)),
    Field(ge=0, le=1440),
    PlainSerializer(format_hhmm),
]
Money = Annotated[
    int,
    BeforeValidator(_cents),
    Field(ge=0),
    PlainSerializer(lambda c: f"{c // 100}.{c % 100:02d}"),
]
Level = Annotated[int, Field(ge=1, le=5)]
DayOffset = Annotated[int, Field(ge=0, le=366)]


class SeedRow(BaseModel):
    """One CSV row; blank cells are missing values, unknown columns are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    FILE: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data

    @classmethod
    def columns(cls) -> list[str]:
        return list(cls.model_fields)

    def to_csv(self) -> dict[str, str]:
        return {k: _cell(v) for k, v in self.model_dump(mode="json").items()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _after(start: int, end: int, *, start_name: str, end_name: str) -> None:
    if end <= start:
        raise FieldRuleError(
            end_name,
            f"{end_name} {format_hhmm(end)} is not after {start_name} {format_hhmm(start)}",
        )


class RegionRow(SeedRow):
    FILE = "regions.csv"
    code: Annotated[
        str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9._-]+$")
    ]
    name: Name
    timezone: Annotated[str, AfterValidator(_timezone)]
    avg_speed_kmh: Annotated[float, Field(gt=0, le=130)]
    detour_factor: Annotated[float, Field(ge=1, le=3)] = 1.3


class _WeeklyHoursRow(SeedRow):
    """Rows with ``weekday``, ``opens`` and ``closes`` columns."""

    @model_validator(mode="after")
    def _in_order(self) -> _WeeklyHoursRow:
        _after(self.opens, self.closes, start_name="opens", end_name="closes")  # type: ignore[attr-defined]
        return self


class BusinessHoursRow(_WeeklyHoursRow):
    FILE = "business_hours.csv"
    region: Code
    weekday: Weekday
    opens: ClockTime
    closes: EndTime


class HolidayRow(SeedRow):
    FILE = "holidays.csv"
    region: Code
    date: date
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class SkillRow(SeedRow):
    FILE = "skills.csv"
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CustomerRow(SeedRow):
    FILE = "customers.csv"
    code: Code
    name: Name
    phone: Phone | None = None
    email: Email | None = None


class SiteRow(SeedRow):
    FILE = "sites.csv"
    code: Code
    customer: Code
    region: Code
    name: Name
    address: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    contact_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    contact_phone: Phone | None = None
    access_notes: Annotated[str, StringConstraints(max_length=500)] | None = None


class SiteAccessHoursRow(_WeeklyHoursRow):
    FILE = "site_access_hours.csv"
    site: Code
    weekday: Weekday
    opens: ClockTime
    closes: EndTime


class ContractRow(SeedRow):
    FILE = "contracts.csv"
    code: Code
    customer: Code
    name: Name
    kind: ContractKind
    tier: Tier
    sla_response_hours: Annotated[int, Field(gt=0, le=8760)] | None = None
    coverage: Coverage = Coverage.business_hours
    quota_period: QuotaPeriod | None = None
    quota_hours: Annotated[int, Field(ge=0)] | None = None
    quota_onsite_days: Annotated[int, Field(ge=0, le=31)] | None = None
    overage_policy: OveragePolicy = OveragePolicy.block
    hourly_rate: Money = 0
    monthly_fee: Money | None = None
    prepaid_hours: Annotated[int, Field(gt=0)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "RUB"
    include_travel: bool = False
    include_remote: bool = False
    valid_from: date
    valid_to: date | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> ContractRow:
        """The same rules the contract table checks, named by column."""
        quota = {
            "quota_period": self.quota_period,
            "quota_hours": self.quota_hours,
            "quota_onsite_days": self.quota_onsite_days,
        }
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise FieldRuleError("valid_to", f"valid_to {self.valid_to} is before valid_from")
        given = [name for name, value in quota.items() if value is not None]
        if given and len(given) < len(quota):
            missing = next(name for name in quota if name not in given)
            raise FieldRuleError(
                missing, "a quota needs quota_period, quota_hours and quota_onsite_days"
            )
        if self.kind is ContractKind.managed:
            if not given:
                raise FieldRuleError("quota_period", "managed contracts need a quota")
            if self.sla_response_hours is None:
                raise FieldRuleError("sla_response_hours", "managed contracts need an SLA")
        if self.kind is ContractKind.prepaid_hours and self.prepaid_hours is None:
            raise FieldRuleError("prepaid_hours", "prepaid contracts need prepaid_hours")
        if self.kind is ContractKind.time_and_materials:
            if given or self.prepaid_hours is not None:
                field = given[0] if given else "prepaid_hours"
                raise FieldRuleError(field, "time-and-materials contracts have no quota or block")
            if self.hourly_rate <= 0:
                raise FieldRuleError("hourly_rate", "time-and-materials contracts need a rate")
        if self.overage_policy is OveragePolicy.bill_as_tm and self.hourly_rate <= 0:
            raise FieldRuleError("hourly_rate", "billing overage as T&M needs an hourly_rate")
        return self


class TechnicianRow(SeedRow):
    FILE = "technicians.csv"
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    region: Code
    email: Email | None = None
    phone: Phone | None = None
    home_address: Annotated[str, StringConstraints(max_length=300)] | None = None
    home_lat: Annotated[float, Field(ge=-90, le=90)]
    home_lon: Annotated[float, Field(ge=-180, le=180)]
    max_work_minutes: Annotated[int, Field(gt=0, le=1440)] = 480
    hourly_cost: Money = 0
    active: bool = True


class TechnicianSkillRow(SeedRow):
    FILE = "technician_skills.csv"
    technician: Code
    skill: Code
    level: Level


class WorkPatternRow(SeedRow):
    """``ends`` at or before ``starts`` is a shift that ends after midnight."""

    FILE = "work_patterns.csv"
    technician: Code
    weekday: Weekday
    starts: ClockTime
    ends: EndTime
    break_minutes: Annotated[int, Field(ge=0, le=240)] = 0
    break_earliest: EndTime | None = None
    break_latest: EndTime | None = None

    @model_validator(mode="after")
    def _break_is_complete(self) -> WorkPatternRow:
        has_window = self.break_earliest is not None and self.break_latest is not None
        if self.break_minutes and not has_window:
            raise FieldRuleError("break_earliest", "a break needs break_earliest and break_latest")
        if not self.break_minutes and (self.break_earliest or self.break_latest):
            raise FieldRuleError(
                "break_minutes", "break_earliest and break_latest need break_minutes"
            )
        if has_window and self.break_latest - self.break_earliest < self.break_minutes:  # type: ignore[operator]
            raise FieldRuleError(
                "break_latest",
                f"the break window {format_hhmm(self.break_earliest)}-"  # type: ignore[arg-type]
                f"{format_hhmm(self.break_latest)} is shorter than {self.break_minutes} minutes",  # type: ignore[arg-type]
            )
        return self


class CalendarExceptionRow(SeedRow):
    FILE = "calendar_exceptions.csv"
    technician: Code
    kind: ExceptionKind
    starts_day: DayOffset
    starts: DayTime
    ends_day: DayOffset
    ends: DayTime
    note: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> CalendarExceptionRow:
        if (self.ends_day, self.ends) <= (self.starts_day, self.starts):
            raise FieldRuleError("ends_day", "the exception ends before it starts")
        return self


class UserRow(SeedRow):
    """Demo accounts only: the password column is plain text and hashed on load."""

    FILE = "users.csv"
    username: Annotated[
        str, StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9._-]+$")
    ]
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    role: Role
    technician: Code | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=128)]

    @model_validator(mode="after")
    def _technician_link(self) -> UserRow:
        if (self.role is Role.technician) != (self.technician is not None):
            raise FieldRuleError(
                "technician", "technician accounts, and only they, name their technician"
            )
        return self


class RequestRow(SeedRow):
    FILE = "requests.csv"
    code: Code
    site: Code
    contract: Code
    channel: Channel
    urgency: Urgency = Urgency.normal
    contact_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    registered_minutes_ago: Annotated[int, Field(ge=0, le=525_600)]
    triage: Triage = Triage.pending
    remote_minutes: Annotated[int, Field(ge=0, le=1440)] = 0


class VisitRow(SeedRow):
    FILE = "visits.csv"
    code: Code
    request: Code
    duration_minutes: Annotated[int, Field(gt=0, le=1440)]
    priority: Annotated[int, Field(ge=1, le=100)] = 50
    earliest_day: DayOffset
    due_day: DayOffset
    pinned_technician: Code | None = None
    pinned_day: DayOffset | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _days_in_order(self) -> VisitRow:
        if self.due_day < self.earliest_day:
            raise FieldRuleError(
                "due_day", f"due_day {self.due_day} is before earliest_day {self.earliest_day}"
            )
        if self.pinned_day is not None and not self.earliest_day <= self.pinned_day <= self.due_day:
            raise FieldRuleError(
                "pinned_day", f"pinned_day {self.pinned_day} is outside earliest_day..due_day"
            )
        if self.pinned_day is not None and self.pinned_technician is None:
            raise FieldRuleError("pinned_technician", "pinned_day needs a pinned_technician")
        return self


class VisitSkillRow(SeedRow):
    FILE = "visit_skills.csv"
    visit: Code
    skill: Code
    min_level: Level = 1


class VisitWindowRow(SeedRow):
    FILE = "visit_windows.csv"
    visit: Code
    day: DayOffset
    starts: ClockTime
    ends: EndTime

    @model_validator(mode="after")
    def _in_order(self) -> VisitWindowRow:
        _after(self.starts, self.ends, start_name="starts", end_name="ends")
        return self


# Load order: every file comes after the files it refers to.
ROW_TYPES: tuple[type[SeedRow], ...] = (
    RegionRow,
    BusinessHoursRow,
    HolidayRow,
    SkillRow,
    CustomerRow,
    SiteRow,
    SiteAccessHoursRow,
    ContractRow,
    TechnicianRow,
    TechnicianSkillRow,
    WorkPatternRow,
    CalendarExceptionRow,
    UserRow,
    RequestRow,
    VisitRow,
    VisitSkillRow,
    VisitWindowRow,
)
