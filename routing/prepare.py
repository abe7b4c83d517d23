"""The problem in the solver's terms: points and their travel matrices, one vehicle per
technician shift, effective windows, and which vehicles may take each job.

Point layout: job ``i`` is point ``i``; after the jobs come the distinct start and end places
of the vehicles (homes, or current positions when re-planning). Routing nodes are points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from routing.problem import Break, Job, Location, Problem, Shift, Technician, service_seconds
from routing.quota import QuotaTable
from routing.travel import UNREACHABLE, TravelMatrices

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One technician on one day."""

    index: int
    tech: Technician
    tech_index: int
    shift: Shift
    start_point: int
    end_point: int

    @property
    def day(self) -> int:
        return self.shift.day

    @property
    def breaks(self) -> tuple[Break, ...]:
        return tuple(sorted(self.shift.breaks, key=lambda b: (b.earliest, b.latest)))


# Why a vehicle cannot take a job at all (before any timing is considered).
SKILL, TECHNICIAN, DAY_RULE, REGION = "skill", "technician", "day", "region"


class Prepared:
    def __init__(
        self,
        problem: Problem,
        matrices: TravelMatrices | None = None,
        matrices_from: Callable[[list[Location]], TravelMatrices] | None = None,
    ) -> None:
        self.problem = problem
        self.jobs = problem.jobs
        self.job_index = {job.id: i for i, job in enumerate(problem.jobs)}
        self.tech_index = {tech.id: i for i, tech in enumerate(problem.technicians)}
        points: list[Location] = [job.location for job in problem.jobs]
        place: dict[Location, int] = {}

        def point_of(location: Location) -> int:
            if location not in place:
                place[location] = len(points)
                points.append(location)
            return place[location]

        vehicles: list[Vehicle] = []
        for t, tech in enumerate(problem.technicians):
            for shift in sorted(tech.shifts, key=lambda s: s.day):
                start = point_of(shift.start_location or tech.home)
                end = point_of(shift.end_location or tech.home)
                vehicles.append(Vehicle(len(vehicles), tech, t, shift, start, end))
        self.points = points
        self.vehicles = vehicles
        # Worker processes and parts of a split problem reuse matrices already computed.
        if matrices is None:
            matrices = (matrices_from or problem.travel.matrices)(points)
        self.matrices: TravelMatrices = matrices
        self._service: dict[tuple[int, int], int] = {}
        self._windows: dict[int, list[tuple[int, int]]] = {}

    @cached_property
    def horizon(self) -> int:
        ends = [v.shift.end for v in self.vehicles] + [
            w.end for job in self.jobs for w in job.windows
        ]
        return max([self.problem.days * DAY, *ends])

    def due_day(self, job: Job) -> int:
        return self.problem.days - 1 if job.due_day is None else job.due_day

    def windows(self, j: int) -> list[tuple[int, int]]:
        """When service of job ``j`` may start: the union of its windows (or any time), cut at
        its hard latest arrival, as sorted disjoint spans; possibly empty."""
        found = self._windows.get(j)
        if found is None:
            job = self.jobs[j]
            spans = [(w.start, w.end) for w in job.windows] or [(0, self.horizon)]
            if job.latest_arrival is not None:
                spans = [(s, min(e, job.latest_arrival)) for s, e in spans]
            found = []
            for start, end in sorted((s, e) for s, e in spans if e >= s):
                if found and start <= found[-1][1] + 1:
                    found[-1] = (found[-1][0], max(found[-1][1], end))
                else:
                    found.append((start, end))
            self._windows[j] = found
        return found

    def service(self, j: int, v: Vehicle) -> int:
        key = (j, v.tech_index)
        if key not in self._service:
            self._service[key] = service_seconds(self.problem, self.jobs[j], v.tech)
        return self._service[key]

    def refusal(self, j: int, v: Vehicle) -> str | None:
        """Why vehicle ``v`` may never take job ``j`` (None: it may, timing permitting)."""
        job, tech = self.jobs[j], v.tech
        if any(tech.skills.get(s, 0) < level for s, level in job.skills.items()):
            return SKILL
        if job.region is not None and tech.regions is not None and job.region not in tech.regions:
            return REGION
        wanted = job.started_by or job.pinned_technician
        if wanted is not None and tech.id != wanted:
            return TECHNICIAN
        if job.allowed_technicians is not None and tech.id not in job.allowed_technicians:
            return TECHNICIAN
        if tech.id in job.forbidden_technicians:
            return TECHNICIAN
        if not job.earliest_day <= v.day <= self.due_day(job):
            return DAY_RULE
        if job.pinned_day is not None and v.day != job.pinned_day:
            return DAY_RULE
        if job.started_by is not None and v.index != self.first_vehicle(v.tech_index):
            return DAY_RULE
        return None

    def first_vehicle(self, tech_index: int) -> int:
        return self._eligibility.first_vehicle[tech_index]

    @cached_property
    def quota(self) -> QuotaTable:
        return QuotaTable(self)

    @cached_property
    def _eligibility(self) -> _Eligibility:
        return _Eligibility(self)

    def qualified(self, j: int) -> list[str]:
        """Technicians who pass the skill, region and technician rules, shifts or not."""
        ok = self._eligibility.technicians(self.jobs[j])
        return [self.problem.technicians[t].id for t in np.flatnonzero(ok)]

    def masks(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised refusal: which vehicles pass the skill, region and technician rules,
        and which are on a day the job allows. Allowed = both."""
        return self._eligibility.masks(self.jobs[j], self.due_day(self.jobs[j]))

    @cached_property
    def allowed(self) -> list[list[int]]:
        found = []
        for j in range(len(self.jobs)):
            static, day = self.masks(j)
            found.append(np.flatnonzero(static & day).tolist())
        return found

    def unreachable(self, j: int) -> bool:
        """No travel to or from the job's place is possible (provider found no route)."""
        seconds = self.matrices.seconds
        others = [p for p in range(len(self.points)) if p != j]
        if not others:
            return False
        return bool(
            (seconds[j, others] >= UNREACHABLE).all() or (seconds[others, j] >= UNREACHABLE).all()
        )

    def pin(self, j: int) -> int | None:
        """The position job ``j`` must hold in its route (0 when it is under way)."""
        job = self.jobs[j]
        return 0 if job.started_by is not None else job.pinned_position

    def pinned(self, j: int) -> bool:
        job = self.jobs[j]
        return job.started_by is not None or job.pinned_technician is not None


class _Eligibility:
    """Skill levels, regions and days as arrays, so that the vehicles allowed for a job are a
    few vector operations instead of a loop over every vehicle."""

    def __init__(self, prep: Prepared) -> None:
        techs = prep.problem.technicians
        skills = sorted(
            {s for t in techs for s in t.skills} | {s for j in prep.jobs for s in j.skills}
        )
        self.column = {s: i for i, s in enumerate(skills)}
        self.levels = np.zeros((len(techs), max(1, len(skills))), dtype=np.int16)
        for t, tech in enumerate(techs):
            for skill, level in tech.skills.items():
                self.levels[t, self.column[skill]] = level
        self.tech_index = prep.tech_index
        self.regions = [tech.regions for tech in techs]
        self._region_masks: dict[str, np.ndarray] = {}
        self.vehicle_tech = np.array([v.tech_index for v in prep.vehicles], dtype=np.int64)
        self.vehicle_day = np.array([v.day for v in prep.vehicles], dtype=np.int64)
        self.first_vehicle: dict[int, int] = {}
        for v in prep.vehicles:
            self.first_vehicle.setdefault(v.tech_index, v.index)

    def region_mask(self, region: str) -> np.ndarray:
        if region not in self._region_masks:
            self._region_masks[region] = np.array(
                [r is None or region in r for r in self.regions], dtype=bool
            )
        return self._region_masks[region]

    def masks(self, job: Job, due: int) -> tuple[np.ndarray, np.ndarray]:
        static = self.technicians(job)[self.vehicle_tech]
        day = (self.vehicle_day >= job.earliest_day) & (self.vehicle_day <= due)
        if job.pinned_day is not None:
            day &= self.vehicle_day == job.pinned_day
        if job.started_by is not None and job.started_by in self.tech_index:
            first = np.zeros_like(day)
            first[self.first_vehicle.get(self.tech_index[job.started_by], 0)] = True
            day &= first
        return static, day

    def technicians(self, job: Job) -> np.ndarray:
        """Which technicians pass the skill, region and technician rules (any day)."""
        ok = np.ones(len(self.regions), dtype=bool)
        for skill, level in job.skills.items():
            ok &= self.levels[:, self.column[skill]] >= level
        if job.region is not None:
            ok &= self.region_mask(job.region)
        wanted = job.started_by or job.pinned_technician
        if wanted is not None:
            only = np.zeros_like(ok)
            only[self.tech_index[wanted]] = True
            ok &= only
        if job.allowed_technicians is not None:
            listed = np.zeros_like(ok)
            listed[
                [self.tech_index[t] for t in job.allowed_technicians if t in self.tech_index]
            ] = True
            ok &= listed
        for tech_id in job.forbidden_technicians:
            if tech_id in self.tech_index:
                ok[self.tech_index[tech_id]] = False
        return ok
