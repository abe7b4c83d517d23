"""HTTP schemas of planning: plan requests and their jobs, plans and publication, re-plans,
manual moves and route locks. Times are aware UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.models import JobStatus, PlanStatus, VisitStatus

RegionCode = Annotated[str, Field(min_length=1, max_length=16, examples=["MSK-C"])]
# Days a plan, a route or a board may be about: the calendar around them stays in range.
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)
# Fields named "date" cannot name their type "date" too.
Day = date
PlanDay = Annotated[date, Field(ge=EARLIEST, le=LATEST)]
TechnicianCode = Annotated[str, Field(min_length=1, max_length=32, examples=["T-0042"])]


class Input(BaseModel):
    # Unknown fields are refused: nobody slips a status, a job id or a plan id past the API.
    model_config = ConfigDict(extra="forbid")


# Plans and jobs ------------------------------------------------------------------------------


class PlanCreate(Input):
    region: RegionCode | None = Field(None, description="Region code; every region when null.")
    starts_on: PlanDay = Field(
        examples=["2026-11-27"], description="First local day of the plan (region's timezone)."
    )
    days: int = Field(1, ge=1, le=31, examples=[1])
    strategy: Literal["optimised", "greedy"] = Field(
        "optimised", description="greedy: the baseline a dispatcher would make by hand."
    )
    time_limit_seconds: int | None = Field(
        None,
        ge=1,
        examples=[30],
        description="Solver budget per region; default the server's solver time limit, "
        "at most its max_plan_seconds.",
    )
    publish: bool = Field(False, description="Publish each region's plan once it is stored.")


class TaskRead(BaseModel):
    """One region of a job (or one territory of an oversized region) as workers run it."""

    region: str = Field(examples=["MSK-C"])
    territory: int | None = Field(
        description="1..territories for a territory's task; null for the region's own task "
        "(which cuts an oversized region and assembles its territories).",
        examples=[None],
    )
    territories: int = Field(description="0: the region is planned whole.", examples=[0])
    status: JobStatus
    progress: float = Field(ge=0, le=1, examples=[0.5])
    message: str = Field(examples=["MSK-C: 120 visits, 12 technicians: solving"])
    attempts: int = Field(
        description="Starts so far; above 1, a worker that stopped was taken over.",
        examples=[1],
    )
    started_at: datetime | None
    finished_at: datetime | None


class JobRead(BaseModel):
    id: int = Field(examples=[17])
    status: JobStatus
    region: str | None = Field(description="Region code; null: every region.")
    starts_on: date
    days: int
    strategy: str
    time_limit_seconds: int
    publish: bool
    progress: float = Field(ge=0, le=1, examples=[0.45])
    message: str = Field(examples=["MSK-C: 120 visits, 12 technicians: solving"])
    plans: list[str] = Field(
        description="Links to the plans the job stored.", examples=[["/api/v1/plans/42"]]
    )
    plan_ids: list[int]
    result: dict = Field(
        description="Totals (assigned, unassigned, unassigned_by_reason, travel_km), "
        "failed_regions, and per region its plan or its error.",
    )
    requested_by: str | None = Field(description="Username.")
    tasks: list[TaskRead] = Field(
        description="Its regions (and territories) as the workers run them, side by side."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PlanSummary(BaseModel):
    visits: int = Field(examples=[120])
    technicians: int = Field(examples=[12])
    assigned: int = Field(examples=[114])
    unassigned: int = Field(examples=[6])
    unassigned_by_reason: dict[str, int] = Field(examples=[{"quota_exhausted": 2}])
    routes: int
    travel_km: float
    travel_hours: float
    late_minutes: float


class PlanRead(BaseModel):
    id: int = Field(examples=[42])
    region: str
    starts_on: date
    days: int
    version: int
    status: PlanStatus
    strategy: str
    solver_status: str | None
    objective: int | None
    wall_seconds: float | None
    created_at: datetime
    published_at: datetime | None
    summary: PlanSummary


class LateVisit(BaseModel):
    visit: str
    late_minutes: int


class PlanDetail(PlanRead):
    utilisation: dict[str, float] = Field(
        description="Technician code -> planned work over shift time.", examples=[{"T-0042": 0.8}]
    )
    sla_late: list[LateVisit]
    quotas: dict[str, dict[str, int | None]] = Field(
        description="contract/period -> remaining_minutes_before, planned_minutes, "
        "days_remaining_before; null where the contract sets no such quota (no limit)."
    )


class PublishRead(BaseModel):
    plan: PlanRead
    superseded: list[int] = Field(description="Plans this one replaced.")
    scheduled: int = Field(description="Visits placed by the plan.")
    unscheduled: int = Field(description="Visits sent back to unscheduled.")
    ledger_entries: int


# Manual moves --------------------------------------------------------------------------------


class AssignRequest(Input):
    technician: TechnicianCode
    date: PlanDay = Field(examples=["2026-11-27"], description="Local day of the route.")
    position: int | None = Field(
        None, ge=0, le=1000, description="Place in the route, 0 = first; default: cheapest."
    )
    pin: bool = Field(False, description="Keep it there in later plans.")


class PinRequest(Input):
    technician: TechnicianCode | None = Field(None, description="Default: its technician now.")
    date: PlanDay | None = Field(None, description="Default: the local day it is planned on.")
    position: int | None = Field(None, ge=0, le=1000)


class VisitPlacement(BaseModel):
    visit: str = Field(examples=["V-000123"])
    status: VisitStatus
    technician: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    pinned_technician: str | None
    pinned_date: date | None
    pinned_position: int | None
    revision: int = Field(description="Also the ETag: send it as If-Match on the next change.")


class MoveRead(BaseModel):
    visit: VisitPlacement
    route: list[VisitPlacement] = Field(description="The technician's route after the move.")


class RouteLockRead(BaseModel):
    technician: str = Field(examples=["T-0042"])
    date: Day
    locked_by: str | None = Field(description="Username.")
    created_at: datetime


class ReplanRead(PlanDetail):
    published: bool
