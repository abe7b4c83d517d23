"""HTTP schemas of the work: service requests (intake) and visits (Create / Update / Read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas.catalogue import Input, Lat, Lon
from dispatch.models import Channel, Triage, Urgency, VisitStatus
from schedules.models import Tier


class NewSite(Input):
    name: str = Field(min_length=1, max_length=200, examples=["Branch office"])
    address: str = Field(min_length=1, max_length=300, examples=["Arbat 10, Moscow"])
    region: str = Field(max_length=16, examples=["MSK"], description="Region code.")
    lat: Lat | None = Field(None, description="Without lat and lon the address is geocoded.")
    lon: Lon | None = None


class RequestCreate(Input):
    customer: str = Field(max_length=32, examples=["C-0007"])
    contract: str = Field(max_length=32, examples=["CT-0012"])
    site: str | None = Field(None, max_length=32, examples=["S-0100"], description="Or new_site.")
    new_site: NewSite | None = None
    channel: Channel = Field(examples=["phone"])
    urgency: Urgency = Urgency.normal
    contact_name: str = Field(min_length=1, max_length=100, examples=["Anna Smirnova"])
    contact_phone: str | None = Field(None, max_length=32)
    contact_email: str | None = Field(None, max_length=254)
    description: str = Field(min_length=1, max_length=4000, examples=["Printer jams"])
    registered_at: AwareDatetime | None = Field(None, description="Default: now.")


class RequestRead(BaseModel):
    code: str = Field(examples=["SR-000123"])
    customer: str
    contract: str
    site: str
    region: str
    channel: Channel
    urgency: Urgency
    triage: Triage
    contact_name: str
    contact_phone: str | None
    contact_email: str | None
    description: str
    registered_at: datetime
    sla_due_at: datetime | None = Field(description="When the SLA's response is due.")
    resolved_at: datetime | None
    remote_minutes: int
    visits: list[str] = Field(description="Codes of its visits.")
    revision: int


class Resolution(Input):
    minutes: int = Field(ge=1, le=1440, examples=[25], description="First-line time in all.")
    at: AwareDatetime | None = Field(None, description="Default: now.")


class Window(Input):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class Escalation(Input):
    duration_minutes: int = Field(ge=1, le=1440, examples=[90])
    skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=dict, examples=[{"printers": 2}], description="Skill code -> min level."
    )
    windows: list[Window] = Field(default_factory=list, max_length=20)
    earliest_date: date | None = None
    due_date: date | None = None
    notes: str | None = Field(None, max_length=4000)


class Cancellation(Input):
    reason: str = Field(min_length=1, max_length=500, examples=["Customer fixed it"])


class VisitRead(BaseModel):
    code: str = Field(examples=["V-000123"])
    request: str
    customer: str
    contract: str
    tier: Tier
    site: str
    region: str
    status: VisitStatus
    duration_minutes: int
    priority: int
    earliest_date: date
    due_date: date
    technician: str | None
    pinned_technician: str | None
    pinned_date: date | None
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    arrival_window: tuple[datetime, datetime] | None
    skills: dict[str, int]
    windows: list[tuple[datetime, datetime]]
    notes: str | None
    revision: int = Field(description="Send as If-Match when changing the visit.")


class VisitUpdate(Input):
    """What a dispatcher may change directly; assignment goes through the move operations."""

    duration_minutes: int | None = Field(None, ge=1, le=1440, examples=[120])
    priority: int | None = Field(None, ge=1, le=100)
    earliest_date: date | None = None
    due_date: date | None = None
    notes: str | None = Field(None, max_length=4000)
