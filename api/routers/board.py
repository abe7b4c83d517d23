"""Dispatchers' API: a region's day as a board, the visits its latest plan left out and its
routes as GeoJSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import SessionDep
from api.routers.planning import NOT_FOUND, REFUSED, STAFF
from api.schemas import board as s
from api.schemas.planning import EARLIEST, LATEST
from dispatch import board as days
from dispatch import planning

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


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def _stop(sequence: int, stop: days.Stop) -> s.BoardStop:
    v = stop.visit
    return s.BoardStop(
        sequence=sequence,
        visit=v.code,
        status=v.status,
        planned_start=v.planned_start,  # type: ignore[arg-type]
        planned_end=v.planned_end,  # type: ignore[arg-type]
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
    responses=NOT_FOUND,
)
def board(code: str, session: SessionDep, day: DayQuery = None) -> s.Board:
    """Shifts with their break windows, stops in order with times and travel from the
    previous stop (the region's travel model, home to home), and totals. Times are UTC; the
    region's timezone is named."""
    region = planning.region_by_code(session, code)
    day = day or days.today(region)
    return s.Board(
        region=region.code,
        timezone=region.timezone,
        date=day,
        technicians=[
            _technician_day(x) for x in days.technician_days(session, region=region, day=day)
        ],
    )


@router.get(
    "/regions/{code}/unassigned",
    dependencies=STAFF,
    response_model=s.UnassignedList,
    summary="Visits the latest plan of a day left out, and why",
    responses=NOT_FOUND,
)
def unassigned(code: str, session: SessionDep, day: DayQuery = None) -> s.UnassignedList:
    region = planning.region_by_code(session, code)
    day = day or days.today(region)
    plan = days.latest_plan(session, region=region, day=day)
    return s.UnassignedList(
        region=region.code,
        date=day,
        plan=s.PlanRef(**plan.model_dump()),
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
            )
            for u, v, site in days.left_out(session, plan=plan)
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
                planned_start=x.visit.planned_start,  # type: ignore[arg-type]
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
    responses=NOT_FOUND,
)
def routes_geojson(code: str, session: SessionDep, day: DayQuery = None) -> s.FeatureCollection:
    """A LineString per technician with stops (home, the stops, home; [lon, lat]) and a
    Point per stop."""
    region = planning.region_by_code(session, code)
    routes = days.routes(session, region=region, day=day or days.today(region))
    return s.FeatureCollection(
        features=[feature for route in routes if route.stops for feature in _features(route)]
    )
