"""A region's day: technicians' routes (in force, or as a given plan placed them), shifts,
totals and locks; the latest plan covering it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

import routing
from dispatch.horizon import Horizon, shifts
from dispatch.models import (
    Contract,
    Plan,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
    Region,
    RouteLock,
    ServiceRequest,
    Site,
    Skill,
    Technician,
    Visit,
    VisitSkill,
    VisitStatus,
)
from schedules.calendars import ShiftSpan
from schedules.errors import InvalidError, NotFoundError
from schedules.models import Tier
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
    """A visit on a technician's route, with the leg from the previous stop (or home).

    The planned times live here, not on the visit: a plan not in force shows its own times,
    and writing them to the visit row would let the session flush them into the database."""

    visit: Visit
    request: ServiceRequest
    site: Site
    contract: Contract
    planned_start: datetime
    planned_end: datetime
    travel_seconds: int = 0
    travel_metres: int = 0
    # Skill code -> minimum level the visit needs.
    skills: dict[str, int] = field(default_factory=dict)

    @property
    def late(self) -> bool:
        """Planned to start after the request's SLA deadline."""
        deadline = self.request.sla_due_at
        return deadline is not None and self.planned_start > deadline

    @property
    def work_minutes(self) -> int:
        """Planned time on site, in whole minutes."""
        return int((self.planned_end - self.planned_start).total_seconds()) // 60


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


def routes(session: Session, *, region: Region, day: date, plan: Plan | None = None) -> list[Route]:
    """Each technician of the region (by code; inactive ones only with stops) with their stops
    of local ``day`` in order, with legs timed home to home. Without ``plan``: the routes in
    force (manual moves included), legs by the region's travel model; with it: the stops as
    that plan placed them (check it with :func:`plan_of_day`), legs as the plan timed them and
    the way back home by the travel model. Visits' status and details are always current."""
    technicians = list(
        session.exec(
            select(Technician).where(Technician.region_id == region.id).order_by(Technician.code)
        )
    )
    ids: list[int] = [t.id for t in technicians]  # type: ignore[misc]
    if plan is None:
        stops = _stops_in_force(session, region=region, day=day, technician_ids=ids)
    else:
        stops = _stops_of_plan(session, plan=plan, day=day, technician_ids=ids)
    _add_skills(session, [stop for found in stops.values() for stop in found])
    travel = routing.GreatCircle(region.avg_speed_kmh, region.detour_factor)
    found = []
    for tech in technicians:
        route = Route(tech, stops[tech.id])  # type: ignore[index]
        if not tech.active and not route.stops:
            continue
        if route.stops:
            _time_legs(route, travel, timed=plan is not None)
        found.append(route)
    return found


def _stops_in_force(
    session: Session, *, region: Region, day: date, technician_ids: list[int]
) -> dict[int, list[Stop]]:
    horizon = Horizon.of(day, 1, region.timezone)
    stops: dict[int, list[Stop]] = defaultdict(list)
    for visit, request, site, contract in session.exec(
        select(Visit, ServiceRequest, Site, Contract)
        .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
        .join(Site, col(Site.id) == ServiceRequest.site_id)
        .join(Contract, col(Contract.id) == ServiceRequest.contract_id)
        .where(
            col(Visit.technician_id).in_(technician_ids),
            col(Visit.status).in_(SHOWN),
            col(Visit.planned_start) >= horizon.origin,
            col(Visit.planned_start) < horizon.end(),
        )
        .order_by(col(Visit.planned_start), col(Visit.code))
    ):
        stops[visit.technician_id].append(  # type: ignore[index]
            Stop(visit, request, site, contract, visit.planned_start, visit.planned_end)  # type: ignore[arg-type]
        )
    return stops


def _stops_of_plan(
    session: Session, *, plan: Plan, day: date, technician_ids: list[int]
) -> dict[int, list[Stop]]:
    stops: dict[int, list[Stop]] = defaultdict(list)
    for placed, visit, request, site, contract in session.exec(
        select(PlanStop, Visit, ServiceRequest, Site, Contract)
        .join(Visit, col(Visit.id) == PlanStop.visit_id)
        .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
        .join(Site, col(Site.id) == ServiceRequest.site_id)
        .join(Contract, col(Contract.id) == ServiceRequest.contract_id)
        .where(
            PlanStop.plan_id == plan.id,
            PlanStop.day == day,
            col(PlanStop.technician_id).in_(technician_ids),
        )
        .order_by(col(PlanStop.technician_id), col(PlanStop.sequence))
    ):
        stops[placed.technician_id].append(
            Stop(
                visit,
                request,
                site,
                contract,
                placed.start_at,
                placed.end_at,
                placed.travel_seconds,
                placed.travel_metres,
            )
        )
    return stops


def _add_skills(session: Session, stops: list[Stop]) -> None:
    """Each stop's required skills, in one query for all of them."""
    by_visit = {stop.visit.id: stop for stop in stops}
    if not by_visit:
        return
    for visit_id, code, level in session.exec(
        select(VisitSkill.visit_id, Skill.code, VisitSkill.min_level)
        .join(Skill, col(Skill.id) == VisitSkill.skill_id)
        .where(col(VisitSkill.visit_id).in_(list(by_visit)))
        .order_by(col(Skill.code))
    ):
        by_visit[visit_id].skills[code] = level


def _time_legs(route: Route, travel: routing.GreatCircle, *, timed: bool) -> None:
    """The legs home to home; ``timed``: the stops' legs are set, only the way back is not."""
    tech = route.technician
    home = routing.Location(tech.home_lat, tech.home_lon)
    sites = [routing.Location(stop.site.lat, stop.site.lon) for stop in route.stops]
    if timed:
        matrices = travel.matrices([sites[-1], home])
        route.back_seconds = int(matrices.seconds[0, 1])
        route.back_metres = int(matrices.metres[0, 1])
        return
    matrices = travel.matrices([home, *sites])
    for k, stop in enumerate(route.stops):
        stop.travel_seconds = int(matrices.seconds[k, k + 1])
        stop.travel_metres = int(matrices.metres[k, k + 1])
    route.back_seconds = int(matrices.seconds[len(sites), 0])
    route.back_metres = int(matrices.metres[len(sites), 0])


def technician_days(
    session: Session, *, region: Region, day: date, plan: Plan | None = None
) -> list[TechnicianDay]:
    """The region's local ``day`` per technician (as :func:`routes`), with the shifts the
    planner sees and their route locks."""
    found = routes(session, region=region, day=day, plan=plan)
    ids: list[int] = [r.technician.id for r in found]  # type: ignore[misc]
    spans = shifts(
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
        TechnicianDay(r, spans[r.technician.id], r.technician.id in locked)  # type: ignore[index]
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


def plan_of_day(session: Session, *, region: Region, day: date, plan_id: int) -> Plan:
    """Plan ``plan_id`` when it is one of the region's, covers local ``day`` and did not
    fail: NotFoundError naming the plan otherwise, InvalidError naming the date or plan."""
    plan = session.get(Plan, plan_id)
    if plan is None or plan.region_id != region.id:
        raise NotFoundError(
            f"region {region.code} has no plan {plan_id}", field="plan", value=plan_id
        )
    if plan.status is PlanStatus.failed:
        raise InvalidError(f"plan {plan_id} failed: it placed nothing", field="plan", value=plan_id)
    last = plan.starts_on + timedelta(days=plan.days - 1)
    if not plan.starts_on <= day <= last:
        raise InvalidError(
            f"plan {plan_id} covers {plan.starts_on} to {last}, not {day}",
            field="date",
            value=day.isoformat(),
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


def tiers(session: Session, *, visit_ids: list[int]) -> dict[int, Tier]:
    """The contract tier of each visit, in one query."""
    if not visit_ids:
        return {}
    return dict(
        session.exec(
            select(Visit.id, Contract.tier)
            .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
            .join(Contract, col(Contract.id) == ServiceRequest.contract_id)
            .where(col(Visit.id).in_(visit_ids))
        ).all()
    )
