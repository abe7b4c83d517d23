"""HTTP schemas of the catalogue: regions, skills, technicians and their calendars, customers,
sites and contracts (Create / Update / Read). References are codes, never database ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, field_validator

from schedules.models import (
    ContractKind,
    Coverage,
    ExceptionKind,
    OveragePolicy,
    QuotaPeriod,
    Tier,
)

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Minute = Annotated[int, Field(ge=0, le=2880)]
Weekday = Annotated[int, Field(ge=0, le=6, description="0 = Monday .. 6 = Sunday")]


class Input(BaseModel):
    # Unknown fields are refused: nobody slips an id, a revision or a price past the API.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No database column holds NUL (PostgreSQL refuses it outright).
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


def partial(model: type[BaseModel], *, without: frozenset[str]) -> type[BaseModel]:
    """The Update schema of a Create schema: the same fields minus ``without``, all optional
    (absent = unchanged); the service re-validates the whole row."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in without:
            continue
        optional = info._copy()  # type: ignore[attr-defined]
        optional.default = None
        optional.default_factory = None
        fields[name] = (info.annotation | None, optional)  # type: ignore[operator]
    name = model.__name__.removesuffix("Create") + "Update"
    return create_model(name, __base__=Input, **fields)


class RegionCreate(Input):
    code: str = Field(min_length=1, max_length=16, examples=["MSK"])
    name: Name = Field(examples=["Moscow"])
    timezone: str = Field(max_length=64, examples=["Europe/Moscow"], description="IANA name.")
    avg_speed_kmh: float = Field(30.0, gt=0, le=130)
    detour_factor: float = Field(1.3, ge=1, le=3)


class RegionRead(BaseModel):
    code: str = Field(examples=["MSK"])
    name: str
    timezone: str
    avg_speed_kmh: float
    detour_factor: float
    revision: int
    created_at: datetime


class SkillCreate(Input):
    code: Code = Field(examples=["network"])
    name: Name = Field(examples=["Networking"])


class SkillRead(BaseModel):
    code: str = Field(examples=["network"])
    name: str


class TechnicianCreate(Input):
    code: Code = Field(examples=["T-0042"])
    name: Name = Field(examples=["Ivan Petrov"])
    region: str = Field(max_length=16, examples=["MSK"], description="Region code.")
    home_lat: Lat = Field(examples=[55.75])
    home_lon: Lon = Field(examples=[37.62])
    home_address: str | None = Field(None, max_length=300)
    email: str | None = Field(None, max_length=254, examples=["ivan@example.com"])
    phone: str | None = Field(None, max_length=32)
    max_work_minutes: int = Field(480, gt=0, le=1440)
    hourly_cost_cents: int = Field(0, ge=0, le=10**9)
    active: bool = True
    skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=dict,
        examples=[{"network": 3, "printers": 2}],
        description="Skill code -> level 1 (trainee) .. 5 (expert); replaces all on update.",
    )


class TechnicianRead(BaseModel):
    code: str = Field(examples=["T-0042"])
    name: str
    region: str
    home_lat: float
    home_lon: float
    home_address: str | None
    email: str | None
    phone: str | None
    max_work_minutes: int
    hourly_cost_cents: int
    active: bool
    skills: dict[str, int]
    revision: int
    created_at: datetime


class PatternDay(Input):
    weekday: Weekday
    starts_minute: int = Field(ge=0, le=1439, examples=[540], description="Local minutes.")
    ends_minute: Minute = Field(examples=[1080], description="Past 1440: ends after midnight.")
    break_minutes: int = Field(0, ge=0, le=240, examples=[30])
    break_earliest: Minute | None = Field(None, examples=[720])
    break_latest: Minute | None = Field(None, examples=[840])


class Pattern(Input):
    days: list[PatternDay] = Field(max_length=7)


class ExceptionCreate(Input):
    kind: ExceptionKind = Field(examples=["vacation"])
    starts_at: AwareDatetime = Field(examples=["2026-12-01T00:00:00+03:00"])
    ends_at: AwareDatetime = Field(examples=["2026-12-08T00:00:00+03:00"])
    note: str | None = Field(None, max_length=500)


class ExceptionRead(BaseModel):
    id: int = Field(examples=[17])
    kind: ExceptionKind = Field(examples=["vacation"])
    starts_at: datetime
    ends_at: datetime
    note: str | None


class HolidayPut(Input):
    name: Name = Field(examples=["New Year"])


class HolidayRead(BaseModel):
    day: date = Field(examples=["2027-01-01"])
    name: str = Field(examples=["New Year"])


class OpeningDay(Input):
    weekday: Weekday
    opens_minute: int = Field(ge=0, le=1439, examples=[540])
    closes_minute: int = Field(ge=1, le=1440, examples=[1080])


class BusinessHours(Input):
    days: list[OpeningDay] = Field(max_length=7)


class CustomerCreate(Input):
    code: Code = Field(examples=["C-0007"])
    name: str = Field(min_length=1, max_length=200, examples=["Aurora LLC"])
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)


class CustomerRead(BaseModel):
    code: str = Field(examples=["C-0007"])
    name: str
    phone: str | None
    email: str | None
    revision: int
    created_at: datetime


class SiteCreate(Input):
    code: Code = Field(examples=["S-0100"])
    customer: str = Field(max_length=32, description="Customer code.", examples=["C-0007"])
    region: str = Field(max_length=16, description="Region code.", examples=["MSK"])
    name: str = Field(min_length=1, max_length=200, examples=["Head office"])
    address: str = Field(min_length=1, max_length=300, examples=["Tverskaya 1, Moscow"])
    lat: Lat = Field(examples=[55.757])
    lon: Lon = Field(examples=[37.615])
    contact_name: str | None = Field(None, max_length=100)
    contact_phone: str | None = Field(None, max_length=32)
    access_notes: str | None = Field(None, max_length=500)


class SiteRead(BaseModel):
    code: str = Field(examples=["S-0100"])
    customer: str
    region: str
    name: str
    address: str
    lat: float
    lon: float
    contact_name: str | None
    contact_phone: str | None
    access_notes: str | None
    revision: int
    created_at: datetime


class ContractCreate(Input):
    code: Code = Field(examples=["CT-0012"])
    customer: str = Field(max_length=32, description="Customer code.", examples=["C-0007"])
    name: str = Field(min_length=1, max_length=200, examples=["Managed IT services"])
    kind: ContractKind
    tier: Tier
    sla_response_hours: int | None = Field(None, gt=0, le=24 * 365, examples=[8])
    coverage: Coverage = Coverage.business_hours
    quota_period: QuotaPeriod | None = None
    quota_hours: int | None = Field(None, ge=0, le=100_000, examples=[40])
    quota_onsite_days: int | None = Field(None, ge=0, le=31 * 12, examples=[10])
    overage_policy: OveragePolicy = OveragePolicy.block
    hourly_rate_cents: int = Field(0, ge=0, le=10**9, examples=[300000])
    monthly_fee_cents: int | None = Field(None, ge=0, le=10**12)
    prepaid_hours: int | None = Field(None, gt=0, le=100_000)
    currency: str = Field("RUB", pattern=r"^[A-Z]{3}$")
    include_travel: bool = False
    include_remote: bool = False
    valid_from: date
    valid_to: date | None = None


class ContractRead(BaseModel):
    code: str = Field(examples=["CT-0012"])
    customer: str
    name: str
    kind: ContractKind
    tier: Tier
    sla_response_hours: int | None
    coverage: Coverage
    quota_period: QuotaPeriod | None
    quota_hours: int | None
    quota_onsite_days: int | None
    overage_policy: OveragePolicy
    hourly_rate_cents: int
    monthly_fee_cents: int | None
    prepaid_hours: int | None
    currency: str
    include_travel: bool
    include_remote: bool
    valid_from: date
    valid_to: date | None
    revision: int
    created_at: datetime


# Codes and owners are fixed once created; a contract's kind too (a new kind is a new contract).
RegionUpdate = partial(RegionCreate, without=frozenset({"code"}))
SkillUpdate = partial(SkillCreate, without=frozenset({"code"}))
TechnicianUpdate = partial(TechnicianCreate, without=frozenset({"code"}))
CustomerUpdate = partial(CustomerCreate, without=frozenset({"code"}))
SiteUpdate = partial(SiteCreate, without=frozenset({"code", "customer"}))
ContractUpdate = partial(ContractCreate, without=frozenset({"code", "customer", "kind"}))
