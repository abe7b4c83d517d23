"""HTTP schemas of a region's day: the board, unassigned visits and routes as GeoJSON. Times
are aware UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.planning import Day
from dispatch.models import PlanStatus, VisitStatus
from schedules.models import Tier


class Window(BaseModel):
    starts_at: datetime
    ends_at: datetime


class BreakWindow(BaseModel):
    minutes: int = Field(examples=[30])
    earliest: datetime = Field(description="The break starts no earlier than this.")
    latest: datetime = Field(description="And ends no later than this.")


class ShiftRead(BaseModel):
    starts_at: datetime
    ends_at: datetime
    breaks: list[BreakWindow]


class BoardStop(BaseModel):
    sequence: int = Field(examples=[0])
    visit: str = Field(examples=["V-000123"])
    status: VisitStatus
    planned_start: datetime
    planned_end: datetime
    arrival_window: Window | None = Field(description="What the customer was told.")
    travel_seconds: int = Field(description="From the previous stop (or home).")
    travel_metres: int
    site: str
    lat: float
    lon: float
    tier: Tier
    late: bool = Field(description="Planned to start after the request's SLA deadline.")
    pinned: bool
    revision: int
    skills: dict[str, int] = Field(
        default_factory=dict,
        examples=[{"network": 3}],
        description="Skills the visit needs: skill code -> minimum level (1-5).",
    )


class DayTotals(BaseModel):
    stops: int
    travel_seconds: int = Field(description="Home, the stops and back home.")
    travel_metres: int
    work_minutes: int
    shift_minutes: int = Field(description="Shift time less breaks.")
    utilisation: float | None = Field(description="Work over shift time; null without a shift.")


class TechnicianDay(BaseModel):
    technician: str
    name: str
    home_lat: float
    home_lon: float
    locked: bool = Field(description="The route is locked against re-planning.")
    shifts: list[ShiftRead]
    stops: list[BoardStop]
    totals: DayTotals


class PlanRef(BaseModel):
    id: int
    version: int
    status: PlanStatus
    starts_on: date
    days: int


class Board(BaseModel):
    region: str
    timezone: str = Field(examples=["Europe/Moscow"], description="The region's IANA timezone.")
    date: Day
    shows_plan: PlanRef | None = Field(
        None,
        description="The plan whose stops the board shows (asked for with `plan`); null: the "
        "routes in force, manual moves included.",
    )
    technicians: list[TechnicianDay]


class UnassignedVisit(BaseModel):
    visit: str
    status: VisitStatus = Field(description="The visit's status now.")
    reason: str = Field(examples=["quota_exhausted"])
    detail: str
    figures: dict[str, int] = Field(examples=[{"needed_seconds": 3600, "remaining_seconds": 0}])
    site: str
    duration_minutes: int
    earliest_date: date
    due_date: date
    tier: Tier
    revision: int = Field(description="The visit's revision now (If-Match of a move).")


class UnassignedList(BaseModel):
    region: str
    date: Day
    plan: PlanRef = Field(
        description="The plan asked for with `plan`, else the region's latest plan covering "
        "the date."
    )
    items: list[UnassignedVisit]


class LineString(BaseModel):
    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]] = Field(description="[lon, lat] pairs.")


class Point(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: list[float] = Field(description="[lon, lat].")


class RouteProperties(BaseModel):
    kind: Literal["route"] = "route"
    technician: str
    stops: int
    travel_km: float


class StopProperties(BaseModel):
    kind: Literal["stop"] = "stop"
    technician: str
    visit: str
    sequence: int
    planned_start: datetime
    status: VisitStatus


class RouteFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: LineString
    properties: RouteProperties


class StopFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: Point
    properties: StopProperties


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    # A GeoJSON foreign member (RFC 7946, section 6.1): readers that do not know it skip it.
    shows_plan: PlanRef | None = Field(
        None, description="As the board's: the plan shown, or null for the routes in force."
    )
    features: list[RouteFeature | StopFeature]
