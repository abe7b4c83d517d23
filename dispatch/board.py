"""A region's day: technicians' routes, shifts, totals and locks; the latest plan covering it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

import routing
from dispatch import adapter
from dispatch.adapter import Horizon
from dispatch.models import (
    Contract,
    Plan,
    PlanStatus,
    PlanUnassigned,
    Region,
    RouteLock,
    ServiceRequest,
    Site,
    Technician,
    Visit,
    VisitStatus,
)
from schedules.calendars import ShiftSpan
from schedules.errors import NotFoundError
from schedules.periods import local_day

# The stops a day shows (on the board and on a technician's phone): everything planned and
# not cancelled.
SHOWN = (
    VisitStatus.scheduled,
    VisitStatus.dispatched,
    VisitStatus.en_route,
    VisitStatus.on_site,
    VisitStatus.completed,
    VisitStatus.failed,
)
# How far back a plan covering a day may start: plans are at most 31 days long.
PLAN_REACH = timedelta(days=31)


@dataclass
class Stop:
    """A visit on a technician's route, with the leg from the previous stop (or home)."""

    visit: Visit
    request: ServiceRequest
    site: Site
    contract: Contract
    travel_seconds: int = 0
    travel_metres: int = 0

    @property
    def late(self) -> bool:
        """Planned to start after the request's SLA deadline."""
        deadline = self.request.sla_due_at
        return deadline is not None and self.visit.planned_start > deadline  # type: ignore[operator]

    @property
    def work_minutes(self) -> int:
        """Planned time on site, in whole minutes."""
        visit = self.visit
        return int((visit.planned_end - visit.planned_start).total_seconds()) // 60  # type: ignore[operator]


@dataclass
class Route:
    """A technician's stops of a day in order, and the leg from the last stop back home."""

    technician: Technician
    stops: list[Stop]
    back_seconds: int = 0
    back_metres: int = 0

    @property
    def travel_seconds(self) -> int:
        """Home, the stops and back home."""
        return sum(x.travel_seconds for x in self.stops) + self.back_seconds

    @property
    def travel_metres(self) -> int:
        """Home, the stops and back home."""
        return sum(x.travel_metres for x in self.stops) + self.back_metres

    @property
    def work_minutes(self) -> int:
        return sum(x.work_minutes for x in self.stops)


@dataclass
class TechnicianDay:
    """A technician's route of a day with their shifts (and break windows) and whether a
    dispatcher locked the route against re-planning."""

    route: Route
    shifts: list[ShiftSpan] = field(default_factory=list)
    locked: bool = False

    @property
    def shift_minutes(self) -> int:
        """Shift time less breaks."""
        return sum(
            int((x.ends_at - x.starts_at).total_seconds()) // 60 - sum(b.minutes for b in x.breaks)
            for x in self.shifts
        )

    @property
    def utilisation(self) -> float | None:
        """Work over shift time, to three decimals; None without shift time."""
        shift = self.shift_minutes
        return round(self.route.work_minutes / shift, 3) if shift > 0 else None


def today(region: Region) -> date:
    """The local date in ``region`` now."""
    return local_day(datetime.now(UTC), region.timezone)


def routes(session: Session, *, region: Region, day: date) -> list[Route]:
    """Each technician of the region (by code; inactive ones only with stops) with their stops
    of local ``day`` as planned now (manual moves included), in order, with legs timed by the
    region's travel model from home and back home."""
    horizon = Horizon.of(day, 1, region.timezone)
    technicians = list(
        session.exec(
            select(Technician).where(Technician.region_id == region.id).order_by(Technician.code)
        )
    )
    stops: dict[int, list[Stop]] = defaultdict(list)
    for row in session.exec(
        select(Visit, ServiceRequest, Site, Contract)
        .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
        .join(Site, col(Site.id) == ServiceRequest.site_id)
        .join(Contract, col(Contract.id) == ServiceRequest.contract_id)
        .where(
            col(Visit.technician_id).in_([t.id for t in technicians]),
            col(Visit.status).in_(SHOWN),
            col(Visit.planned_start) >= horizon.origin,
            col(Visit.planned_start) < horizon.end(),
        )
        .order_by(col(Visit.planned_start), col(Visit.code))
    ):
        stops[row[0].technician_id].append(Stop(*row))  # type: ignore[index]
    travel = routing.GreatCircle(region.avg_speed_kmh, region.detour_factor)
    found = []
    for tech in technicians:
        route = Route(tech, stops[tech.id])  # type: ignore[index]
        if not tech.active and not route.stops:
            continue
        if route.stops:
            points = [routing.Location(tech.home_lat, tech.home_lon)]
            points += [routing.Location(stop.site.lat, stop.site.lon) for stop in route.stops]
            matrices = travel.matrices(points)
            for k, stop in enumerate(route.stops):
                stop.travel_seconds = int(matrices.seconds[k, k + 1])
                stop.travel_metres = int(matrices.metres[k, k + 1])
            route.back_seconds = int(matrices.seconds[len(route.stops), 0])
            route.back_metres = int(matrices.metres[len(route.stops), 0])
        found.append(route)
    return found


def technician_days(session: Session, *, region: Region, day: date) -> list[TechnicianDay]:
    """The region's local ``day`` per technician (as :func:`routes`), with the shifts the
    planner sees and their route locks."""
    found = routes(session, region=region, day=day)
    ids: list[int] = [r.technician.id for r in found]  # type: ignore[misc]
    shifts = adapter.shifts(
        session, region=region, horizon=Horizon.of(day, 1, region.timezone), technician_ids=ids
    )
    locked = set(
        session.exec(
            select(RouteLock.technician_id).where(
                col(RouteLock.technician_id).in_(ids), RouteLock.day == day
            )
        )
    )
    return [
        TechnicianDay(r, shifts[r.technician.id], r.technician.id in locked)  # type: ignore[index]
        for r in found
    ]


def latest_plan(session: Session, *, region: Region, day: date) -> Plan:
    """The region's newest plan (failed ones aside) whose days include local ``day``;
    NotFoundError naming the date when none does."""
    candidates = session.exec(
        select(Plan)
        .where(
            Plan.region_id == region.id,
            Plan.status != PlanStatus.failed,
            Plan.starts_on <= day,
            Plan.starts_on > day - PLAN_REACH,
        )
        .order_by(col(Plan.created_at).desc(), col(Plan.id).desc())
    )
    plan = next((p for p in candidates if day < p.starts_on + timedelta(days=p.days)), None)
    if plan is None:
        raise NotFoundError(
            f"no plan of region {region.code} covers {day}", field="date", value=day.isoformat()
        )
    return plan


def left_out(session: Session, *, plan: Plan) -> list[tuple[PlanUnassigned, Visit, Site]]:
    """The visits ``plan`` left unassigned, by visit code, each with why and its site."""
    return list(
        session.exec(
            select(PlanUnassigned, Visit, Site)
            .join(Visit, col(Visit.id) == PlanUnassigned.visit_id)
            .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
            .join(Site, col(Site.id) == ServiceRequest.site_id)
            .where(PlanUnassigned.plan_id == plan.id)
            .order_by(col(Visit.code))
        ).all()
    )
