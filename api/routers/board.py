"""Dispatchers' API: a region's day as a board, the visits its latest plan left out and its
routes as GeoJSON: the routes in force, or as a chosen plan (a draft, say) placed them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.deps import SessionDep
from api.routers.planning import INVALID, NOT_FOUND, REFUSED, STAFF
from api.schemas import board as s
from api.schemas.planning import EARLIEST, LATEST
from dispatch import board as days
from dispatch import planning
from dispatch.models import Plan, Region

router = APIRouter(prefix="/api/v1", tags=["planning"], responses=REFUSED)
DayQuery = Annotated[
    date | None,
    Query(
        alias="date",
        ge=EARLIEST,
        le=LATEST,
        description="Local day; default: today in the region.",
    ),
]
PlanQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=2**31 - 1,
        description="A plan of the region covering the day (a draft, say): the day as that "
        "plan placed it, with visits' current status. Default: the routes in force.",
    ),
]
SHOWN = {**NOT_FOUND, **INVALID}


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def _day_and_plan(
    session: Session, region: Region, day: date | None, plan_id: int | None
) -> tuple[date, Plan | None]:
    day = day or days.today(region)
    if plan_id is None:
        return day, None
    return day, days.plan_of_day(session, region=region, day=day, plan_id=plan_id)


def _ref(plan: Plan | None) -> s.PlanRef | None:
    return s.PlanRef(**plan.model_dump()) if plan is not None else None


def _stop(sequence: int, stop: days.Stop) -> s.BoardStop:
    v = stop.visit
    return s.BoardStop(
        sequence=sequence,
        visit=v.code,
        status=v.status,
        planned_start=stop.planned_start,
        planned_end=stop.planned_end,
        arrival_window=s.Window(starts_at=v.eta_earliest, ends_at=v.eta_latest)
        if v.eta_earliest and v.eta_latest
        else None,
        travel_seconds=stop.travel_seconds,
        travel_metres=stop.travel_metres,
        site=stop.site.name,
        lat=stop.site.lat,
        lon=stop.site.lon,
        tier=stop.contract.tier,
        late=stop.late,
        pinned=v.pinned_technician_id is not None,
        revision=v.revision,
        skills=stop.skills,
    )


def _technician_day(day: days.TechnicianDay) -> s.TechnicianDay:
    route, tech = day.route, day.route.technician
    return s.TechnicianDay(
        technician=tech.code,
        name=tech.name,
        home_lat=tech.home_lat,
        home_lon=tech.home_lon,
        locked=day.locked,
        shifts=[
            s.ShiftRead(
                starts_at=x.starts_at,
                ends_at=x.ends_at,
                breaks=[
                    s.BreakWindow(minutes=b.minutes, earliest=b.earliest, latest=b.latest)
                    for b in x.breaks
                ],
            )
            for x in day.shifts
        ],
        stops=[_stop(k, stop) for k, stop in enumerate(route.stops)],
        totals=s.DayTotals(
            stops=len(route.stops),
            travel_seconds=route.travel_seconds,
            travel_metres=route.travel_metres,
            work_minutes=route.work_minutes,
            shift_minutes=day.shift_minutes,
            utilisation=day.utilisation,
        ),
    )


@router.get(
    "/regions/{code}/board",
    dependencies=STAFF,
    response_model=s.Board,
    summary="A region's day per technician",
    responses=SHOWN,
)
def board(code: str, session: SessionDep, day: DayQuery = None, plan: PlanQuery = None) -> s.Board:
    """Shifts with their break windows, stops in order with times and travel from the
    previous stop (home to home), and totals. Times are UTC; the region's timezone is named.
    With `plan`, the stops and times are that plan's (404 when the region has no such plan,
    422 when it does not cover the day); `shows_plan` names the plan shown."""
    region = planning.region_by_code(session, code)
    day, shown = _day_and_plan(session, region, day, plan)
    return s.Board(
        region=region.code,
        timezone=region.timezone,
        date=day,
        shows_plan=_ref(shown),
        technicians=[
            _technician_day(x)
            for x in days.technician_days(session, region=region, day=day, plan=shown)
        ],
    )


@router.get(
    "/regions/{code}/unassigned",
    dependencies=STAFF,
    response_model=s.UnassignedList,
    summary="Visits the latest plan of a day left out, and why",
    responses=SHOWN,
)
def unassigned(
    code: str, session: SessionDep, day: DayQuery = None, plan: PlanQuery = None
) -> s.UnassignedList:
    """The visits the region's latest plan covering the day (or `plan`) left out, with the
    visit's status, tier and revision now."""
    region = planning.region_by_code(session, code)
    day, chosen = _day_and_plan(session, region, day, plan)
    chosen = chosen or days.latest_plan(session, region=region, day=day)
    left = days.left_out(session, plan=chosen)
    tiers = days.tiers(session, visit_ids=[v.id for _, v, _ in left])  # type: ignore[misc]
    return s.UnassignedList(
        region=region.code,
        date=day,
        plan=s.PlanRef(**chosen.model_dump()),
        items=[
            s.UnassignedVisit(
                visit=v.code,
                status=v.status,
                reason=u.reason,
                detail=u.detail,
                figures=u.figures,
                site=site.name,
                duration_minutes=v.duration_minutes,
                earliest_date=v.earliest_date,
                due_date=v.due_date,
                tier=tiers[v.id],  # type: ignore[index]
                revision=v.revision,
            )
            for u, v, site in left
        ],
    )


def _features(route: days.Route) -> list[s.RouteFeature | s.StopFeature]:
    tech = route.technician
    home = [tech.home_lon, tech.home_lat]
    line = s.RouteFeature(
        geometry=s.LineString(
            coordinates=[home, *([x.site.lon, x.site.lat] for x in route.stops), home]
        ),
        properties=s.RouteProperties(
            technician=tech.code,
            stops=len(route.stops),
            travel_km=round(route.travel_metres / 1000, 1),
        ),
    )
    points = [
        s.StopFeature(
            geometry=s.Point(coordinates=[x.site.lon, x.site.lat]),
            properties=s.StopProperties(
                technician=tech.code,
                visit=x.visit.code,
                sequence=k,
                planned_start=x.planned_start,
                status=x.visit.status,
            ),
        )
        for k, x in enumerate(route.stops)
    ]
    return [line, *points]


@router.get(
    "/regions/{code}/routes.geojson",
    dependencies=STAFF,
    response_model=s.FeatureCollection,
    response_class=GeoJSONResponse,
    summary="A region's routes of a day as GeoJSON",
    responses=SHOWN,
)
def routes_geojson(
    code: str, session: SessionDep, day: DayQuery = None, plan: PlanQuery = None
) -> s.FeatureCollection:
    """A LineString per technician with stops (home, the stops, home; [lon, lat]) and a
    Point per stop; with `plan`, as that plan placed them (as the board)."""
    region = planning.region_by_code(session, code)
    day, shown = _day_and_plan(session, region, day, plan)
    routes = days.routes(session, region=region, day=day, plan=shown)
    return s.FeatureCollection(
        shows_plan=_ref(shown),
        features=[feature for route in routes if route.stops for feature in _features(route)],
    )
